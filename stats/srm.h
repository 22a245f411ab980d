// Sample ratio mismatch: Pearson's χ² of the observed bucket sizes against the weights the
// assignment promises (DESIGN.md: holdout 0.05, exploration 0.05, variant i 0.90·wᵢ), df =
// buckets − 1. A mismatch means the assignment or the logging is broken, and no lift can be
// trusted. A χ² test is valid at one look; for a report watched continuously see
// stats/srm_sequential.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "stats/result.h"

namespace abrec::stats {

// The buckets both sample ratio tests compare (SampleRatioTest here and
// SequentialSampleRatioTest): those of weight > 0, with their weights normalised to shares.
// A bucket of weight 0 is one the assignment sends nobody to: if it holds users, that alone
// is a mismatch, whatever their number, and it is named in `unexpected_bucket`; if it holds
// none, it is left out (it adds nothing to either test, nor a degree of freedom).
struct SrmBuckets {
  // kInvalidInput: counts and weights differ in size, a weight is negative or not finite, a
  // count is negative, or fewer than two buckets have weight > 0 and none holds unexpected
  // users. The fields below are then empty.
  Reason reason = Reason::kOk;
  std::vector<std::int64_t> counts;  // the buckets of weight > 0, in the caller's order
  std::vector<double> shares;        // their weights over the weights' sum
  std::int64_t total = 0;            // users in those buckets
  // The first bucket (the caller's index) of weight 0 that holds users.
  std::optional<std::size_t> unexpected_bucket;
};

SrmBuckets PrepareSrmBuckets(std::span<const std::int64_t> counts, std::span<const double> weights);

struct SrmResult {
  // kTooFewUnits below min_total users (unless a bucket holds unexpected users);
  // kInvalidInput as in SrmBuckets.
  Reason reason = Reason::kOk;
  double chi_squared = 0;  // +inf with unexpected users
  double df = 0;           // buckets of weight > 0, less one
  double p_value = 1;      // 0 with unexpected users
  bool mismatch = false;   // p_value < threshold, or unexpected users
  // A bucket of weight 0 that holds users (the caller's index): the mismatch's reason, with
  // no statistics needed.
  std::optional<std::size_t> unexpected_bucket;
};

// `counts[i]` users observed in bucket i, `weights[i]` its expected share (normalised here;
// weights ≥ 0, see SrmBuckets for weight 0). Silent (kTooFewUnits, no mismatch) until
// `min_total` users, except that users in a bucket of weight 0 are a mismatch at once. Valid
// at a single look: looked at daily, its false alarms add up (SequentialSampleRatioTest does
// not). Thread-safe.
SrmResult SampleRatioTest(std::span<const std::int64_t> counts, std::span<const double> weights,
                          double threshold = 0.001, std::int64_t min_total = 1'000);

}  // namespace abrec::stats
