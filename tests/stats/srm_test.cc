#include "stats/srm.h"

#include <cmath>
#include <vector>

#include <doctest/doctest.h>

#include "tests/stats/reference_values.h"

namespace abrec::stats {

TEST_CASE("sample ratio mismatch equals scipy's chisquare, Kohavi's example included") {
  // scipy.stats.chisquare(counts, expected); the first case is Kohavi, Tang and Xu's
  // example (821,588 vs 815,482 users on a 50/50 split: p ≈ 1.8e-6).
  for (const auto& c : Reference()["srm"]) {
    CAPTURE(c.dump());
    const auto counts = c["counts"].get<std::vector<std::int64_t>>();
    const auto weights = c["weights"].get<std::vector<double>>();
    const SrmResult r = SampleRatioTest(counts, weights);
    REQUIRE(r.reason == Reason::kOk);
    CHECK(r.chi_squared == doctest::Approx(c["chi2"].get<double>()).epsilon(1e-10));
    CHECK(r.df == static_cast<double>(counts.size() - 1));
    CHECK(r.p_value == doctest::Approx(c["p"].get<double>()).epsilon(1e-8).scale(1e-300));
    CHECK(r.mismatch == (c["p"].get<double>() < 0.001));
  }
  const std::vector<std::int64_t> kohavi{821588, 815482};
  const std::vector<double> half{0.5, 0.5};
  CHECK(SampleRatioTest(kohavi, half).p_value == doctest::Approx(1.8e-6).epsilon(0.02));
}

TEST_CASE("SRM stays silent below its minimum count") {
  const std::vector<std::int64_t> few{10, 30};
  const std::vector<double> half{0.5, 0.5};
  const SrmResult r = SampleRatioTest(few, half);
  CHECK(r.reason == Reason::kTooFewUnits);
  CHECK_FALSE(r.mismatch);
  CHECK(SampleRatioTest(few, half, 0.001, 20).reason == Reason::kOk);
}

}  // namespace abrec::stats

namespace abrec::stats {

TEST_CASE("users in a bucket that should get none are a mismatch; an empty one is ignored") {
  const std::vector<double> weights{0.5, 0.5, 0.0};
  const SrmResult leak = SampleRatioTest(std::vector<std::int64_t>{5000, 5000, 3}, weights);
  CHECK(leak.mismatch);
  CHECK(leak.p_value == 0);
  const SrmResult fine = SampleRatioTest(std::vector<std::int64_t>{5000, 5000, 0}, weights);
  CHECK_FALSE(fine.mismatch);
  CHECK(std::isfinite(fine.chi_squared));
}

}  // namespace abrec::stats
