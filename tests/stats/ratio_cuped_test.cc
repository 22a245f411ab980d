#include <cmath>
#include <random>
#include <string>

#include <doctest/doctest.h>

#include "stats/cuped.h"
#include "stats/ratio_metric.h"
#include "tests/stats/reference_values.h"

namespace abrec::stats {
namespace {

Int128 Big(const nlohmann::json& v) { return *ParseInt128(v.get<std::string>()); }

CoMoments FromJson(const nlohmann::json& a) {
  return CoMoments::FromSums(a["n"], Big(a["sx"]), Big(a["sxx"]), Big(a["sy"]), Big(a["syy"]),
                             Big(a["sxy"]));
}

// One simulated arm of a click-rate experiment: impressions 1 + Poisson(4) per user, a
// per-user click probability from Beta(a, b) (so the true rate is a/(a+b)), clicks binomial.
CoMoments ClickArm(std::mt19937_64& rng, int users, double a, double b) {
  std::poisson_distribution<int> extra(4);
  std::gamma_distribution<double> ga(a, 1), gb(b, 1);
  Int128 sx = 0, sxx = 0, sy = 0, syy = 0, sxy = 0;
  for (int u = 0; u < users; ++u) {
    const int impressions = 1 + extra(rng);
    const double x = ga(rng), q = x / (x + gb(rng));
    std::binomial_distribution<int> clicks_of(impressions, q);
    const Int128 d = impressions, c = clicks_of(rng);
    sx += d, sxx += d * d, sy += c, syy += c * c, sxy += d * c;
  }
  return CoMoments::FromSums(users, sx, sxx, sy, syy, sxy);
}

}  // namespace

TEST_CASE("a ratio metric's delta-method interval covers the true difference 95% of the time") {
  // Monte-Carlo with known truth: click rates 0.10 (Beta(1, 9)) and 0.12 (Beta(1.2, 8.8)),
  // 2,000 experiments of 500 users per arm. Per-user click probabilities vary, so the clicks
  // of one user's impressions are correlated: the delta method accounts for it, a binomial
  // interval over impressions would not (its coverage is checked to fall short).
  std::mt19937_64 rng(17);
  int covered = 0, naive_covered = 0, relative_covered = 0;
  constexpr int kRuns = 2'000;
  for (int run = 0; run < kRuns; ++run) {
    const CoMoments c = ClickArm(rng, 500, 1, 9), t = ClickArm(rng, 500, 1.2, 8.8);
    const Comparison r = CompareRatios(c, t);
    REQUIRE(r.reason == Reason::kOk);
    if (r.absolute.ci.low <= 0.02 && 0.02 <= r.absolute.ci.high) ++covered;
    if (r.relative.ci.low <= 0.2 && 0.2 <= r.relative.ci.high) ++relative_covered;
    const double nc = static_cast<double>(c.mean_x) * c.n, nt = static_cast<double>(t.mean_x) * t.n;
    const double naive_se = std::sqrt(r.control_mean * (1 - r.control_mean) / nc +
                                      r.treatment_mean * (1 - r.treatment_mean) / nt);
    const double diff = r.absolute.estimate;
    if (std::fabs(diff - 0.02) <= 1.959964 * naive_se) ++naive_covered;
  }
  MESSAGE("coverage of 95% intervals: delta method ", covered, ", relative ", relative_covered,
          ", binomial over impressions ", naive_covered, " of ", kRuns);
  const double tolerance = 4 * std::sqrt(0.95 * 0.05 / kRuns);
  CHECK(std::fabs(covered / double{kRuns} - 0.95) < tolerance);
  CHECK(std::fabs(relative_covered / double{kRuns} - 0.95) < tolerance);
  CHECK(naive_covered / double{kRuns} < 0.95 - tolerance);
}

TEST_CASE("CUPED's theta is the OLS slope, and it removes about r² of the variance") {
  // scipy.stats.linregress over both arms' users (tests/stats/reference.py).
  for (const auto& c : Reference()["cuped"]) {
    const CupedComparison r = CompareMeansCuped(FromJson(c["control"]), FromJson(c["treatment"]));
    REQUIRE(r.adjusted.reason == Reason::kOk);
    CHECK(r.theta == doctest::Approx(c["theta"].get<double>()).epsilon(1e-9));
    const double r2 = c["r2"];
    MESSAGE("variance reduction ", r.variance_reduction, " against r² ", r2);
    CHECK(r.variance_reduction == doctest::Approx(r2).epsilon(0.03));
  }
}

TEST_CASE("CUPED keeps the estimate unbiased and its interval covers the truth") {
  // Monte-Carlo: y = 0.8x + noise + effect 500, x lognormal, 1,000 experiments of 1,000
  // users per arm; the adjusted 95% interval covers 500 at the nominal rate and is narrower.
  std::mt19937_64 rng(23);
  std::lognormal_distribution<double> before(10, 0.6);
  std::normal_distribution<double> noise(0, 6000);
  auto arm = [&](double effect) {
    Int128 sx = 0, sxx = 0, sy = 0, syy = 0, sxy = 0;
    for (int u = 0; u < 1000; ++u) {
      const auto x = static_cast<Int128>(std::llround(before(rng)));
      const auto y = static_cast<Int128>(
          std::llround(0.8 * static_cast<double>(x) + 3000 + effect + noise(rng)));
      sx += x, sxx += x * x, sy += y, syy += y * y, sxy += x * y;
    }
    return CoMoments::FromSums(1000, sx, sxx, sy, syy, sxy);
  };
  int covered = 0;
  double reduction = 0;
  constexpr int kRuns = 1'000;
  for (int run = 0; run < kRuns; ++run) {
    const CupedComparison r = CompareMeansCuped(arm(0), arm(500));
    if (r.adjusted.absolute.ci.low <= 500 && 500 <= r.adjusted.absolute.ci.high) ++covered;
    reduction += r.variance_reduction;
  }
  MESSAGE("CUPED coverage ", covered, " of ", kRuns, ", mean variance reduction ",
          reduction / kRuns);
  CHECK(std::fabs(covered / double{kRuns} - 0.95) < 4 * std::sqrt(0.95 * 0.05 / kRuns));
  CHECK(reduction / kRuns > 0.3);
}

TEST_CASE("a ratio without a denominator is a reason") {
  CHECK(Ratio(CoMoments::FromSums(10, 0, 0, 0, 0, 0)).reason == Reason::kZeroBaseline);
  CHECK(Ratio(CoMoments::FromSums(1, 5, 25, 1, 1, 5)).reason == Reason::kTooFewUnits);
}

}  // namespace abrec::stats
