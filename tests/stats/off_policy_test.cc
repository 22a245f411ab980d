#include "stats/off_policy.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/stats/reference_values.h"

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

namespace abrec::stats {

TEST_CASE("clustered IPS, SNIPS and DR equal the Open Bandit Pipeline's formulas and statsmodels") {
  // tests/stats/reference.py: users with several rounds each and a user-level random effect;
  // the estimates by obp/ope/estimators.py's formulas (numpy), the standard errors clustered
  // by user from statsmodels (OLS / WLS with cov_type="cluster"). abrec groups the rounds by
  // their cluster into OpeSums and estimates from the sums alone.
  for (const auto& c : Reference()["off_policy"]) {
    std::vector<LoggedRound> log;
    for (std::size_t i = 0; i < c["reward"].size(); ++i) {
      log.push_back({c["reward"][i], c["pscore"][i], c["target"][i], c["q_logged"][i],
                     c["q_target"][i], c["cluster"][i].get<std::int64_t>()});
    }
    CAPTURE(log.size());
    const OpeEstimate ips = InversePropensity(log), snips = SelfNormalized(log),
                      dr = DoublyRobust(log);
    for (const auto& [e, name] : {std::pair{&ips, "ips"}, {&snips, "snips"}, {&dr, "dr"}}) {
      CAPTURE(name);
      REQUIRE(e->reason == Reason::kOk);
      CHECK(e->value == doctest::Approx(c[name].get<double>()).epsilon(1e-12));
      CHECK(e->se == doctest::Approx(c[std::string("se_") + name].get<double>()).epsilon(1e-9));
      CHECK(e->clusters == c["users"].get<std::int64_t>());
      CHECK(e->units == static_cast<std::int64_t>(log.size()));
      CHECK(e->effective_sample_size == doctest::Approx(c["ess"].get<double>()).epsilon(1e-9));
      CHECK(e->ci.high - e->value == doctest::Approx(1.959963984540054 * e->se).epsilon(1e-9));
    }
    // Without cluster ids every round is its own cluster: the iid standard error s/√n.
    for (LoggedRound& r : log) r.cluster = -1;
    double sum = 0, sum_sq = 0;
    for (const LoggedRound& r : log) {
      const double y = TermsOf(r).y;
      sum += y;
      sum_sq += y * y;
    }
    const double n = static_cast<double>(log.size());
    const double s2 = (sum_sq - sum * sum / n) / (n - 1);
    CHECK(InversePropensity(log).se == doctest::Approx(std::sqrt(s2 / n)).epsilon(1e-9));
  }
}

TEST_CASE("sums kept by delta equal sums from scratch, and merge") {
  // Units change (a list gets a click), move in and out of clusters (a new list, an erased
  // user): every change is the old terms removed and the new ones added.
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<std::vector<OpeTerms>> clusters(30);
  auto totals = [](const std::vector<OpeTerms>& c) {
    OpeTerms t;
    for (const OpeTerms& u : c) t = {t.y + u.y, t.v + u.v, t.z + u.z};
    return t;
  };
  OpeSums kept;
  for (int step = 0; step < 3000; ++step) {
    auto& c = clusters[rng() % clusters.size()];
    const auto n = static_cast<std::int64_t>(c.size());
    kept.AddCluster(n, totals(c), -1);
    const auto action = rng() % 4;
    if (action == 0 && !c.empty()) {  // an erased user
      for (const OpeTerms& u : c) kept.AddUnit(u, -1);
      c.clear();
    } else if (action == 1 || c.empty()) {  // a new list
      c.push_back({0, unit(rng) * 3, unit(rng) - 0.5});
      kept.AddUnit(c.back());
    } else {  // an outcome on one of its lists
      OpeTerms& u = c[rng() % c.size()];
      kept.AddUnit(u, -1);
      const double d = unit(rng) * 4;
      u = {u.y + d, u.v, u.z + d};
      kept.AddUnit(u);
    }
    kept.AddCluster(static_cast<std::int64_t>(c.size()), totals(c));
  }
  OpeSums first, second;
  for (std::size_t g = 0; g < clusters.size(); ++g) {
    OpeSums& part = g % 2 ? first : second;
    for (const OpeTerms& u : clusters[g]) part.AddUnit(u);
    part.AddCluster(static_cast<std::int64_t>(clusters[g].size()), totals(clusters[g]));
  }
  OpeSums scratch = first;
  scratch += second;
  CHECK(kept.units == scratch.units);
  CHECK(kept.clusters == scratch.clusters);
  const double got[] = {kept.y,  kept.v,  kept.z,  kept.v_sq, kept.nn, kept.yy,
                        kept.ny, kept.vv, kept.yv, kept.zz,   kept.nz};
  const double want[] = {scratch.y,  scratch.v,  scratch.z,  scratch.v_sq, scratch.nn, scratch.yy,
                         scratch.ny, scratch.vv, scratch.yv, scratch.zz,   scratch.nz};
  for (std::size_t i = 0; i < std::size(got); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-9));
  }
  CHECK(InversePropensity(kept).se == doctest::Approx(InversePropensity(scratch).se));
}

