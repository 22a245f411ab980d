// Adjusted p-values across a family of tests (the secondary metrics), in the input order:
// Holm's step-down (family-wise error) and Benjamini-Hochberg's step-up (false discovery
// rate). Formulas: ../shared/STATS-NOTES.md ("Health and corrections").
#pragma once

#include <span>
#include <vector>

namespace abrec::stats {

std::vector<double> HolmAdjusted(std::span<const double> p);
std::vector<double> BenjaminiHochbergAdjusted(std::span<const double> p);

}  // namespace abrec::stats
