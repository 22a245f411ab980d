#include "stats/fixed_horizon.h"

#include <cmath>
#include <random>
#include <string>

#include <doctest/doctest.h>

#include "tests/stats/reference_values.h"

namespace abrec::stats {
namespace {

Int128 Big(const nlohmann::json& v) { return *ParseInt128(v.get<std::string>()); }

}  // namespace

TEST_CASE("two proportions: pooled z test and unpooled interval equal statsmodels") {
  // statsmodels.stats.proportion.proportions_ztest (pooled) and
  // confint_proportions_2indep(method="wald", compare="diff"); tests/stats/reference.py.
  for (const auto& c : Reference()["proportions"]) {
    CAPTURE(c.dump());
    const Comparison r = CompareProportions(c["xc"], c["nc"], c["xt"], c["nt"], c["alpha"]);
    REQUIRE(r.reason == Reason::kOk);
    CHECK(r.statistic == doctest::Approx(c["z"].get<double>()).epsilon(1e-9));
    CHECK(r.p_value == doctest::Approx(c["p"].get<double>()).epsilon(1e-9));
    CHECK(r.absolute.ci.low == doctest::Approx(c["diff_low"].get<double>()).epsilon(1e-9));
    CHECK(r.absolute.ci.high == doctest::Approx(c["diff_high"].get<double>()).epsilon(1e-9));
  }
}

TEST_CASE("Welch's t test from exact sums equals statsmodels on the raw data") {
  // statsmodels CompareMeans.ttest_ind(usevar="unequal") and tconfint_diff, on data drawn in
  // tests/stats/reference.py; abrec sees only n, Σy and Σy², as the store keeps them.
  for (const auto& c : Reference()["welch"]) {
    CAPTURE(c["name"].get<std::string>());
    const Moments mc = Moments::FromSums(c["nc"], Big(c["sum_c"]), Big(c["sum_sq_c"]));
    const Moments mt = Moments::FromSums(c["nt"], Big(c["sum_t"]), Big(c["sum_sq_t"]));
    CHECK(static_cast<double>(mc.Variance()) ==
          doctest::Approx(c["var_c"].get<double>()).epsilon(1e-12));
    const Comparison r = CompareMeans(mc, mt, c["alpha"]);
    REQUIRE(r.reason == Reason::kOk);
    CHECK(r.control_mean == doctest::Approx(c["mean_c"].get<double>()).epsilon(1e-12));
    CHECK(r.statistic == doctest::Approx(c["t"].get<double>()).epsilon(1e-9));
    CHECK(r.df == doctest::Approx(c["df"].get<double>()).epsilon(1e-9));
    CHECK(r.p_value == doctest::Approx(c["p"].get<double>()).epsilon(1e-8));
    // Boost.Math's and scipy's t quantiles for a non-integer df differ in the ninth digit
    // (2.0224543871 against 2.0224543789 at df 39.14): a relative 1e-8 here.
    CHECK(r.absolute.ci.low == doctest::Approx(c["diff_low"].get<double>()).epsilon(1e-8));
    CHECK(r.absolute.ci.high == doctest::Approx(c["diff_high"].get<double>()).epsilon(1e-8));
  }
}

TEST_CASE("the relative lift's delta-method interval covers the truth 95% of the time") {
  // Monte-Carlo with known ground truth: arms with means 50 and 55 (true relative lift 0.1),
  // 2,000 experiments of 400 users per arm; the coverage of a 95% interval must lie within
  // 4 standard errors of 0.95 (binomial: sd = sqrt(0.95 * 0.05 / 2000) = 0.0049).
  std::mt19937_64 rng(7);
  std::normal_distribution<double> control(50, 20), treatment(55, 25);
  int covered = 0;
  constexpr int kRuns = 2'000;
  for (int run = 0; run < kRuns; ++run) {
    Moments c, t;
    for (int i = 0; i < 400; ++i) {
      c += Moments{1, control(rng), 0};
      t += Moments{1, treatment(rng), 0};
    }
    const Comparison r = CompareMeans(c, t, 0.05);
    REQUIRE(r.relative_reason == Reason::kOk);
    if (r.relative.ci.low <= 0.1 && 0.1 <= r.relative.ci.high) ++covered;
  }
  CHECK(std::fabs(covered / double{kRuns} - 0.95) < 4 * 0.0049);
}

TEST_CASE("too few users and zero variance are results with a reason") {
  CHECK(CompareProportions(0, 1, 1, 5).reason == Reason::kTooFewUnits);
  const Comparison none = CompareProportions(0, 100, 0, 100);
  CHECK(none.reason == Reason::kZeroVariance);
  CHECK(none.p_value == 1);
  CHECK(CompareMeans(Moments::FromSums(10, 50, 250), Moments::FromSums(10, 50, 250)).reason ==
        Reason::kZeroVariance);
  const Comparison zero_base =
      CompareMeans(Moments::FromSums(10, 0, 0), Moments::FromSums(10, 5, 9));
  CHECK(zero_base.reason == Reason::kOk);
  CHECK(zero_base.relative_reason == Reason::kZeroBaseline);
}

}  // namespace abrec::stats
