#include "stats/offline_metrics.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/stats/reference_values.h"

namespace abrec::stats {

TEST_CASE("AUC equals scipy's Mann-Whitney U, and log loss scipy's Bernoulli log-pmf") {
  for (const auto& c : Reference()["classification"]) {
    const auto scores = c["scores"].get<std::vector<double>>();
    const auto labels = c["labels"].get<std::vector<int>>();
    const AucResult auc = Auc(scores, labels);
    REQUIRE(auc.reason == Reason::kOk);
    CHECK(auc.auc == doctest::Approx(c["auc"].get<double>()).epsilon(1e-12));
    CHECK(LogLoss(scores, labels) == doctest::Approx(c["logloss"].get<double>()).epsilon(1e-12));
  }
}

TEST_CASE("AUC by ranks equals the brute-force count over all pairs") {
  // The naive oracle: every (positive, negative) pair, 1 when the positive scores higher,
  // ½ on a tie.
  std::mt19937_64 rng(41);
  std::uniform_int_distribution<int> score(0, 20);
  std::bernoulli_distribution label(0.3);
  std::vector<double> s(500);
  std::vector<int> y(500);
  for (std::size_t i = 0; i < s.size(); ++i) {
    y[i] = label(rng) ? 1 : 0;
    s[i] = score(rng) + (y[i] ? 3 : 0);
  }
  double wins = 0, pairs = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    for (std::size_t j = 0; j < s.size(); ++j) {
      if (y[i] != 1 || y[j] != 0) continue;
      pairs += 1;
      wins += s[i] > s[j] ? 1 : (s[i] == s[j] ? 0.5 : 0);
    }
  }
  CHECK(Auc(s, y).auc == doctest::Approx(wins / pairs).epsilon(1e-14));
  CHECK(Auc(std::vector<double>{0.2, 0.4}, std::vector<int>{1, 1}).reason == Reason::kTooFewUnits);
}

TEST_CASE("log loss clamps certainty instead of returning infinity") {
  const std::vector<double> p{0.0, 1.0};
  const std::vector<int> wrong{1, 0};
  CHECK(LogLoss(p, wrong) == doctest::Approx(-std::log(1e-15)));
}

TEST_CASE("calibration bins and the expected calibration error, by hand") {
  // Four predictions in two of ten bins: bin [0.1, 0.2) holds 0.1, 0.15 with outcomes 0, 0
  // (mean 0.125, rate 0); bin [0.9, 1] holds 0.9, 1.0 with outcomes 1, 0 (mean 0.95, rate
  // 0.5). ECE = 2/4 · 0.125 + 2/4 · 0.45 = 0.2875.
  const std::vector<double> p{0.1, 0.15, 0.9, 1.0};
  const std::vector<int> y{0, 0, 1, 0};
  const Calibration c = Calibrate(p, y);
  REQUIRE(c.bins.size() == 10);
  CHECK(c.bins[1].count == 2);
  CHECK(c.bins[1].mean_predicted == doctest::Approx(0.125));
  CHECK(c.bins[9].count == 2);
  CHECK(c.bins[9].observed_rate == doctest::Approx(0.5));
  CHECK(c.ece == doctest::Approx(0.2875));
  // Perfectly calibrated predictions have (nearly) no error: outcomes drawn at p.
  std::mt19937_64 rng(43);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<double> ps(200'000);
  std::vector<int> ys(ps.size());
  for (std::size_t i = 0; i < ps.size(); ++i) {
    ps[i] = unit(rng);
    ys[i] = unit(rng) < ps[i] ? 1 : 0;
  }
  CHECK(Calibrate(ps, ys).ece < 0.01);
}

TEST_CASE("NDCG, hit and precision at k, by hand") {
  // User a, ranked by score: relevances 3, 2, 3, 0, 1, 2 (the classic example). With gain
  // 2^rel − 1 and discount log2(rank + 1), at k = 6:
  //   DCG  = 7/1 + 3/log2(3) + 7/2 + 0 + 1/log2(6) + 3/log2(7)
  //   IDCG = 7/1 + 7/log2(3) + 3/2 + 3/log2(5) + 1/log2(6) + 0
  // User b: no relevant item (left out). User c: its one relevant item ranks 3rd, and a tie
  // at the top is broken by product id ("p1" before "p2").
  std::vector<std::vector<RankedItem>> users(3);
  const double rel[] = {3, 2, 3, 0, 1, 2};
  for (int i = 0; i < 6; ++i) users[0].push_back({"a" + std::to_string(i), 10.0 - i, rel[i]});
  users[1] = {{"x", 1, 0}, {"y", 2, 0}};
  users[2] = {{"p2", 5, 0}, {"p1", 5, 0}, {"p3", 4, 1}, {"p4", 1, 0}};
  const double dcg = 7 + 3 / std::log2(3.0) + 3.5 + 1 / std::log2(6.0) + 3 / std::log2(7.0);
  const double idcg = 7 + 7 / std::log2(3.0) + 1.5 + 3 / std::log2(5.0) + 1 / std::log2(6.0);
  const RankingMetrics at6 = EvaluateRanking(users, 6);
  CHECK(at6.users == 2);
  CHECK(at6.users_without_relevant == 1);
  // User c at k = 6: DCG 1/log2(4) = 0.5, IDCG 1: NDCG 0.5.
  CHECK(at6.ndcg == doctest::Approx((dcg / idcg + 0.5) / 2));
  CHECK(at6.hit == doctest::Approx(1.0));
  // k = 1: a's top item is relevant (hit, precision 1, NDCG 1); c's top is p1, not relevant.
  const RankingMetrics at1 = EvaluateRanking(users, 1);
  CHECK(at1.hit == doctest::Approx(0.5));
  CHECK(at1.precision == doctest::Approx(0.5));
  CHECK(at1.ndcg == doctest::Approx(0.5));
  // k = 3: all of a's top 3 are relevant (3, 2, 3); c has 1 of 3.
  CHECK(EvaluateRanking(users, 3).precision == doctest::Approx((3.0 / 3 + 1.0 / 3) / 2));
  CHECK(EvaluateRanking(std::vector<std::vector<RankedItem>>{users[1]}, 3).reason ==
        Reason::kTooFewUnits);
}

}  // namespace abrec::stats

namespace abrec::stats {

TEST_CASE("calibration by group finds the group a model is miscalibrated for") {
  // Group "a": outcomes drawn at the predicted p (calibrated); group "b": at p / 2.
  std::mt19937_64 rng(47);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<double> p;
  std::vector<int> y;
  std::vector<std::string> g;
  for (int i = 0; i < 100'000; ++i) {
    const bool b = i % 2 == 1;
    p.push_back(unit(rng));
    y.push_back(unit(rng) < (b ? p.back() / 2 : p.back()) ? 1 : 0);
    g.push_back(b ? "b" : "a");
  }
  const auto by_group = CalibrateByGroup(p, y, g);
  REQUIRE(by_group.size() == 2);
  CHECK(by_group.at("a").ece < 0.01);
  // Expected ECE for "b": mean |p − p/2| = mean p/2 = 0.25.
  CHECK(by_group.at("b").ece == doctest::Approx(0.25).epsilon(0.05));
}

}  // namespace abrec::stats
