#include <cmath>
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
