// Ratio metrics with the user as the unit, e.g. click rate = Σ clicks / Σ impressions: the
// numerator and denominator are both per-user sums, so the ratio's variance comes from the
// delta method (Deng, Knoblich, Lu, "Applying the delta method in metric analytics", KDD
// 2018), not from treating impressions as independent trials.
#pragma once

#include "stats/moments.h"
#include "stats/result.h"

namespace abrec::stats {

// One arm's ratio Σy/Σx and the delta-method variance of that ratio:
// Var ≈ [V_y − 2 r C_xy + r² V_x] / (n μ_x²), with r = μ_y/μ_x.
struct RatioEstimate {
  Reason reason = Reason::kOk;  // kTooFewUnits (n < 2), kZeroBaseline (Σx = 0)
  double ratio = 0;
  double variance = 0;
};
RatioEstimate Ratio(const CoMoments& m);  // x: the denominator, y: the numerator

// Treatment against control on a ratio metric: the difference of the ratios, its normal
// interval and p-value, and the relative lift by the delta method.
Comparison CompareRatios(const CoMoments& control, const CoMoments& treatment, double alpha = 0.05);

}  // namespace abrec::stats
