#include "stats/sequential.h"

#include <cmath>
#include <random>
#include <tuple>

#include <doctest/doctest.h>

#include "stats/fixed_horizon.h"

namespace abrec::stats {
namespace {

// Simulated experiments with a known effect: two arms of normal per-user values, looked at
// after every 100 users per arm, up to 10,000 per arm (100 looks). For each run, `visit`
// gets every look's comparison and the total number of users.
template <typename Visit>
void Simulate(std::uint64_t seed, double effect, int runs, Visit&& visit) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> unit(0, 1);
  for (int run = 0; run < runs; ++run) {
    Moments c, t;
    bool stop = false;
    for (int look = 1; look <= 100 && !stop; ++look) {
      for (int i = 0; i < 100; ++i) {
        c += Moments{1, unit(rng), 0};
        t += Moments{1, effect + unit(rng), 0};
      }
      stop = visit(run, CompareMeans(c, t), static_cast<std::int64_t>(c.n + t.n));
    }
  }
}

constexpr int kRuns = 1'000;
// Monte-Carlo slack: 3 binomial standard deviations of a rate of 0.05 over kRuns runs.
const double kSlack = 3 * std::sqrt(0.05 * 0.95 / kRuns);

}  // namespace

TEST_CASE("continuous monitoring: the always-valid p-value keeps the error rate under alpha") {
  // Ground truth: no effect. Ville's inequality bounds the chance that the always-valid
  // p-value ever reaches alpha, over any number of looks; the fixed-horizon p-value,
  // checked at the same 100 looks, does not have that guarantee (the reason this exists).
  const SequentialOptions o;  // alpha 0.05, N* 5,000
  int sequential_rejections = 0, peeking_rejections = 0;
  std::vector<bool> peeked(kRuns, false);
  Simulate(11, 0.0, kRuns, [&](int run, const Comparison& r, std::int64_t n) {
    if (r.p_value <= o.alpha) peeked[static_cast<std::size_t>(run)] = true;
    const SequentialResult s = SequentialTest(r.absolute.estimate, r.absolute.se, n, o);
    if (s.p_value <= o.alpha) {
      ++sequential_rejections;
      return true;  // stopped: rejected
    }
    return false;
  });
  for (bool p : peeked) peeking_rejections += p ? 1 : 0;
  MESSAGE("false positives over 100 looks: always-valid ", sequential_rejections, " of ", kRuns,
          ", fixed-horizon with peeking ", peeking_rejections);
  CHECK(sequential_rejections / double{kRuns} <= o.alpha + kSlack);
  // A sanity check of the simulation itself: peeking at a fixed-horizon test 100 times
  // rejects far more often than 5%.
  CHECK(peeking_rejections / double{kRuns} > 0.2);
}

TEST_CASE("the confidence sequence covers the true effect at every look") {
  const SequentialOptions o;
  int missed = 0;
  std::vector<bool> miss(kRuns, false);
  Simulate(12, 0.05, kRuns, [&](int run, const Comparison& r, std::int64_t n) {
    const SequentialResult s = SequentialTest(r.absolute.estimate, r.absolute.se, n, o);
    if (s.ci.low > 0.05 || s.ci.high < 0.05) miss[static_cast<std::size_t>(run)] = true;
    return false;
  });
  for (bool m : miss) missed += m ? 1 : 0;
  MESSAGE("runs whose confidence sequence missed the true effect at some look: ", missed);
  CHECK(missed / double{kRuns} <= o.alpha + kSlack);
}

TEST_CASE("one-sided (guardrail): the upper bound falls below zero without harm at most alpha") {
  SequentialOptions o;
  o.sided = Sided::kLess;
  int alarms = 0;
  Simulate(13, 0.0, kRuns, [&](int, const Comparison& r, std::int64_t n) {
    const SequentialResult s = SequentialTest(r.absolute.estimate, r.absolute.se, n, o);
    CHECK(std::isinf(s.ci.low));
    if (s.ci.high < 0) {
      ++alarms;
      return true;
    }
    return false;
  });
  CHECK(alarms / double{kRuns} <= o.alpha + kSlack);
  // Real harm is caught: an effect of -0.1 standard deviations.
  int caught = 0;
  Simulate(14, -0.1, 200, [&](int, const Comparison& r, std::int64_t n) {
    const SequentialResult s = SequentialTest(r.absolute.estimate, r.absolute.se, n, o);
    if (s.ci.high < 0) {
      ++caught;
      return true;
    }
    return false;
  });
  MESSAGE("guardrail: false alarms ", alarms, " of ", kRuns, "; harm of -0.1 sd caught in ", caught,
          " of 200");
  CHECK(caught >= 190);
}

