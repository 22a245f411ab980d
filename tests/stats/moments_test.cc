#include "stats/moments.h"

#include <random>

#include <doctest/doctest.h>

namespace abrec::stats {

TEST_CASE("moments from exact sums keep their digits where the textbook formula loses them") {
  // Values 1e9 + {0, 1, 2} cents: mean 1e9 + 1, variance exactly 1. In doubles,
  // Σy² − (Σy)²/n cancels 18 of its ~19 digits; the 128-bit centred sum does not.
  const Int128 a = 1'000'000'000;
  const Int128 sum = 3 * a + 3;
  const Int128 sum_sq = a * a + (a + 1) * (a + 1) + (a + 2) * (a + 2);
  const Moments m = Moments::FromSums(3, sum, sum_sq);
  CHECK(static_cast<double>(m.mean) == 1'000'000'001.0);
  CHECK(static_cast<double>(m.Variance()) == 1.0);
}

TEST_CASE("merged moments equal the moments of the pooled data") {
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<int> value(0, 100'000);
  Int128 s1 = 0, q1 = 0, s2 = 0, q2 = 0;
  for (int i = 0; i < 700; ++i) {
    const Int128 v = value(rng);
    s1 += v;
    q1 += v * v;
  }
  for (int i = 0; i < 300; ++i) {
    const Int128 v = value(rng);
    s2 += v;
    q2 += v * v;
  }
  Moments merged = Moments::FromSums(700, s1, q1);
  merged += Moments::FromSums(300, s2, q2);
  const Moments pooled = Moments::FromSums(1000, s1 + s2, q1 + q2);
  CHECK(merged.n == 1000);
  CHECK(static_cast<double>(merged.mean) ==
        doctest::Approx(static_cast<double>(pooled.mean)).epsilon(1e-15));
  CHECK(static_cast<double>(merged.m2) ==
        doctest::Approx(static_cast<double>(pooled.m2)).epsilon(1e-12));
}

TEST_CASE("co-moments give the covariance of two metrics of the same users") {
  // x = 1, 2, 3, 4; y = 2, 4, 5, 9 (Σxy = 61): by hand, deviations -1.5, -0.5, 0.5, 1.5 and
  // -3, -1, 0, 4 give Σ = 4.5 + 0.5 + 0 + 6 = 11, so cov = 11/3 and var(x) = 5/3.
  const CoMoments c = CoMoments::FromSums(4, 10, 30, 20, 126, 61);
  CHECK(static_cast<double>(c.Covariance()) == doctest::Approx(11.0 / 3));
  CHECK(static_cast<double>(c.X().Variance()) == doctest::Approx(1.6666666666666667));
}

}  // namespace abrec::stats

namespace abrec::stats {

TEST_CASE("moments stay exact where n·Σy² would pass 2^127") {
  // 20 million users, half with 1e12 cents and half with 1e12 + 2 (review, 2026-11-29: the
  // first version formed n·Σy² = 4e38 > 1.7e38 here). Mean 1e12 + 1, variance n/(n − 1).
  const std::int64_t n = 20'000'000;
  const Int128 a = 1'000'000'000'000, b = a + 2;
  const Int128 sum = (n / 2) * (a + b), sum_sq = (n / 2) * (a * a + b * b);
  const Moments m = Moments::FromSums(n, sum, sum_sq);
  CHECK(static_cast<double>(m.mean) == 1'000'000'000'001.0);
  CHECK(static_cast<double>(m.Variance()) ==
        doctest::Approx(static_cast<double>(n) / static_cast<double>(n - 1)).epsilon(1e-12));
}

}  // namespace abrec::stats
