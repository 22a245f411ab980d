#include "stats/srm.h"

#include <limits>
#include <numeric>

#include "stats/boost_math.h"

namespace abrec::stats {

SrmResult SampleRatioTest(std::span<const std::int64_t> counts, std::span<const double> weights,
                          double threshold, std::int64_t min_total) {
  SrmResult r;
  const std::int64_t total = std::accumulate(counts.begin(), counts.end(), std::int64_t{0});
  const double weight_sum = std::accumulate(weights.begin(), weights.end(), 0.0);
  if (counts.size() < 2 || counts.size() != weights.size() || total < min_total ||
      !(weight_sum > 0)) {
    r.reason = Reason::kTooFewUnits;
    return r;
  }
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (!(weights[i] > 0)) {
      // Users in a bucket that should get none: a mismatch whatever the rest says.
      if (counts[i] > 0) {
        r.chi_squared = std::numeric_limits<double>::infinity();
        r.df = static_cast<double>(counts.size() - 1);
        r.p_value = 0;
        r.mismatch = true;
        return r;
      }
      continue;  // an empty bucket nobody is sent to adds nothing
    }
    const double expected = static_cast<double>(total) * weights[i] / weight_sum;
    const double d = static_cast<double>(counts[i]) - expected;
    r.chi_squared += d * d / expected;
  }
  r.df = static_cast<double>(counts.size() - 1);
  r.p_value = ChiSquaredUpperTail(r.df, r.chi_squared);
  r.mismatch = r.p_value < threshold;
  return r;
}

}  // namespace abrec::stats
