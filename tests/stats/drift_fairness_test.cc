#include <cmath>
#include <random>
#include <vector>

#include <doctest/doctest.h>

#include "stats/drift.h"
#include "stats/fairness.h"
#include "tests/stats/reference_values.h"

namespace abrec::stats {

TEST_CASE("drift: PSI is the symmetrised KL divergence and chi2 equals scipy's") {
  // scipy.stats.chi2_contingency(correction=False); PSI = entropy(q, p) + entropy(p, q)
  // (scipy.stats.entropy) where no share is zero.
  for (const auto& c : Reference()["contingency"]["drift"]) {
    CAPTURE(c.dump());
    const auto ref = c["reference"].get<std::vector<std::int64_t>>();
    const auto cur = c["current"].get<std::vector<std::int64_t>>();
    const DriftResult r = Drift(ref, cur);
    REQUIRE(r.reason == Reason::kOk);
    CHECK(r.chi_squared == doctest::Approx(c["chi2"].get<double>()).epsilon(1e-10));
    CHECK(r.df == c["df"].get<double>());
    CHECK(r.p_value == doctest::Approx(c["p"].get<double>()).epsilon(1e-8).scale(1e-300));
    if (!c["psi"].is_null()) CHECK(r.psi == doctest::Approx(c["psi"].get<double>()).epsilon(1e-10));
  }
  // A product new in the current window: its reference share is floored at 1e-4. By hand:
  // shares (0.5, 0.5, 0) -> (0.45, 0.45, 0.1): 2 × (-0.05 ln 0.9) + (0.1 − 1e-4) ln(0.1/1e-4).
  const std::vector<std::int64_t> before{50, 50, 0}, after{45, 45, 10};
  const double expected = 2 * (-0.05 * std::log(0.9)) + (0.1 - 1e-4) * std::log(0.1 / 1e-4);
  CHECK(Drift(before, after).psi == doctest::Approx(expected).epsilon(1e-12));
  CHECK(Drift(before, after).psi > kPsiAlert);
  CHECK(Drift(std::vector<std::int64_t>{0, 0}, before).reason == Reason::kTooFewUnits);
}

TEST_CASE("demographic parity: gap, ratio and the chi2 test equal scipy's") {
  // scipy.stats.chi2_contingency(correction=False) of groups × {shown, not shown}.
  for (const auto& c : Reference()["contingency"]["parity"]) {
    CAPTURE(c.dump());
    std::vector<GroupCount> groups;
    double low = 1, high = 0;
    for (const auto& g : c["groups"]) {
      groups.push_back({g[0].get<std::int64_t>(), g[1].get<std::int64_t>()});
      const double rate = g[1].get<double>() / g[0].get<double>();
      low = std::min(low, rate);
      high = std::max(high, rate);
    }
    const ParityResult r = DemographicParity(groups);
    REQUIRE(r.reason == Reason::kOk);
    CHECK(r.gap == doctest::Approx(high - low));
    CHECK(r.ratio == doctest::Approx(low / high));
    CHECK(r.chi_squared == doctest::Approx(c["chi2"].get<double>()).epsilon(1e-10));
    CHECK(r.df == c["df"].get<double>());
    CHECK(r.p_value == doctest::Approx(c["p"].get<double>()).epsilon(1e-8).scale(1e-300));
  }
  // The four-fifths reading: 30% against 20% is a ratio of 2/3.
  const std::vector<GroupCount> skewed{{5000, 1500}, {5200, 1040}};
  CHECK(DemographicParity(skewed).ratio == doctest::Approx(0.2 / 0.3));
  CHECK(DemographicParity(std::vector<GroupCount>{{100, 5}}).reason == Reason::kTooFewUnits);
}

}  // namespace abrec::stats

namespace abrec::stats {

TEST_CASE("the gate refuses a candidate further from parity than the baseline beyond the margin") {
  const std::vector<GroupCount> baseline{{1000, 100}, {1000, 110}};  // gap 0.01
  const std::vector<GroupCount> fair{{1000, 105}, {1000, 120}};      // gap 0.015
  const std::vector<GroupCount> biased{{1000, 60}, {1000, 180}};     // gap 0.12
  const ParityResult b = DemographicParity(baseline);
  CHECK_FALSE(FurtherFromParity(DemographicParity(fair), b, 0.02));
  CHECK(FurtherFromParity(DemographicParity(biased), b, 0.02));
}

}  // namespace abrec::stats