TEST_CASE("sums that are not finite are invalid input, and one cluster is too few") {
  OpeSums s;
  s.AddUnit({1, 1, 1});
  s.AddUnit({0, 1, 0});
  s.AddCluster(2, {1, 2, 1});
  CHECK(InversePropensity(s).reason == Reason::kTooFewUnits);
  s.AddCluster(2, {1, 2, 1}, -1);
  s.AddCluster(1, {1, 1, 1});
  s.AddCluster(1, {0, 1, 0});
  CHECK(InversePropensity(s).reason == Reason::kOk);
  s.yy = std::numeric_limits<double>::quiet_NaN();
  CHECK(SelfNormalized(s).reason == Reason::kInvalidInput);
}

TEST_CASE(
    "lists of users with several correlated lists: the clustered interval covers, iid does not") {
  // Known truth. Exploration lists show k = 3 of 10 products drawn uniformly (propensity 0.3);
  // the target policy's list is products {7, 8, 9}; a product's click probability is μ_a
  // times the user's multiplier, 0.2 or 1.8 with equal chance (mean 1), so a user's lists are
  // correlated and the truth is Σ_{a in the target list} μ_a clicks per list. Users have 1 to
  // 20 lists. Per list: y = Σ over shown target products of clicks / 0.3, v = (shown target
  // products) / (0.3 · 3), and z = y + Σ_target q̂ − Σ_shown target q̂ / 0.3 with a reward
  // model that is wrong, q̂ = μ/2 + 0.1 (and knows nothing of the user's multiplier). Over 1,000
  // replications of 300 users, each 95% interval clustered by user covers the truth at 95% (within
  // 4 binomial standard errors); the interval that takes the lists as independent (each its own
  // cluster: the report's old standard error) covers clearly less.
  constexpr int kProducts = 10, kShown = 3, kUsers = 300, kReplications = 1000;
  constexpr double p = 0.3;
  std::array<double, kProducts> mu{};
  for (int a = 0; a < kProducts; ++a) mu[static_cast<std::size_t>(a)] = 0.02 + 0.03 * a;
  const std::array<int, 3> target = {7, 8, 9};
  auto model = [&mu](int a) { return mu[static_cast<std::size_t>(a)] / 2 + 0.1; };
  double truth = 0, q_target = 0;
  for (int a : target) {
    truth += mu[static_cast<std::size_t>(a)];
    q_target += model(a);
  }
  std::mt19937_64 rng(2015);
  std::uniform_real_distribution<double> unit(0, 1);
  std::uniform_int_distribution<int> lists_of(1, 20);
  struct Coverage {
    int clustered = 0, iid = 0;
  } ips, snips, dr;
  auto covers = [&truth](const OpeEstimate& e) {
    REQUIRE(e.reason == Reason::kOk);
    return e.ci.low <= truth && truth <= e.ci.high;
  };
  for (int r = 0; r < kReplications; ++r) {
    OpeSums clustered, iid;
    for (int u = 0; u < kUsers; ++u) {
      const double multiplier = unit(rng) < 0.5 ? 0.2 : 1.8;
      const int lists = lists_of(rng);
      OpeTerms user;
      for (int l = 0; l < lists; ++l) {
        std::array<int, kProducts> order{};
        for (int a = 0; a < kProducts; ++a) order[static_cast<std::size_t>(a)] = a;
        std::shuffle(order.begin(), order.end(), rng);
        OpeTerms list{0, 0, q_target};
        for (int s = 0; s < kShown; ++s) {
          const int a = order[static_cast<std::size_t>(s)];
          if (std::find(target.begin(), target.end(), a) == target.end()) continue;
          const double mu_a = mu[static_cast<std::size_t>(a)];
          const double click = unit(rng) < mu_a * multiplier ? 1 : 0;
          list.y += click / p;
          list.v += 1 / (p * static_cast<double>(target.size()));
          list.z += (click - model(a)) / p;
        }
        clustered.AddUnit(list);
        iid.AddUnit(list);
        iid.AddCluster(1, list);
        user = {user.y + list.y, user.v + list.v, user.z + list.z};
      }
      clustered.AddCluster(lists, user);
    }
    ips.clustered += covers(InversePropensity(clustered));
    ips.iid += covers(InversePropensity(iid));
    snips.clustered += covers(SelfNormalized(clustered));
    snips.iid += covers(SelfNormalized(iid));
    dr.clustered += covers(DoublyRobust(clustered));
    dr.iid += covers(DoublyRobust(iid));
  }
  const double tolerance = 4 * std::sqrt(0.95 * 0.05 / kReplications);
  for (const auto& [name, c] : {std::pair{std::string("IPS"), ips},
                                {std::string("SNIPS"), snips},
                                {std::string("DR"), dr}}) {
    const double clustered = c.clustered / double{kReplications},
                 iid = c.iid / double{kReplications};
    MESSAGE(name, ": coverage of the 95% interval clustered by user ", clustered,
            ", lists taken as independent ", iid);
    CHECK(std::fabs(clustered - 0.95) < tolerance);
    CHECK(iid < 0.95 - tolerance);
  }
}

}  // namespace abrec::stats
