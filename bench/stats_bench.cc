// The statistics of one experiment from its aggregates: time per metric comparison (fixed
// horizon, relative lift, sequential; CUPED for premium) and for the full set of one
// experiment (4 metrics treatment against control, bind-rate uplift of both arms against the
// holdout, SRM over the four buckets, Holm and BH over the secondary metrics). Target:
// well under 1 ms per metric (issue 4). The reference, run by bench/stats_reference.py in
// the same `make bench`: the same tests with scipy and statsmodels.
//
// usage: stats_bench [--reps R]   (default 200,000 per measurement)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "analysis/effect_figures.h"
#include "analysis/experiment_monitor.h"
#include "analysis/metric_analysis.h"
#include "stats/multiple_testing.h"
#include "stats/srm.h"

namespace {

using abrec::BucketTotals;
using abrec::Metric;

// A bucket of `n` simulated users, summed as the store sums them.
BucketTotals Bucket(std::uint64_t seed, int n, double bind_rate) {
  std::mt19937_64 rng(seed);
  std::poisson_distribution<int> impressions(6), clicks(0.5);
  std::bernoulli_distribution binds(bind_rate), has_x(0.7);
  std::lognormal_distribution<double> premium(11, 0.7);
  BucketTotals t;
  for (int i = 0; i < n; ++i) {
    abrec::UserTotals u;
    u.exposures = 1;
    u.impressions = impressions(rng);
    u.clicks = std::min<std::int64_t>(u.impressions, clicks(rng));
    u.binds = binds(rng) ? 1 : 0;
    u.premium_cents = u.binds ? static_cast<std::int64_t>(premium(rng)) : 0;
    u.has_covariates = has_x(rng);
    u.premium_before_cents = static_cast<std::int64_t>(premium(rng));
    t.Apply(u, +1);
  }
  return t;
}

volatile double sink = 0;

template <typename F>
double NanosPerCall(int reps, F&& f) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) sink = sink + f();
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
             .count() /
         reps;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 200'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--reps") reps = std::atoi(argv[i + 1]);
  }
  const BucketTotals control = Bucket(1, 90'000, 0.040), treatment = Bucket(2, 90'000, 0.042),
                     holdout = Bucket(3, 10'000, 0.035), exploration = Bucket(4, 10'000, 0.03);
  const abrec::AnalysisSpec analysis;
  std::printf(
      "stats_bench: one experiment's aggregates (buckets of 90,000 / 90,000 / 10,000 / "
      "10,000 users), %d repetitions per row\n",
      reps);
  std::printf("%-60s %12s\n", "computation", "ns per call");
  for (const Metric m :
       {Metric::kBindRate, Metric::kBindsPerUser, Metric::kPremiumPerUser, Metric::kClickRate}) {
    const double ns = NanosPerCall(reps, [&] {
      const auto r = abrec::CompareMetric(m, control, treatment, analysis);
      return r.fixed.p_value +
             abrec::SequentialLook(r, analysis.alpha, analysis.tuning_n).relative.ci.low;
    });
    std::printf(
        "%-60s %12.0f\n",
        ("metric " + std::string(abrec::MetricName(m)) +
         (m == Metric::kPremiumPerUser ? " (with CUPED)" : "") + ": fixed, relative, sequential")
            .c_str(),
        ns);
  }
  const std::vector<std::int64_t> counts{
      static_cast<std::int64_t>(holdout.users), static_cast<std::int64_t>(exploration.users),
      static_cast<std::int64_t>(control.users), static_cast<std::int64_t>(treatment.users)};
  const std::vector<double> weights{0.05, 0.05, 0.45, 0.45};
  std::printf("%-60s %12.0f\n", "SRM over 4 buckets", NanosPerCall(reps, [&] {
                return abrec::stats::SampleRatioTest(counts, weights).p_value;
              }));
  const double full = NanosPerCall(reps / 4, [&] {
    double s = 0;
    std::vector<double> secondary;
    for (const Metric m :
         {Metric::kBindRate, Metric::kBindsPerUser, Metric::kPremiumPerUser, Metric::kClickRate}) {
      const auto r = abrec::CompareMetric(m, control, treatment, analysis);
      if (m != Metric::kBindRate) secondary.push_back(r.fixed.p_value);
      s += abrec::SequentialLook(r, analysis.alpha, analysis.tuning_n).absolute.p_value;
    }
    for (const BucketTotals* arm : {&control, &treatment}) {
      const auto u = abrec::CompareMetric(Metric::kBindRate, holdout, *arm, analysis);
      s += abrec::SequentialLook(u, analysis.alpha, analysis.tuning_n).absolute.p_value;
    }
    s += abrec::stats::SampleRatioTest(counts, weights).p_value;
    s += abrec::stats::HolmAdjusted(secondary)[0] +
         abrec::stats::BenjaminiHochbergAdjusted(secondary)[0];
    return s;
  });
  std::printf("%-60s %12.0f\n", "full set: 4 metrics, 2 uplifts, SRM, Holm + BH", full);
  // One look of the decision path (what the report runs per day of history and `abrec
  // simulate` per look): every metric of the experiment, guardrails, click-bait, SRM, the
  // decision in words.
  abrec::Experiment e;
  e.key = "bench";
  e.phase = abrec::Phase::kAbTest;
  e.variants = {{"control", abrec::Policy::kLegacyRules, "", 0.5},
                {"treatment", abrec::Policy::kRecommender, "hybrid", 0.5}};
  e.metrics.primary = "bind_rate";
  e.metrics.secondary = {"click_rate", "premium_per_user"};
  abrec::Guardrail g;
  g.metric = "bind_rate";
  g.min_relative_change = -0.02;
  e.metrics.guardrails = {g};
  const abrec::BucketTotalsMap totals{{"holdout", holdout},
                                      {"exploration", exploration},
                                      {"control", control},
                                      {"treatment", treatment}};
  abrec::ExperimentMonitor monitor(e, {});
  std::printf("%-60s %12.0f\n", "decision path, one look (monitor: metrics, guardrails, SRM)",
              NanosPerCall(reps / 20, [&] {
                return static_cast<double>(monitor.Look(totals).reasons.size());
              }));
  std::printf("target: well under 1 ms (1,000,000 ns) per metric: %s\n",
              full / 6 < 1e6 ? "met" : "MISSED");
  return 0;
}
