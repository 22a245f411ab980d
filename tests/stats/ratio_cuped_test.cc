#include <cmath>
#include <random>
#include <span>
#include <string>

#include <doctest/doctest.h>

#include "stats/cuped.h"
#include "stats/ratio_metric.h"
#include "tests/stats/reference_values.h"

namespace abrec::stats {
namespace {

Int128 Big(const nlohmann::json& v) { return *ParseInt128(v.get<std::string>()); }

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

namespace {

CovariateMoments Arm(const nlohmann::json& a, int covariates) {
  const CovariateSums x[] = {{Big(a["sx"]), Big(a["sxx"]), Big(a["sxy"])},
                             {Big(a["sz"]), Big(a["szz"]), Big(a["szy"])}};
  return CovariateMoments::FromSums(a["n"], Big(a["sy"]), Big(a["syy"]),
                                    std::span(x).first(static_cast<std::size_t>(covariates)),
                                    Big(a["sxz"]));
}

}  // namespace

TEST_CASE("CUPED is the treatment coefficient of OLS on the covariates (statsmodels)") {
  // statsmodels' OLS y ~ 1 + treatment + x (+ z) over both arms' users, HC2 standard errors
  // (tests/stats/reference.py): the adjusted difference and the slopes to 1e-9; the standard
  // error of the difference within 1% of the robust one (ours is per arm, HC2 pools the
  // leverage; they agree as n grows).
  for (const auto& c : Reference()["cuped"]) {
    const int k = c["covariates"];
    const AdjustedMeans r = RegressionAdjusted(Arm(c["control"], k), Arm(c["treatment"], k));
    REQUIRE(r.reason == Reason::kOk);
    CHECK(r.covariates == k);
    CHECK(r.treatment.mean - r.control.mean ==
          doctest::Approx(c["difference"].get<double>()).epsilon(1e-9));
    for (int j = 0; j < k; ++j) {
      CHECK(r.theta[static_cast<std::size_t>(j)] ==
            doctest::Approx(c["theta"][static_cast<std::size_t>(j)].get<double>()).epsilon(1e-9));
    }
    const double se = std::sqrt(r.control.variance + r.treatment.variance);
    CHECK(se == doctest::Approx(c["se_hc2"].get<double>()).epsilon(0.01));
    const double plain = c["plain_se"];
    CHECK(r.variance_reduction == doctest::Approx(1 - se * se / (plain * plain)).epsilon(1e-9));
    MESSAGE(k, " covariate(s): variance reduction ", r.variance_reduction);
    CHECK(r.variance_reduction > 0.2);
  }
}

TEST_CASE("CUPED keeps the estimate unbiased and its interval covers the truth") {
  // Monte-Carlo: y = 0.8x + 3000z + noise + effect 500, 1,000 experiments of 1,000 users per
  // arm; the adjusted 95% interval covers 500 at the nominal rate.
  std::mt19937_64 rng(23);
  std::lognormal_distribution<double> before(10, 0.6);
  std::poisson_distribution<int> held(1.5);
  std::normal_distribution<double> noise(0, 6000);
  auto arm = [&](double effect) {
    Int128 sy = 0, syy = 0;
    CovariateSums x, z;
    Int128 sxz = 0;
    for (int u = 0; u < 1000; ++u) {
      const Int128 zz = held(rng);
      const auto xx = static_cast<Int128>(std::llround(before(rng)));
      const auto y = static_cast<Int128>(std::llround(0.8 * static_cast<double>(xx) +
                                                      3000 * static_cast<double>(zz) + 3000 +
                                                      effect + noise(rng)));
      sy += y, syy += y * y, sxz += xx * zz;
      x.sum += xx, x.sum_sq += xx * xx, x.sum_xy += xx * y;
      z.sum += zz, z.sum_sq += zz * zz, z.sum_xy += zz * y;
    }
    const CovariateSums both[] = {x, z};
    return CovariateMoments::FromSums(1000, sy, syy, both, sxz);
  };
  int covered = 0;
  double reduction = 0;
  constexpr int kRuns = 1'000;
  for (int run = 0; run < kRuns; ++run) {
    const AdjustedMeans r = RegressionAdjusted(arm(0), arm(500));
    const double d = r.treatment.mean - r.control.mean;
    const double half = 1.959964 * std::sqrt(r.control.variance + r.treatment.variance);
    if (d - half <= 500 && 500 <= d + half) ++covered;
    reduction += r.variance_reduction;
  }
  MESSAGE("CUPED coverage ", covered, " of ", kRuns, ", mean variance reduction ",
          reduction / kRuns);
  CHECK(std::fabs(covered / double{kRuns} - 0.95) < 4 * std::sqrt(0.95 * 0.05 / kRuns));
  CHECK(reduction / kRuns > 0.3);
}

TEST_CASE("CUPED with collinear or constant covariates falls back, never divides by zero") {
  // z = 2x for everyone: one slope is enough; a constant covariate explains nothing.
  auto arm = [](int n, int offset) {
    Int128 sy = 0, syy = 0, sxz = 0;
    CovariateSums x, z;
    for (int u = 0; u < n; ++u) {
      const Int128 xx = u % 7, zz = 2 * xx, y = 3 * xx + (u + offset) % 5;
      sy += y, syy += y * y, sxz += xx * zz;
      x.sum += xx, x.sum_sq += xx * xx, x.sum_xy += xx * y;
      z.sum += zz, z.sum_sq += zz * zz, z.sum_xy += zz * y;
    }
    const CovariateSums both[] = {x, z};
    return CovariateMoments::FromSums(n, sy, syy, both, sxz);
  };
  const AdjustedMeans r = RegressionAdjusted(arm(700, 0), arm(700, 1));
  REQUIRE(r.reason == Reason::kOk);
  CHECK(r.covariates == 1);
  CHECK(std::isfinite(r.treatment.mean));
  const CovariateSums constant[] = {{7 * 100, 49 * 100, 0}};
  const AdjustedMeans none = RegressionAdjusted(CovariateMoments::FromSums(100, 50, 50, constant),
                                                CovariateMoments::FromSums(100, 60, 60, constant));
  CHECK(none.reason == Reason::kZeroVariance);
}

TEST_CASE("a ratio without a denominator is a reason") {
  CHECK(Ratio(CoMoments::FromSums(10, 0, 0, 0, 0, 0)).reason == Reason::kZeroBaseline);
  CHECK(Ratio(CoMoments::FromSums(1, 5, 25, 1, 1, 5)).reason == Reason::kTooFewUnits);
}

}  // namespace abrec::stats
