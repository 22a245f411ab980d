// CUPED as regression adjustment (Deng, Xu, Kohavi, Walker, WSDM 2013; with several
// covariates and the slope pooled within arms, the ANCOVA estimator of Lin, "Agnostic notes
// on regression adjustments to experimental data", Annals of Applied Statistics 2013): each
// arm's mean of y is adjusted by θᵀ(x̄_arm − x̄), with θ the least-squares slopes of y on the
// pre-experiment covariates x pooled within the arms. Randomisation makes x independent of
// the arm, so the adjusted difference estimates the same effect with a variance smaller by
// about the share of y's variance the covariates explain. The difference of the adjusted
// means equals the treatment coefficient of the OLS fit y ~ 1 + treatment + x.
//
// Users without covariates count with x = 0 (x is a pre-experiment quantity, so that keeps
// the estimate unbiased; it only weakens the reduction).
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "base/int128.h"
#include "stats/moments.h"
#include "stats/relative_interval.h"
#include "stats/result.h"

namespace abrec::stats {

inline constexpr int kMaxCovariates = 2;

// One covariate's exact sums over an arm's users: Σx, Σx², Σx·y.
struct CovariateSums {
  Int128 sum = 0, sum_sq = 0, sum_xy = 0;
};

// An arm's moments of y and up to two covariates: means, M2 of y, the centred cross sums
// C_j = Σ(x_j − x̄_j)(y − ȳ) and the covariates' centred co-moment matrix.
struct CovariateMoments {
  double n = 0;
  int covariates = 0;
  long double mean_y = 0, m2_y = 0;
  std::array<long double, kMaxCovariates> mean_x{}, c_xy{};
  std::array<std::array<long double, kMaxCovariates>, kMaxCovariates> m2_x{};

  // From exact sums over n users: y's Σy and Σy², each covariate's sums, and Σx₀·x₁ (used
  // when there are two covariates).
  static CovariateMoments FromSums(std::int64_t n, Int128 sum_y, Int128 sum_y_sq,
                                   std::span<const CovariateSums> x, Int128 sum_x0_x1 = 0);
};

struct AdjustedMeans {
  // kTooFewUnits: an arm has fewer than 3 users; kZeroVariance: no covariate varies (the
  // adjustment is then the identity and the caller should use the plain means).
  Reason reason = Reason::kOk;
  ArmMean control, treatment;  // adjusted means and the variances of those means
  int covariates = 0;          // used (a covariate without variance is dropped)
  std::array<double, kMaxCovariates> theta{};
  // 1 − Var(adjusted difference) / Var(plain difference).
  double variance_reduction = 0;
};

AdjustedMeans RegressionAdjusted(const CovariateMoments& control,
                                 const CovariateMoments& treatment);

}  // namespace abrec::stats
