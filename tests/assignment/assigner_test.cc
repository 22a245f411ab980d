#include "assignment/assigner.h"

#include <array>
#include <cmath>
#include <string>

#include <doctest/doctest.h>

#include "assignment/hash.h"

namespace abrec {
namespace {

// Critical values of the chi-squared distribution at p = 0.001, from
// scipy.stats.chi2.ppf(0.999, df) (Debian python3-scipy 1.10):
constexpr double kChi2Crit99 = 148.23035916510173;  // df = 99
constexpr double kChi2Crit1 = 10.827566170662733;   // df = 1

std::string UserId(int i) { return "user-" + std::to_string(i); }

AssignmentSpec FiftyFifty(std::string seed, double coverage = 1.0) {
  return AssignmentSpec(std::move(seed), std::nullopt, coverage, {0.5, 0.5},
                        AssignMode::kRandomized);
}

}  // namespace

TEST_CASE("the v2 hash is uniform: chi-squared of 1,000,000 ids over 100 buckets") {
  std::array<long, 100> counts{};
  constexpr int kN = 1'000'000;
  for (int i = 0; i < kN; ++i) {
    const double h = HashV2Unchecked("recsys_v2_hybrid", UserId(i));
    ++counts[static_cast<std::size_t>(h * 100)];
  }
  double chi2 = 0;
  const double expected = kN / 100.0;
  for (const long c : counts)
    chi2 += (static_cast<double>(c) - expected) * (static_cast<double>(c) - expected) / expected;
  CAPTURE(chi2);
  CHECK(chi2 < kChi2Crit99);
}

TEST_CASE("two experiments' assignments are independent") {
  const Population pop(PopulationSplit{});
  const auto a = FiftyFifty("experiment-a");
  const auto b = FiftyFifty("experiment-b");
  double table[2][2] = {};
  constexpr int kN = 200'000;
  for (int i = 0; i < kN; ++i) {
    const auto da = Assign(pop, a, UserId(i));
    const auto db = Assign(pop, b, UserId(i));
    REQUIRE(da->variant >= 0);
    table[da->variant][db->variant] += 1;
  }
  // Pearson chi-squared test of independence on the 2x2 table (df = 1).
  double chi2 = 0;
  for (int r = 0; r < 2; ++r) {
    for (int c = 0; c < 2; ++c) {
      const double e = (table[r][0] + table[r][1]) * (table[0][c] + table[1][c]) / kN;
      chi2 += (table[r][c] - e) * (table[r][c] - e) / e;
    }
  }
  CAPTURE(chi2);
  CHECK(chi2 < kChi2Crit1);
}

TEST_CASE("ramping coverage from 10% to 50% moves nobody already enrolled") {
  const Population pop(PopulationSplit{});
  const auto at10 = FiftyFifty("ramp", 0.1);
  const auto at50 = FiftyFifty("ramp", 0.5);
  int enrolled10 = 0, enrolled50 = 0;
  for (int i = 0; i < 100'000; ++i) {
    const auto d10 = Assign(pop, at10, UserId(i));
    const auto d50 = Assign(pop, at50, UserId(i));
    if (d10->variant >= 0) {
      ++enrolled10;
      CHECK(d50->variant == d10->variant);
    }
    if (d50->variant >= 0) ++enrolled50;
  }
  // 10% and 50% of users, within 5 binomial standard deviations.
  CHECK(std::abs(enrolled10 - 10'000) < 5 * std::sqrt(100'000 * 0.1 * 0.9));
  CHECK(std::abs(enrolled50 - 50'000) < 5 * std::sqrt(100'000 * 0.5 * 0.5));
}

TEST_CASE("a user's holdout membership is the same in every experiment") {
  const Population pop(PopulationSplit{});
  const AssignmentSpec specs[] = {
      FiftyFifty("alpha"),
      AssignmentSpec("beta", NamespaceRange{"portal", 0.0, 0.5}, 1.0, {0.5, 0.5},
                     AssignMode::kRandomized),
      AssignmentSpec("gamma", std::nullopt, 0.3, {0.2, 0.3, 0.5}, AssignMode::kRandomized),
      AssignmentSpec("delta", std::nullopt, 1.0, {0.5, 0.5}, AssignMode::kRollout, 1),
  };
  int holdout = 0, exploration = 0;
  constexpr int kN = 100'000;
  for (int i = 0; i < kN; ++i) {
    const auto first = Assign(pop, specs[0], UserId(i));
    for (const auto& s : specs) {
      const auto d = Assign(pop, s, UserId(i));
      REQUIRE(d->population == first->population);
      REQUIRE(d->population_hash == first->population_hash);
    }
    holdout += first->population == PopulationBucket::kHoldout;
    exploration += first->population == PopulationBucket::kExploration;
  }
  const double sd = std::sqrt(kN * 0.05 * 0.95);
  CHECK(std::abs(holdout - 5000) < 5 * sd);
  CHECK(std::abs(exploration - 5000) < 5 * sd);
}

TEST_CASE("holdout and exploration users carry the variant they would have had") {
  const Population pop(PopulationSplit{});
  const auto spec = FiftyFifty("counterfactual");
  int seen_holdout = 0;
  for (int i = 0; i < 20'000; ++i) {
    const auto d = Assign(pop, spec, UserId(i));
    REQUIRE(d.has_value());
    CHECK(d->variant == ChooseVariation(d->experiment_hash, spec.ranges()));
    if (d->population == PopulationBucket::kHoldout) {
      ++seen_holdout;
      CHECK(d->rule == AssignRule::kHoldout);
    }
  }
  CHECK(seen_holdout > 0);
}

TEST_CASE("phases: rollout gives everyone in the namespace one variant, stopped enrolls nobody") {
  const Population pop(PopulationSplit{});
  const NamespaceRange ns{"portal", 0.2, 0.7};
  const AssignmentSpec rollout("r", ns, 0.1, {0.5, 0.5}, AssignMode::kRollout, 1);
  const AssignmentSpec stopped("r", ns, 1.0, {0.5, 0.5}, AssignMode::kStopped);
  for (int i = 0; i < 10'000; ++i) {
    const auto d = Assign(pop, rollout, UserId(i));
    const bool in_ns = InNamespace(UserId(i), ns);
    CHECK(d->in_namespace == in_ns);
    CHECK(d->variant == (in_ns ? 1 : -1));
    CHECK(Assign(pop, stopped, UserId(i))->variant == -1);
  }
}

TEST_CASE("experiments in disjoint ranges of one namespace never share a user") {
  const Population pop(PopulationSplit{});
  const AssignmentSpec left("left", NamespaceRange{"portal", 0.0, 0.5}, 1.0, {0.5, 0.5},
                            AssignMode::kRandomized);
  const AssignmentSpec right("right", NamespaceRange{"portal", 0.5, 1.0}, 1.0, {0.5, 0.5},
                             AssignMode::kRandomized);
  for (int i = 0; i < 20'000; ++i) {
    const bool in_left = Assign(pop, left, UserId(i))->InExperiment();
    const bool in_right = Assign(pop, right, UserId(i))->InExperiment();
    CHECK(in_left != in_right);  // full coverage: exactly one of the two
  }
}

TEST_CASE("assignment rejects an id that is not valid UTF-8") {
  const Population pop(PopulationSplit{});
  const auto d = Assign(pop, FiftyFifty("x"), "bad\xC3");
  REQUIRE_FALSE(d.has_value());
  CHECK(d.error().field == "user_id");
}

}  // namespace abrec
