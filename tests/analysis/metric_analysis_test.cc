#include "analysis/metric_analysis.h"

#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "experiments/vocabulary.h"
#include "stats/fixed_horizon.h"
#include "stats/ratio_metric.h"

namespace abrec {
namespace {

// A bucket of simulated users, accumulated as the store does (BucketTotals::Apply), and the
// same users' values kept for direct use of the stats engine.
struct Bucket {
  BucketTotals totals;
  stats::Moments binds, premium, revenue;
  Int128 sx = 0, sxx = 0, sy = 0, syy = 0, sxy = 0;  // impressions (x), clicks (y)
  std::int64_t users = 0, binders = 0;

  void Add(const UserTotals& u) {
    totals.Apply(u, +1);
    ++users;
    binders += u.binds > 0 ? 1 : 0;
    binds += stats::Moments{1, static_cast<long double>(u.binds), 0};
    premium += stats::Moments{1, static_cast<long double>(u.premium_cents) / 100, 0};
    revenue += stats::Moments{1, static_cast<long double>(u.revenue_cents) / 100, 0};
    sx += u.impressions, sxx += Int128{u.impressions} * u.impressions;
    sy += u.clicks, syy += Int128{u.clicks} * u.clicks, sxy += Int128{u.clicks} * u.impressions;
  }
};

Bucket Simulate(std::uint64_t seed, double bind_rate, bool covariates) {
  std::mt19937_64 rng(seed);
  std::poisson_distribution<int> impressions(6), clicks(0.5);
  std::bernoulli_distribution binds(bind_rate);
  std::lognormal_distribution<double> premium(11, 0.7);
  Bucket b;
  for (int i = 0; i < 3000; ++i) {
    UserTotals u;
    u.exposures = 1;
    u.impressions = impressions(rng);
    u.clicks = std::min<std::int64_t>(u.impressions, clicks(rng));
    u.binds = binds(rng) ? 1 : 0;
    const auto before = static_cast<std::int64_t>(premium(rng));
    u.premium_cents =
        u.binds ? static_cast<std::int64_t>(0.5 * static_cast<double>(before)) + 10'000 : 0;
    // Revenue: a 15% margin, except for one bind in ten, of a product the catalog does not
    // price.
    if (u.binds && i % 10 == 0) {
      u.unpriced_binds = 1;
    } else {
      u.revenue_cents = std::llround(0.15 * static_cast<double>(u.premium_cents));
    }
    u.has_covariates = covariates;
    u.premium_before_cents = before;
    b.Add(u);
  }
  return b;
}

}  // namespace

TEST_CASE("metrics from bucket sums equal the stats engine on the users' values") {
  const Bucket c = Simulate(1, 0.05, true), t = Simulate(2, 0.06, true);
  const AnalysisSpec analysis;
  const auto bind = CompareMetric(Metric::kBindRate, c.totals, t.totals, analysis);
  const auto direct = stats::CompareProportions(c.binders, c.users, t.binders, t.users);
  CHECK(bind.fixed.p_value == doctest::Approx(direct.p_value).epsilon(1e-12));
  // What the decision reads: each arm's rate and its Wald variance (statsmodels'
  // confint_proportions_2indep "wald" uses the same), adjusted on the covariates.
  CHECK(bind.reason == stats::Reason::kOk);
  CHECK(bind.users == c.users + t.users);
  const double pc = static_cast<double>(c.binders) / static_cast<double>(c.users);
  CHECK(bind.fixed.control_mean == doctest::Approx(pc));
  REQUIRE(bind.adjusted.has_value());
  CHECK(bind.control.mean == bind.adjusted->control.mean);
  // Without covariates the plain estimates: the interval of the difference is the Wald one.
  const Bucket pc_plain = Simulate(1, 0.05, false), pt_plain = Simulate(2, 0.06, false);
  const auto plain = CompareMetric(Metric::kBindRate, pc_plain.totals, pt_plain.totals, analysis);
  CHECK_FALSE(plain.adjusted.has_value());
  CHECK(plain.control.variance == doctest::Approx(pc * (1 - pc) / static_cast<double>(c.users)));
  CHECK(plain.DifferenceSe() == doctest::Approx(plain.fixed.absolute.se).epsilon(1e-12));

  const auto per_user = CompareMetric(Metric::kBindsPerUser, c.totals, t.totals, analysis);
  CHECK(per_user.fixed.statistic ==
        doctest::Approx(stats::CompareMeans(c.binds, t.binds).statistic).epsilon(1e-10));

  const auto premium = CompareMetric(Metric::kPremiumPerUser, c.totals, t.totals, analysis);
  CHECK(premium.fixed.control_mean == doctest::Approx(static_cast<double>(c.premium.mean)));
  CHECK(premium.fixed.absolute.se ==
        doctest::Approx(stats::CompareMeans(c.premium, t.premium).absolute.se).epsilon(1e-10));
  REQUIRE(premium.adjusted.has_value());
  CHECK(premium.adjusted->variance_reduction > 0);
  CHECK(premium.DifferenceSe() < premium.fixed.absolute.se);

  const auto revenue = CompareMetric(Metric::kRevenuePerUser, c.totals, t.totals, analysis);
  const auto revenue_direct = stats::CompareMeans(c.revenue, t.revenue);
  CHECK(revenue.fixed.control_mean == doctest::Approx(static_cast<double>(c.revenue.mean)));
  CHECK(revenue.fixed.treatment_mean == doctest::Approx(static_cast<double>(t.revenue.mean)));
  CHECK(revenue.fixed.absolute.se == doctest::Approx(revenue_direct.absolute.se).epsilon(1e-10));
  CHECK(revenue.fixed.p_value == doctest::Approx(revenue_direct.p_value).epsilon(1e-10));
  CHECK(revenue.fixed.control_mean < 0.2 * premium.fixed.control_mean);
  REQUIRE(revenue.adjusted.has_value());  // premium held before predicts revenue too
  CHECK(revenue.adjusted->variance_reduction > 0);
  CHECK(c.totals.unpriced_binds > 0);

  const auto clicks = CompareMetric(Metric::kClickRate, c.totals, t.totals, analysis);
  const auto ratio =
      stats::CompareRatios(stats::CoMoments::FromSums(c.users, c.sx, c.sxx, c.sy, c.syy, c.sxy),
                           stats::CoMoments::FromSums(t.users, t.sx, t.sxx, t.sy, t.syy, t.sxy));
  CHECK(clicks.fixed.absolute.estimate == doctest::Approx(ratio.absolute.estimate).epsilon(1e-12));
  CHECK(clicks.fixed.absolute.se == doctest::Approx(ratio.absolute.se).epsilon(1e-10));
  CHECK(clicks.DifferenceSe() == doctest::Approx(ratio.absolute.se).epsilon(1e-10));
  CHECK_FALSE(clicks.adjusted.has_value());  // a ratio metric: no CUPED
}

TEST_CASE("metric names and empty buckets") {
  CHECK(MetricByName("premium_per_user") == Metric::kPremiumPerUser);
  CHECK(MetricByName("revenue_per_user") == Metric::kRevenuePerUser);
  // Every metric a PM may test statistically has its statistic.
  for (const std::string_view name : kStatisticalMetrics) {
    REQUIRE(MetricByName(name).has_value());
    CHECK(MetricName(*MetricByName(name)) == name);
  }
  CHECK(MetricName(Metric::kClickRate) == "click_rate");
  const auto none = CompareMetric(Metric::kBindRate, BucketTotals{}, BucketTotals{}, {});
  CHECK(none.fixed.reason == stats::Reason::kTooFewUnits);
  CHECK(none.reason == stats::Reason::kTooFewUnits);
  const Bucket c = Simulate(3, 0.05, false);
  CHECK_FALSE(CompareMetric(Metric::kPremiumPerUser, c.totals, c.totals, {}).adjusted.has_value());
}

}  // namespace abrec

