// Demographic parity of recommendations across the groups of a protected attribute (sex, age
// band, region): for one product, the share of each group's users to whom it was
// recommended; the largest gap and the min/max ratio (the "four-fifths" rule reads a ratio
// below 0.8), with Pearson's χ² test of independence of group and recommendation.
#pragma once

#include <cstdint>
#include <span>

#include "stats/result.h"

namespace abrec::stats {

struct GroupCount {
  std::int64_t users = 0;        // users of the group who were shown recommendations
  std::int64_t recommended = 0;  // of them, those shown the product
};

struct ParityResult {
  Reason reason = Reason::kOk;  // kTooFewUnits: fewer than two groups with users
  double min_rate = 0;
  double max_rate = 0;
  double gap = 0;    // max_rate − min_rate
  double ratio = 1;  // min_rate / max_rate (1 when no group was shown the product)
  double chi_squared = 0;
  double df = 0;
  double p_value = 1;
};

ParityResult DemographicParity(std::span<const GroupCount> groups);

// The deployment gate's question for one product and attribute: is the candidate model
// further from parity than the baseline by more than `margin` (absolute, in rate)?
inline bool FurtherFromParity(const ParityResult& candidate, const ParityResult& baseline,
                              double margin) {
  return candidate.reason == Reason::kOk && baseline.reason == Reason::kOk &&
         candidate.gap > baseline.gap + margin;
}

}  // namespace abrec::stats