TEST_CASE("the p-value and the interval agree: p <= alpha exactly when theta0 is outside") {
  for (const Sided sided : {Sided::kTwo, Sided::kLess, Sided::kGreater}) {
    SequentialOptions o;
    o.sided = sided;
    for (double estimate : {-0.3, -0.05, -0.01, 0.0, 0.02, 0.08, 0.4}) {
      for (std::int64_t n : {200, 5'000, 100'000}) {
        const SequentialResult s = SequentialTest(estimate, 0.03, n, o);
        const bool outside = sided == Sided::kLess      ? s.ci.high < 0
                             : sided == Sided::kGreater ? s.ci.low > 0
                                                        : (s.ci.low > 0 || s.ci.high < 0);
        CAPTURE(estimate);
        CAPTURE(n);
        CHECK(outside == (s.p_value < o.alpha));
      }
    }
  }
}

TEST_CASE("the two-sided p-value is 1 / the mixture likelihood ratio, by numerical integration") {
  // An independent computation of the mSPRT statistic (Johari et al. 2017): the likelihood
  // ratio of the estimate under effects θ drawn from the mixing distribution N(0, τ²) against
  // θ = 0, integrated numerically (Simpson's rule over ±12τ), with τ² = ρ²s² and s² = σ̂²N;
  // the closed form used by the code is its analytic integral. ρ² is GrowthBook's tuning.
  const SequentialOptions o;
  const double rho2 = (-2 * std::log(o.alpha) + std::log(1 - 2 * std::log(o.alpha))) / o.n_star;
  for (const auto& [estimate, se, n] : {std::tuple{0.004, 0.002, std::int64_t{20'000}},
                                        {0.01, 0.004, 3'000},
                                        {-0.2, 0.05, 800},
                                        {0.0005, 0.001, 200'000}}) {
    const double s2 = se * se * static_cast<double>(n), tau = std::sqrt(rho2 * s2);
    auto normal = [](double x, double mean, double sd) {
      const double z = (x - mean) / sd;
      return std::exp(-z * z / 2) / (sd * std::sqrt(2 * M_PI));
    };
    constexpr int kSteps = 20'000;  // even
    const double lo = -12 * tau, h = 24 * tau / kSteps;
    double integral = 0;
    for (int i = 0; i <= kSteps; ++i) {
      const double theta = lo + i * h;
      const double f = normal(estimate, theta, se) * normal(theta, 0, tau);
      integral += f * (i == 0 || i == kSteps ? 1 : (i % 2 ? 4 : 2));
    }
    const double lambda = integral * h / 3 / normal(estimate, 0, se);
    CAPTURE(estimate);
    CHECK(SequentialTest(estimate, se, n, o).p_value ==
          doctest::Approx(std::min(1.0, 1 / lambda)).epsilon(1e-6));
  }
}

TEST_CASE("reported p-values never rise, and edge cases have a reason") {
  RunningMinimumP p;
  CHECK(p.Update(0.4) == 0.4);
  CHECK(p.Update(0.6) == 0.4);
  CHECK(p.Update(0.01) == 0.01);
  CHECK(SequentialTest(0.1, 0.0, 1000, {}).reason == Reason::kZeroVariance);
  CHECK(SequentialTest(0.1, 0.1, 1, {}).reason == Reason::kTooFewUnits);
  CHECK(SequentialTest(0.1, std::nan(""), 100, {}).reason == Reason::kZeroVariance);
  CHECK(SequentialTest(0.1, 0.1, 100, {.alpha = 0.5, .sided = Sided::kLess}).reason ==
        Reason::kInvalidInput);
}

}  // namespace abrec::stats
