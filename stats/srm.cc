#include "stats/srm.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "stats/boost_math.h"

namespace abrec::stats {

SrmBuckets PrepareSrmBuckets(std::span<const std::int64_t> counts,
                             std::span<const double> weights) {
  SrmBuckets b;
  bool valid = counts.size() == weights.size();
  double weight_sum = 0;
  for (std::size_t i = 0; valid && i < counts.size(); ++i) {
    valid = weights[i] >= 0 && std::isfinite(weights[i]) && counts[i] >= 0;
    weight_sum += weights[i];
  }
  if (!valid || !(weight_sum > 0)) {
    b.reason = Reason::kInvalidInput;
    return b;
  }
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (weights[i] > 0) {
      b.counts.push_back(counts[i]);
      b.shares.push_back(weights[i] / weight_sum);
      b.total += counts[i];
    } else if (counts[i] > 0 && !b.unexpected_bucket) {
      b.unexpected_bucket = i;
    }
  }
  if (b.counts.size() < 2 && !b.unexpected_bucket) {
    b = SrmBuckets{};
    b.reason = Reason::kInvalidInput;
  }
  return b;
}

SrmResult SampleRatioTest(std::span<const std::int64_t> counts, std::span<const double> weights,
                          double threshold, std::int64_t min_total) {
  SrmResult r;
  const SrmBuckets b = PrepareSrmBuckets(counts, weights);
  r.reason = b.reason;
  if (b.reason != Reason::kOk) return r;
  r.df = b.counts.empty() ? 0 : static_cast<double>(b.counts.size() - 1);
  if (b.unexpected_bucket) {
    r.unexpected_bucket = b.unexpected_bucket;
    r.chi_squared = std::numeric_limits<double>::infinity();
    r.p_value = 0;
    r.mismatch = true;
    return r;
  }
  if (b.total < std::max<std::int64_t>(min_total, 1)) {
    r.reason = Reason::kTooFewUnits;
    return r;
  }
  for (std::size_t i = 0; i < b.counts.size(); ++i) {
    const double expected = static_cast<double>(b.total) * b.shares[i];
    const double d = static_cast<double>(b.counts[i]) - expected;
    r.chi_squared += d * d / expected;
  }
  r.p_value = ChiSquaredUpperTail(r.df, r.chi_squared);
  r.mismatch = r.p_value < threshold;
  return r;
}

}  // namespace abrec::stats
