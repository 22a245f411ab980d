#include "stats/off_policy.h"

#include <array>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace abrec::stats {

TEST_CASE("IPS, SNIPS and DR are unbiased and their intervals cover the truth on a simulated log") {
  // Known truth: 10 products with click probabilities 0.01..0.10; the log is uniform random
  // (propensity 0.1); the target policy shows product k with probability ∝ k, so its true
  // click rate is Σ π_e(k) μ(k). DR uses a deliberately wrong reward model (μ + 0.02), which
  // it must correct. 500 logs of 5,000 rounds: the mean estimate lies within 4 standard
  // errors of the truth, and each 95% interval covers it at the nominal rate.
  constexpr int kArms = 10, kLogs = 500, kRounds = 5'000;
  std::array<double, kArms> mu{}, target{};
  double truth = 0, model_target = 0;
  for (int k = 0; k < kArms; ++k) {
    mu[static_cast<std::size_t>(k)] = 0.01 * (k + 1);
    target[static_cast<std::size_t>(k)] = (k + 1) / 55.0;
  }
  for (std::size_t k = 0; k < kArms; ++k) {
    truth += target[k] * mu[k];
    model_target += target[k] * (mu[k] + 0.02);
  }
  std::mt19937_64 rng(31);
  std::uniform_int_distribution<int> arm(0, kArms - 1);
  std::uniform_real_distribution<double> unit(0, 1);
  struct Tally {
    double sum = 0;
    double sum_sq = 0;
    int covered = 0;
    void Add(const OpeEstimate& e, double t) {
      sum += e.value;
      sum_sq += e.value * e.value;
      if (e.ci.low <= t && t <= e.ci.high) ++covered;
    }
  } ips, snips, dr;
  std::vector<LoggedRound> log(kRounds);
  for (int l = 0; l < kLogs; ++l) {
    for (LoggedRound& r : log) {
      const auto a = static_cast<std::size_t>(arm(rng));
      r.reward = unit(rng) < mu[a] ? 1 : 0;
      r.logging_propensity = 1.0 / kArms;
      r.target_propensity = target[a];
      r.model_logged = mu[a] + 0.02;
      r.model_target = model_target;
    }
    ips.Add(InversePropensity(log), truth);
    snips.Add(SelfNormalized(log), truth);
    dr.Add(DoublyRobust(log), truth);
  }
  const double tolerance = 4 * std::sqrt(0.95 * 0.05 / kLogs);
  for (const auto& [name, t] : {std::pair{std::string("IPS"), &ips},
                                {std::string("SNIPS"), &snips},
                                {std::string("DR"), &dr}}) {
    const double mean = t->sum / kLogs;
    const double sd = std::sqrt(t->sum_sq / kLogs - mean * mean);
    CAPTURE(name);
    MESSAGE(name, ": mean ", mean, " (truth ", truth, "), coverage ", t->covered, " of ", kLogs);
    CHECK(std::fabs(mean - truth) < 4 * sd / std::sqrt(kLogs));
    CHECK(std::fabs(t->covered / double{kLogs} - 0.95) < tolerance);
  }
}

TEST_CASE("off-policy estimates with nothing to go on have a reason") {
  const std::vector<LoggedRound> one{{1, 0.5, 0.5, 0, 0}};
  CHECK(InversePropensity(one).reason == Reason::kTooFewUnits);
  const std::vector<LoggedRound> unweighted{{1, 0.5, 0, 0, 0}, {0, 0.5, 0, 0, 0}};
  CHECK(SelfNormalized(unweighted).reason == Reason::kTooFewUnits);
}

}  // namespace abrec::stats

namespace abrec::stats {

TEST_CASE("propensities out of range are invalid input, and no weight is too little data") {
  const std::vector<LoggedRound> zero_logging{{1, 0.0, 0.5, 0, 0}, {0, 0.5, 0.5, 0, 0}};
  CHECK(InversePropensity(zero_logging).reason == Reason::kInvalidInput);
  CHECK(DoublyRobust(zero_logging).reason == Reason::kInvalidInput);
  CHECK(SelfNormalized(zero_logging).reason == Reason::kInvalidInput);
  const std::vector<LoggedRound> never{{1, 0.5, 0, 0, 0}, {0, 0.5, 0, 0, 0}};
  CHECK(InversePropensity(never).reason == Reason::kTooFewUnits);
  CHECK(DoublyRobust(never).reason == Reason::kTooFewUnits);
}

}  // namespace abrec::stats
