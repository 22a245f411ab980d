// CUPED (Deng, Xu, Kohavi, Walker, WSDM 2013): variance reduction with a pre-experiment
// covariate x of the same users (premium held before, products held). Each arm's mean of y is
// adjusted by θ(x̄_arm − x̄), with θ = cov(y, x)/var(x) pooled over the arms; randomisation
// makes x independent of the arm, so the adjusted difference estimates the same effect with
// a variance smaller by about ρ²(x, y). Users without a covariate count with x = 0 (x is a
// pre-experiment quantity, so that keeps the estimate unbiased; it only weakens the
// reduction).
#pragma once

#include "stats/moments.h"
#include "stats/result.h"

namespace abrec::stats {

struct CupedComparison {
  Comparison adjusted;  // the test on the adjusted means (Welch, as CompareMeans)
  double theta = 0;
  double variance_reduction = 0;  // 1 − Var(adjusted difference)/Var(plain difference)
};

// x: the covariate, y: the metric, per arm.
CupedComparison CompareMeansCuped(const CoMoments& control, const CoMoments& treatment,
                                  double alpha = 0.05);

}  // namespace abrec::stats
