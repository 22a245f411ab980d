#include "stats/srm.h"

#include <cmath>
#include <optional>
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

TEST_CASE(
    "users in a bucket that should get none are a mismatch at once; an empty one is left "
    "out") {
  const std::vector<double> weights{0.5, 0.5, 0.0};
  const SrmResult leak = SampleRatioTest(std::vector<std::int64_t>{5000, 5000, 3}, weights);
  CHECK(leak.mismatch);
  CHECK(leak.p_value == 0);
  CHECK(leak.unexpected_bucket == std::optional<std::size_t>{2});
  // However few users: the minimum sample guards an approximation, and this is proof.
  const std::vector<double> middle_closed{0.5, 0.0, 0.5};
  const SrmResult early = SampleRatioTest(std::vector<std::int64_t>{3, 1, 0}, middle_closed);
  CHECK(early.mismatch);
  CHECK(early.unexpected_bucket == std::optional<std::size_t>{1});
  CHECK(SampleRatioTest(std::vector<std::int64_t>{3, 0, 1}, middle_closed).reason ==
        Reason::kTooFewUnits);

  // scipy.stats.chisquare over the buckets of weight > 0 (tests/stats/reference.py).
  for (const auto& c : Reference()["srm_zero_weight"]) {
    CAPTURE(c.dump());
    const SrmResult r = SampleRatioTest(c["counts"].get<std::vector<std::int64_t>>(),
                                        c["weights"].get<std::vector<double>>());
    REQUIRE(r.reason == Reason::kOk);
    CHECK_FALSE(r.unexpected_bucket);
    CHECK(r.chi_squared == doctest::Approx(c["chi2"].get<double>()).epsilon(1e-10));
    CHECK(r.df == c["df"].get<double>());
    CHECK(r.p_value == doctest::Approx(c["p"].get<double>()).epsilon(1e-8));
  }
}

TEST_CASE("inputs outside the test's domain are a reason, not a number") {
  const std::vector<std::int64_t> counts{10, 12};
  CHECK(SampleRatioTest(counts, std::vector<double>{1.0}).reason == Reason::kInvalidInput);
  CHECK(SampleRatioTest(counts, std::vector<double>{0.5, -0.5}).reason == Reason::kInvalidInput);
  CHECK(SampleRatioTest(counts, std::vector<double>{0.5, NAN}).reason == Reason::kInvalidInput);
  CHECK(SampleRatioTest(std::vector<std::int64_t>{10, 0}, std::vector<double>{1.0, 0.0}).reason ==
        Reason::kInvalidInput);  // one bucket: nothing to compare
}

}  // namespace abrec::stats