namespace abrec {
namespace {

// Users per bucket close to the default split: holdout and exploration 5%, two arms 45%.
std::map<std::string, BucketTotals> AsPromised() {
  std::map<std::string, BucketTotals> totals;
  totals["holdout"].users = 5'000;
  totals["exploration"].users = 5'100;
  totals["control"].users = 45'000;
  totals["treatment"].users = 44'900;
  return totals;
}

}  // namespace

TEST_CASE("SRM over an experiment's buckets uses the promised weights; pooled arms add up") {
  Experiment e;
  e.variants = {{"control", Policy::kLegacyRules, "", 0.5},
                {"treatment", Policy::kRecommender, "hybrid", 0.5}};
  std::map<std::string, BucketTotals> totals = AsPromised();
  const PopulationSplit population;
  const BucketSrm ok = SampleRatioOfBuckets(totals, population, e);
  CHECK(ok.buckets == std::vector<std::string>{"holdout", "exploration", "control", "treatment"});
  REQUIRE(ok.expected_weights.size() == 4);
  const double expected[] = {0.05, 0.05, 0.45, 0.45};
  for (std::size_t i = 0; i < 4; ++i) CHECK(ok.expected_weights[i] == doctest::Approx(expected[i]));
  CHECK_FALSE(ok.result.mismatch);
  totals["treatment"].users = 42'000;  // 7% of the treatment's exposures lost
  CHECK(SampleRatioOfBuckets(totals, population, e).result.mismatch);

  BucketTotals pooled = totals["control"];
  pooled += totals["treatment"];
  CHECK(pooled.users == 87'000);
}

TEST_CASE("SRM keeps a variant of weight 0: users in it are a mismatch in both tests") {
  Experiment e;
  e.variants = {{"control", Policy::kLegacyRules, "", 0.5},
                {"treatment", Policy::kRecommender, "hybrid", 0.5},
                {"closed", Policy::kRecommender, "hybrid", 0.0}};
  std::map<std::string, BucketTotals> totals = AsPromised();
  const PopulationSplit population;
  const BucketSrm empty = SampleRatioOfBuckets(totals, population, e);
  REQUIRE(empty.buckets.size() == 5);
  CHECK(empty.buckets[4] == "closed");
  CHECK(empty.expected_weights[4] == 0);
  CHECK_FALSE(empty.result.mismatch);
  CHECK(empty.result.df == 3);  // the empty bucket adds no degree of freedom
  CHECK_FALSE(empty.sequential.mismatch);

  totals["closed"].users = 2;
  const BucketSrm leak = SampleRatioOfBuckets(totals, population, e);
  CHECK(leak.result.mismatch);
  CHECK(leak.result.unexpected_bucket == std::optional<std::size_t>{4});
  CHECK(leak.sequential.mismatch);
  CHECK(leak.sequential.unexpected_bucket == std::optional<std::size_t>{4});
}

}  // namespace abrec

namespace abrec {

TEST_CASE("uplift against the holdout, per arm and for all recommended traffic together") {
  // Known truth: the holdout binds at 3%, control at 4%, treatment at 5%.
  const Bucket holdout = Simulate(11, 0.03, false), control = Simulate(12, 0.04, false),
               treatment = Simulate(13, 0.05, false);
  BucketTotals recommended = control.totals;
  recommended += treatment.totals;
  const AnalysisSpec analysis;
  const auto arm = CompareMetric(Metric::kBindRate, holdout.totals, treatment.totals, analysis);
  const auto all = CompareMetric(Metric::kBindRate, holdout.totals, recommended, analysis);
  CHECK(arm.fixed.absolute.ci.low < 0.02);
  CHECK(0.02 < arm.fixed.absolute.ci.high);
  CHECK(all.fixed.treatment_mean ==
        doctest::Approx(static_cast<double>(control.binders + treatment.binders) / 6000));
  // The pooled arms have twice the users: a narrower interval than one arm's.
  CHECK(all.fixed.absolute.se < arm.fixed.absolute.se);
}

}  // namespace abrec
