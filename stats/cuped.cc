#include "stats/cuped.h"

#include <cmath>

namespace abrec::stats {
namespace {

constexpr std::size_t kK = kMaxCovariates;
using Vec = std::array<long double, kK>;
using Mat = std::array<Vec, kK>;

// θ = M⁻¹c for the covariates kept in `use` (1 or 2 of them); false when M is singular.
bool Solve(const Mat& m, const Vec& c, const std::array<bool, kK>& use, Vec& theta) {
  theta = {};
  if (use[0] && use[1]) {
    const long double det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    // Collinear covariates (one a multiple of the other): no unique slope pair.
    if (!(std::fabs(det) > 1e-12L * m[0][0] * m[1][1])) return false;
    theta[0] = (m[1][1] * c[0] - m[0][1] * c[1]) / det;
    theta[1] = (m[0][0] * c[1] - m[1][0] * c[0]) / det;
    return true;
  }
  for (std::size_t j = 0; j < kK; ++j) {
    if (use[j]) theta[j] = c[j] / m[j][j];
  }
  return true;
}

// The residual sum of squares Σ(y − ȳ − θᵀ(x − x̄))² of one arm: M2_y − 2θᵀC + θᵀMθ.
long double ResidualM2(const CovariateMoments& a, const Vec& theta) {
  long double r = a.m2_y;
  for (std::size_t i = 0; i < kK; ++i) {
    r -= 2 * theta[i] * a.c_xy[i];
    for (std::size_t j = 0; j < kK; ++j) r += theta[i] * theta[j] * a.m2_x[i][j];
  }
  return r > 0 ? r : 0;
}

}  // namespace

CovariateMoments CovariateMoments::FromSums(std::int64_t n, Int128 sum_y, Int128 sum_y_sq,
                                            std::span<const CovariateSums> x, Int128 sum_x0_x1) {
  CovariateMoments m;
  if (n <= 0) return m;
  const auto ln = static_cast<long double>(n);
  m.n = static_cast<double>(n);
  m.covariates = static_cast<int>(std::min<std::size_t>(x.size(), kMaxCovariates));
  m.mean_y = static_cast<long double>(sum_y) / ln;
  m.m2_y = CentredCrossSum(n, sum_y, sum_y, sum_y_sq);
  for (std::size_t j = 0; j < static_cast<std::size_t>(m.covariates); ++j) {
    const CovariateSums& s = x[j];
    m.mean_x[j] = static_cast<long double>(s.sum) / ln;
    m.c_xy[j] = CentredCrossSum(n, s.sum, sum_y, s.sum_xy);
    m.m2_x[j][j] = CentredCrossSum(n, s.sum, s.sum, s.sum_sq);
  }
  if (m.covariates == 2) {
    m.m2_x[0][1] = m.m2_x[1][0] = CentredCrossSum(n, x[0].sum, x[1].sum, sum_x0_x1);
  }
  return m;
}

AdjustedMeans RegressionAdjusted(const CovariateMoments& c, const CovariateMoments& t) {
  AdjustedMeans r;
  if (c.n < 3 || t.n < 3) {
    r.reason = Reason::kTooFewUnits;
    return r;
  }
  // Within-arm pooled moments: the slopes of the OLS fit with an arm indicator.
  const auto k = static_cast<std::size_t>(std::min(c.covariates, t.covariates));
  Mat m{};
  Vec cross{};
  std::array<bool, kK> use{};
  for (std::size_t i = 0; i < k; ++i) {
    cross[i] = c.c_xy[i] + t.c_xy[i];
    for (std::size_t j = 0; j < k; ++j) m[i][j] = c.m2_x[i][j] + t.m2_x[i][j];
    use[i] = m[i][i] > 0;
  }
  Vec theta{};
  if (!Solve(m, cross, use, theta)) {
    // Collinear: keep the covariate that explains more of y on its own.
    const long double r0 = cross[0] * cross[0] / m[0][0], r1 = cross[1] * cross[1] / m[1][1];
    use[r0 >= r1 ? 1 : 0] = false;
    Solve(m, cross, use, theta);
  }
  for (std::size_t j = 0; j < kK; ++j) {
    r.covariates += use[j] ? 1 : 0;
    r.theta[j] = static_cast<double>(theta[j]);
  }
  if (r.covariates == 0) {
    r.reason = Reason::kZeroVariance;
    return r;
  }
  const long double n = static_cast<long double>(c.n) + static_cast<long double>(t.n);
  auto adjusted = [&](const CovariateMoments& a) {
    long double mean = a.mean_y;
    for (std::size_t j = 0; j < kK; ++j) {
      const long double pooled_x = (c.mean_x[j] * static_cast<long double>(c.n) +
                                    t.mean_x[j] * static_cast<long double>(t.n)) /
                                   n;
      mean -= theta[j] * (a.mean_x[j] - pooled_x);
    }
    const long double an = a.n;
    return ArmMean{static_cast<double>(mean),
                   static_cast<double>(ResidualM2(a, theta) / (an - 1) / an)};
  };
  r.control = adjusted(c);
  r.treatment = adjusted(t);
  const double plain = static_cast<double>(c.m2_y / (c.n - 1) / c.n + t.m2_y / (t.n - 1) / t.n);
  if (plain > 0) {
    r.variance_reduction = 1 - (r.control.variance + r.treatment.variance) / plain;
  }
  return r;
}

}  // namespace abrec::stats