namespace abrec::stats {

// Cumulative per-user counts of one product for groups g and h, in the variant and control,
// over `looks` looks of `per_look` new users per cell, shown with the given probabilities.
std::vector<PairCounts> SimulatedLooks(std::mt19937_64& rng, int looks, int per_look,
                                       const double (&rates)[4]) {
  std::vector<PairCounts> out;
  PairCounts c;
  GroupCount* cells[] = {&c.variant_g, &c.variant_h, &c.control_g, &c.control_h};
  for (int l = 0; l < looks; ++l) {
    for (int i = 0; i < 4; ++i) {
      std::binomial_distribution<std::int64_t> shown(per_look, rates[i]);
      cells[i]->users += per_look;
      cells[i]->recommended += shown(rng);
    }
    out.push_back(c);
  }
  return out;
}

TEST_CASE(
    "wider gap than control: at the boundary (both arms equally unfair) the always-valid test "
    "rejects at most alpha of the time over 20 looks (Monte Carlo, 4,000 runs)") {
  // The intersection-union null d_v ≤ |d_c| at its least favourable point d_v = d_c > 0: the
  // test of d_v − d_c > 0 is exactly at its boundary, that of d_v + d_c > 0 far from it.
  const double rates[4] = {0.30, 0.18, 0.30, 0.18};
  const SequentialOptions o{.alpha = 0.05, .n_star = 5'000, .sided = Sided::kGreater};
  std::mt19937_64 rng(20261207);
  int rejected = 0, looked = 0;
  constexpr int kRuns = 4'000;
  for (int run = 0; run < kRuns; ++run) {
    const auto looks = SimulatedLooks(rng, 20, 100, rates);
    const WiderGapResult r = WiderGapThanControl(looks, o);
    REQUIRE(r.reason == Reason::kOk);
    rejected += r.p_value <= o.alpha;
    looked += r.p_value < 1;
    // The bound and the running-minimum p-value agree.
    CHECK((r.bound > 0) == (r.p_value < o.alpha));
  }
  MESSAGE("rejected at the boundary: ", rejected, " of ", kRuns);
  CHECK(rejected <= o.alpha * kRuns);
  CHECK(looked > 0);
}

TEST_CASE("wider gap than control: a much wider gap is found; too few users is a reason") {
  std::mt19937_64 rng(20261208);
  const double rates[4] = {0.30, 0.05, 0.16, 0.14};  // d_v 0.25 against d_c 0.02
  const auto looks = SimulatedLooks(rng, 10, 200, rates);
  const WiderGapResult r =
      WiderGapThanControl(looks, {.alpha = 0.001, .n_star = 5'000, .sided = Sided::kGreater});
  REQUIRE(r.reason == Reason::kOk);
  CHECK(r.p_value < 0.001);
  CHECK(r.bound > 0);
  CHECK(r.estimate == doctest::Approx(r.variant_gap - std::fabs(r.control_gap)));
  // The other orientation: the variant favours g, so "h over g" has nothing to show.
  std::vector<PairCounts> swapped;
  for (const PairCounts& l : looks) {
    swapped.push_back({l.variant_h, l.variant_g, l.control_h, l.control_g});
  }
  CHECK(WiderGapThanControl(swapped, {.alpha = 0.05}).p_value == 1);
  // No look with 30 users in every cell: no test.
  const std::vector<PairCounts> small{{{29, 10}, {40, 1}, {40, 5}, {40, 5}}};
  CHECK(WiderGapThanControl(small, {.alpha = 0.05}).reason == Reason::kTooFewUnits);
  // A share of 0 or 1 still has a variance: the test runs.
  const std::vector<PairCounts> extreme{{{100, 100}, {100, 0}, {100, 50}, {100, 50}}};
  const WiderGapResult e = WiderGapThanControl(extreme, {.alpha = 0.05});
  CHECK(e.reason == Reason::kOk);
  CHECK(e.p_value < 0.05);
  // A level outside (0, 0.5) is an input error, not a crash.
  CHECK(WiderGapThanControl(extreme, {.alpha = 0.7}).reason == Reason::kInvalidInput);
}

}  // namespace abrec::stats
