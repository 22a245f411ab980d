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
#include "stats/srm_sequential.h"

namespace abrec::sim {
namespace {

// `users` more users split over `weights` (a multinomial draw, as successive binomials);
// the last bucket loses `loss` of its share, as a logging bug would.
void AddUsers(std::mt19937_64& rng, const std::array<double, 4>& weights, std::int64_t users,
              double loss, std::array<std::int64_t, 4>& counts) {
  double share_left = 1;
  for (std::size_t b = 0; b < 3; ++b) {
    const std::int64_t n = std::binomial_distribution<std::int64_t>(
        users, std::min(1.0, weights[b] / share_left))(rng);
    counts[b] += n;
    users -= n;
    share_left -= weights[b];
  }
  if (loss > 0) users -= std::binomial_distribution<std::int64_t>(users, loss)(rng);
  counts[3] += users;
}

// The median of `v` (the upper one of an even count); 0 when empty.
double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

}  // namespace

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
  const stats::SequentialSrmOptions so{o.concentration, o.threshold};
  const int looks = std::max(1, o.looks);
  for (const std::int64_t total : o.totals) {
    SrmRow row;
    row.total = total;
    row.closed_form = bm::cdf(bm::complement(bm::non_central_chi_squared_distribution<double>(
                                                 3, lambda_per_user * static_cast<double>(total)),
                                             critical));
    // [lossy][0: χ² at the end, 1: χ² at some look, 2: sequential at some look]
    std::array<std::array<int, 3>, 2> alarms{};
    std::vector<double> detected_at;
    for (int s = 0; s < o.simulations; ++s) {
      for (const bool lossy : {true, false}) {
        std::array<std::int64_t, 4> counts{};
        std::array<bool, 3> alarm{};
        for (int look = 1; look <= looks; ++look) {
          AddUsers(rng, weights, total * look / looks - total * (look - 1) / looks,
                   lossy ? o.loss : 0, counts);
          alarm[0] = stats::SampleRatioTest(counts, weights, o.threshold, 0).mismatch;
          alarm[1] = alarm[1] || alarm[0];
          if (!alarm[2] && stats::SequentialSampleRatioTest(counts, weights, so).mismatch) {
            alarm[2] = true;
            if (lossy) detected_at.push_back(static_cast<double>(look) / looks);
          }
        }
        for (std::size_t t = 0; t < 3; ++t) alarms[lossy ? 1 : 0][t] += alarm[t] ? 1 : 0;
      }
    }
    const auto rate = [&](int n) { return static_cast<double>(n) / o.simulations; };
    row.detected = rate(alarms[1][0]);
    row.false_alarm = rate(alarms[0][0]);
    row.detected_peeking = rate(alarms[1][1]);
    row.false_alarm_peeking = rate(alarms[0][1]);
    row.detected_sequential = rate(alarms[1][2]);
    row.false_alarm_sequential = rate(alarms[0][2]);
    row.sequential_median_fraction = Median(std::move(detected_at));
    rows.push_back(row);
  }
  return rows;
}

}  // namespace abrec::sim
