// Sample ratio mismatch: Pearson's χ² of the observed bucket sizes against the weights the
// assignment promises (DESIGN.md: holdout 0.05, exploration 0.05, variant i 0.90·wᵢ), df =
// buckets − 1. A mismatch means the assignment or the logging is broken, and no lift can be
// trusted.
#pragma once

#include <cstdint>
#include <span>

#include "stats/result.h"

namespace abrec::stats {

struct SrmResult {
  Reason reason = Reason::kOk;  // kTooFewUnits below min_total users
  double chi_squared = 0;
  double df = 0;
  double p_value = 1;
  bool mismatch = false;  // p_value < threshold
};

// `counts[i]` users observed in bucket i, `weights[i]` its expected share (normalised here;
// every weight must be > 0). Silent (kTooFewUnits, no mismatch) until `min_total` users.
SrmResult SampleRatioTest(std::span<const std::int64_t> counts, std::span<const double> weights,
                          double threshold = 0.001, std::int64_t min_total = 1'000);

}  // namespace abrec::stats
