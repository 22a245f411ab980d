#include "stats/ratio_metric.h"

#include <cmath>

#include "stats/boost_math.h"
#include "stats/fixed_horizon.h"

namespace abrec::stats {

RatioEstimate Ratio(const CoMoments& m) {
  RatioEstimate r;
  if (m.n < 2) {
    r.reason = Reason::kTooFewUnits;
    return r;
  }
  const long double mx = m.mean_x, my = m.mean_y;
  if (mx == 0) {
    r.reason = Reason::kZeroBaseline;
    return r;
  }
  const long double ratio = my / mx;
  const long double vx = m.X().Variance(), vy = m.Y().Variance(), cxy = m.Covariance();
  const long double var =
      (vy - 2 * ratio * cxy + ratio * ratio * vx) / (static_cast<long double>(m.n) * mx * mx);
  r.ratio = static_cast<double>(ratio);
  r.variance = static_cast<double>(var < 0 ? 0 : var);
  return r;
}

Comparison CompareRatios(const CoMoments& control, const CoMoments& treatment, double alpha) {
  Comparison out;
  const RatioEstimate c = Ratio(control), t = Ratio(treatment);
  out.control_mean = c.ratio;
  out.treatment_mean = t.ratio;
  if (c.reason != Reason::kOk || t.reason != Reason::kOk) {
    out.reason = c.reason != Reason::kOk ? c.reason : t.reason;
    return out;
  }
  const double se = std::sqrt(c.variance + t.variance);
  const double diff = t.ratio - c.ratio;
  if (!(se > 0) || !std::isfinite(se)) {
    out.reason = Reason::kZeroVariance;
    out.absolute.estimate = diff;
    return out;
  }
  out.statistic = diff / se;
  out.p_value = NormalTwoSidedP(out.statistic);
  const double half = NormalQuantile(alpha) * se;
  out.absolute = {diff, se, {diff - half, diff + half}};
  out.relative =
      RelativeLift(c.ratio, c.variance, t.ratio, t.variance, alpha, &out.relative_reason);
  return out;
}

}  // namespace abrec::stats
