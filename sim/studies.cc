#include "sim/studies.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <random>

#include "stats/boost_math.h"
#include "stats/fixed_horizon.h"
#include "stats/power.h"
#include "stats/sequential.h"
#include "stats/srm.h"

namespace abrec::sim {

std::vector<SrmRow> RunSrm(const SrmOptions& o) {
  std::mt19937_64 rng(o.seed);
  const std::array<double, 4> weights{0.05, 0.05, 0.45, 0.45};  // holdout, exploration, arms
  std::vector<SrmRow> rows;
  // With the loss, the treatment's share becomes 0.45(1 − l)/(1 − 0.45 l) and the others
  // grow by 1/(1 − 0.45 l); Pearson's χ² is then non-central with λ = N Σ (π'ᵢ − πᵢ)²/πᵢ.
  const double kept = 1 - weights[3] * o.loss;
  double lambda_per_user = 0;
  for (std::size_t b = 0; b < 4; ++b) {
    const double shifted = (b == 3 ? weights[b] * (1 - o.loss) : weights[b]) / kept;
    lambda_per_user += (shifted - weights[b]) * (shifted - weights[b]) / weights[b];
  }
  namespace bm = boost::math;
  const double critical =
      bm::quantile(bm::complement(bm::chi_squared_distribution<double>(3), o.threshold));
  for (const std::int64_t total : o.totals) {
    SrmRow row;
    row.total = total;
    row.closed_form = bm::cdf(bm::complement(bm::non_central_chi_squared_distribution<double>(
                                                 3, lambda_per_user * static_cast<double>(total)),
                                             critical));
    int detected = 0, false_alarms = 0;
    for (int s = 0; s < o.simulations; ++s) {
      for (const bool lossy : {true, false}) {
        // Multinomial draw as successive binomials.
        std::array<std::int64_t, 4> counts{};
        std::int64_t left = total;
        double share_left = 1;
        for (std::size_t b = 0; b < 3; ++b) {
          counts[b] = std::binomial_distribution<std::int64_t>(left, weights[b] / share_left)(rng);
          left -= counts[b];
          share_left -= weights[b];
        }
        counts[3] = left;
        if (lossy) counts[3] -= std::binomial_distribution<std::int64_t>(counts[3], o.loss)(rng);
        const stats::SrmResult r = stats::SampleRatioTest(counts, weights, o.threshold, 0);
        (lossy ? detected : false_alarms) += r.mismatch ? 1 : 0;
      }
    }
    row.detected = static_cast<double>(detected) / o.simulations;
    row.false_alarm = static_cast<double>(false_alarms) / o.simulations;
    rows.push_back(row);
  }
  return rows;
}

}  // namespace abrec::sim
