// Drift of a categorical distribution (which products are recommended) against a reference
// window: the population stability index and Pearson's χ² test of homogeneity.
// PSI = Σ (qᵢ − pᵢ) ln(qᵢ/pᵢ), shares floored at `floor` so that a product absent from one
// window does not make it infinite; the usual reading is > 0.1 watch, > 0.25 alert.
#pragma once

#include <cstdint>
#include <span>

#include "stats/result.h"

namespace abrec::stats {

struct DriftResult {
  Reason reason = Reason::kOk;  // kTooFewUnits: a window is empty
  double psi = 0;
  double chi_squared = 0;  // 2 × k contingency table, categories empty in both windows skipped
  double df = 0;
  double p_value = 1;
};

// `reference[i]` and `current[i]`: counts of category i in each window.
DriftResult Drift(std::span<const std::int64_t> reference, std::span<const std::int64_t> current,
                  double floor = 1e-4);

// PSI thresholds: "watch" above 0.1, "alert" above 0.25.
inline constexpr double kPsiWatch = 0.1;
inline constexpr double kPsiAlert = 0.25;

}  // namespace abrec::stats
