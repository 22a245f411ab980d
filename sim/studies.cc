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

double BinomialSe(double rate, int n) { return std::sqrt(rate * (1 - rate) / n); }

// One experiment's running totals: users and binders per arm.
struct Arms {
  std::int64_t users_c = 0, users_t = 0, binders_c = 0, binders_t = 0;

  void AddBatch(std::mt19937_64& rng, std::int64_t users, double rate_c, double rate_t) {
    std::binomial_distribution<std::int64_t> split(users, 0.5);
    const std::int64_t to_c = split(rng), to_t = users - to_c;
    users_c += to_c;
    users_t += to_t;
    binders_c += std::binomial_distribution<std::int64_t>(to_c, rate_c)(rng);
    binders_t += std::binomial_distribution<std::int64_t>(to_t, rate_t)(rng);
  }
  stats::Comparison Compare(double alpha) const {
    return stats::CompareProportions(binders_c, users_c, binders_t, users_t, alpha);
  }
  stats::SequentialResult Sequential(const stats::Comparison& c,
                                     const stats::SequentialOptions& o) const {
    return stats::SequentialTest(c.absolute.estimate, c.absolute.se, users_c + users_t, o);
  }
};

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

AaResult RunAa(const AaOptions& o) {
  std::mt19937_64 rng(o.seed);
  const stats::SequentialOptions so{o.alpha, o.n_star, stats::Sided::kTwo};
  int sequential = 0, peeking = 0, final_only = 0;
  for (int s = 0; s < o.simulations; ++s) {
    Arms arms;
    bool seq_rejected = false, fixed_rejected = false;
    stats::Comparison last;
    for (int look = 0; look < o.looks; ++look) {
      arms.AddBatch(rng, o.users_per_look, o.base_rate, o.base_rate);
      last = arms.Compare(o.alpha);
      if (last.reason != stats::Reason::kOk) continue;
      if (last.p_value <= o.alpha) fixed_rejected = true;
      if (arms.Sequential(last, so).p_value <= o.alpha) seq_rejected = true;
    }
    sequential += seq_rejected ? 1 : 0;
    peeking += fixed_rejected ? 1 : 0;
    final_only += last.reason == stats::Reason::kOk && last.p_value <= o.alpha ? 1 : 0;
  }
  AaResult r;
  r.simulations = o.simulations;
  r.looks = o.looks;
  r.alpha = o.alpha;
  r.fpr_sequential = static_cast<double>(sequential) / o.simulations;
  r.fpr_sequential_se = BinomialSe(r.fpr_sequential, o.simulations);
  r.fpr_fixed_peeking = static_cast<double>(peeking) / o.simulations;
  r.fpr_fixed_final = static_cast<double>(final_only) / o.simulations;
  return r;
}

std::vector<PowerRow> RunPower(const PowerOptions& o) {
  std::int64_t n = o.users_per_arm;
  if (n <= 0) {
    stats::PowerInput in;
    in.baseline = o.base_rate;
    in.mde = 0.05;
    in.alpha = o.alpha;
    n = static_cast<std::int64_t>(stats::UsersPerArm(in).fixed_per_arm);
  }
  const stats::SequentialOptions so{o.alpha, o.n_star, stats::Sided::kTwo};
  const std::int64_t per_look = std::max<std::int64_t>(2, 2 * n / o.looks);
  std::vector<PowerRow> rows;
  std::mt19937_64 rng(o.seed);
  for (const double lift : o.lifts) {
    PowerRow row;
    row.lift = lift;
    row.users_per_arm = n;
    const double pc = o.base_rate, pt = o.base_rate * (1 + lift);
    // Closed form of the pooled z test's power (normal approximation): the test divides by
    // the pooled standard error se0, the estimate varies with the unpooled se1.
    const double nd = static_cast<double>(n), pbar = (pc + pt) / 2;
    const double se0 = std::sqrt(2 * pbar * (1 - pbar) / nd);
    const double se1 = std::sqrt((pc * (1 - pc) + pt * (1 - pt)) / nd);
    const double z = stats::NormalQuantile(o.alpha);
    auto phi = [](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); };
    row.closed_form = phi((pt - pc - z * se0) / se1) + phi((pc - pt - z * se0) / se1);
    int fixed = 0, sequential = 0;
    std::vector<double> detected_at;
    for (int s = 0; s < o.simulations; ++s) {
      Arms arms;
      bool seq_done = false;
      while (arms.users_c + arms.users_t < 2 * n) {
        arms.AddBatch(rng, std::min(per_look, 2 * n - arms.users_c - arms.users_t), pc, pt);
        const stats::Comparison c = arms.Compare(o.alpha);
        if (!seq_done && c.reason == stats::Reason::kOk && arms.Sequential(c, so).ci.low > 0) {
          seq_done = true;
          detected_at.push_back(static_cast<double>(arms.users_c + arms.users_t) /
                                static_cast<double>(2 * n));
        }
      }
      const stats::Comparison final_c = arms.Compare(o.alpha);
      fixed += final_c.p_value <= o.alpha ? 1 : 0;
      sequential += seq_done ? 1 : 0;
    }
    row.fixed = static_cast<double>(fixed) / o.simulations;
    row.fixed_se = BinomialSe(row.fixed, o.simulations);
    row.sequential = static_cast<double>(sequential) / o.simulations;
    row.sequential_se = BinomialSe(row.sequential, o.simulations);
    row.median_look_fraction = Median(std::move(detected_at));
    rows.push_back(row);
  }
  return rows;
}

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
