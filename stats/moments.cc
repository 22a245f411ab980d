#include "stats/moments.h"

namespace abrec::stats {

// The centred cross sum Σ(a − ā)(b − b̄) = Σab − Σa·Σb/n. Written as Σab − q·Σb − r·Σb/n
// with Σa = q·n + r (0 ≤ |r| < n): the large part cancels exactly in 128-bit integers, and
// every product stays far below 2^127 (q·Σb is about ā·Σb; premiums of 1e12 cents and 1e9
// users give 1e33) where n·Σab would overflow at about 1e7 such users.
long double CentredCrossSum(std::int64_t n, Int128 sum_a, Int128 sum_b, Int128 sum_ab) {
  if (n <= 0) return 0;
  const Int128 q = sum_a / n, r = sum_a % n;
  return static_cast<long double>(sum_ab - q * sum_b) - static_cast<long double>(r) *
                                                            static_cast<long double>(sum_b) /
                                                            static_cast<long double>(n);
}

Moments Moments::FromSums(std::int64_t n, Int128 sum, Int128 sum_sq) {
  if (n <= 0) return {};
  return {static_cast<double>(n), static_cast<long double>(sum) / static_cast<long double>(n),
          CentredCrossSum(n, sum, sum, sum_sq)};
}

Moments Moments::FromCount(std::int64_t n, std::int64_t x) { return FromSums(n, x, x); }

long double Moments::Variance() const { return n < 2 ? 0 : m2 / static_cast<long double>(n - 1); }

Moments& Moments::operator+=(const Moments& o) {
  if (o.n == 0) return *this;
  if (n == 0) return *this = o;
  const long double total = static_cast<long double>(n) + static_cast<long double>(o.n);
  const long double delta = o.mean - mean;
  m2 += o.m2 + delta * delta * static_cast<long double>(n) * static_cast<long double>(o.n) / total;
  mean += delta * static_cast<long double>(o.n) / total;
  n += o.n;
  return *this;
}

CoMoments CoMoments::FromSums(std::int64_t n, Int128 sum_x, Int128 sum_x_sq, Int128 sum_y,
                              Int128 sum_y_sq, Int128 sum_xy) {
  if (n <= 0) return {};
  const auto ln = static_cast<long double>(n);
  return {static_cast<double>(n),
          static_cast<long double>(sum_x) / ln,
          static_cast<long double>(sum_y) / ln,
          CentredCrossSum(n, sum_x, sum_x, sum_x_sq),
          CentredCrossSum(n, sum_y, sum_y, sum_y_sq),
          CentredCrossSum(n, sum_x, sum_y, sum_xy)};
}

long double CoMoments::Covariance() const {
  return n < 2 ? 0 : c_xy / static_cast<long double>(n - 1);
}

}  // namespace abrec::stats
