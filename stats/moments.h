// Sufficient statistics of per-user metrics, as small mergeable values (the user is the unit
// of analysis). Built from the store's exact integer sums; the arithmetic is in long double
// on centred sums, so that variances do not lose digits to cancellation (Σy² − (Σy)²/n is
// formed exactly in 128-bit integers first).
#pragma once

#include <cstdint>

#include "base/int128.h"

namespace abrec::stats {

// Σ(a − ā)(b − b̄) over n users from the exact sums Σa, Σb and Σab, without losing digits to
// cancellation (M2 when a = b).
long double CentredCrossSum(std::int64_t n, Int128 sum_a, Int128 sum_b, Int128 sum_ab);

// n, mean and M2 = Σ(y − ȳ)² of one metric. Mergeable with += (Chan et al.'s update).
struct Moments {
  double n = 0;
  long double mean = 0;
  long double m2 = 0;

  // From exact sums Σy and Σy² over n users.
  static Moments FromSums(std::int64_t n, Int128 sum, Int128 sum_sq);
  // From a proportion: x successes among n users (y ∈ {0, 1}).
  static Moments FromCount(std::int64_t n, std::int64_t x);

  // The sample variance s² = M2 / (n − 1); 0 when n < 2.
  long double Variance() const;
  Moments& operator+=(const Moments& o);
};

// Two metrics of the same users, for ratio metrics (y / x, e.g. clicks / impressions) and
// CUPED (y and a pre-experiment covariate x): means, M2 of each and C = Σ(x − x̄)(y − ȳ).
struct CoMoments {
  double n = 0;
  long double mean_x = 0, mean_y = 0;
  long double m2_x = 0, m2_y = 0, c_xy = 0;

  static CoMoments FromSums(std::int64_t n, Int128 sum_x, Int128 sum_x_sq, Int128 sum_y,
                            Int128 sum_y_sq, Int128 sum_xy);
  Moments X() const { return {n, mean_x, m2_x}; }
  Moments Y() const { return {n, mean_y, m2_y}; }
  // Sample covariance C / (n − 1); 0 when n < 2.
  long double Covariance() const;
};

}  // namespace abrec::stats
