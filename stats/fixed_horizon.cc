#include "stats/fixed_horizon.h"

#include <cmath>

#include "stats/boost_math.h"

namespace abrec::stats {
namespace {

namespace bm = boost::math;

Effect Around(double estimate, double se, double half_width) {
  return {estimate, se, {estimate - half_width, estimate + half_width}};
}

}  // namespace

double NormalQuantile(double alpha) {
  return bm::quantile(bm::complement(bm::normal_distribution<double>(), alpha / 2));
}

Effect RelativeLift(double mean_c, double var_mean_c, double mean_t, double var_mean_t,
                    double alpha, Reason* reason) {
  *reason = Reason::kOk;
  if (mean_c == 0) {
    *reason = Reason::kZeroBaseline;
    return {};
  }
  // Delta method for μ_T/μ_C − 1 (GrowthBook's statistics details; Deng et al. 2018):
  // Var ≈ Var(x̄_T)/μ_C² + μ_T² Var(x̄_C)/μ_C⁴.
  const double c2 = mean_c * mean_c;
  const double var = var_mean_t / c2 + mean_t * mean_t * var_mean_c / (c2 * c2);
  const double se = std::sqrt(var);
  return Around(mean_t / mean_c - 1, se, NormalQuantile(alpha) * se);
}

Comparison CompareProportions(std::int64_t control_x, std::int64_t control_n,
                              std::int64_t treatment_x, std::int64_t treatment_n, double alpha) {
  Comparison r;
  if (control_n > 0)
    r.control_mean = static_cast<double>(control_x) / static_cast<double>(control_n);
  if (treatment_n > 0) {
    r.treatment_mean = static_cast<double>(treatment_x) / static_cast<double>(treatment_n);
  }
  if (control_n < 2 || treatment_n < 2) {
    r.reason = Reason::kTooFewUnits;
    return r;
  }
  const double pc = r.control_mean, pt = r.treatment_mean;
  const double nc = static_cast<double>(control_n), nt = static_cast<double>(treatment_n);
  const double pooled = static_cast<double>(control_x + treatment_x) / (nc + nt);
  const double se_pooled = std::sqrt(pooled * (1 - pooled) * (1 / nc + 1 / nt));
  const double var_c = pc * (1 - pc) / nc, var_t = pt * (1 - pt) / nt;
  const double se = std::sqrt(var_c + var_t);
  if (!(se_pooled > 0) || !(se > 0) || !std::isfinite(se)) {
    r.reason = Reason::kZeroVariance;
    r.absolute.estimate = pt - pc;
    return r;
  }
  r.statistic = (pt - pc) / se_pooled;
  r.p_value = NormalTwoSidedP(r.statistic);
  r.absolute = Around(pt - pc, se, NormalQuantile(alpha) * se);
  r.relative = RelativeLift(pc, var_c, pt, var_t, alpha, &r.relative_reason);
  return r;
}

Comparison CompareMeans(const Moments& control, const Moments& treatment, double alpha) {
  Comparison r;
  r.control_mean = static_cast<double>(control.mean);
  r.treatment_mean = static_cast<double>(treatment.mean);
  if (control.n < 2 || treatment.n < 2) {
    r.reason = Reason::kTooFewUnits;
    return r;
  }
  const double var_c = static_cast<double>(control.Variance()) / control.n;
  const double var_t = static_cast<double>(treatment.Variance()) / treatment.n;
  const double se = std::sqrt(var_c + var_t);
  const double diff = r.treatment_mean - r.control_mean;
  if (!(se > 0) || !std::isfinite(se)) {
    r.reason = Reason::kZeroVariance;
    r.absolute.estimate = diff;
    return r;
  }
  // Welch-Satterthwaite degrees of freedom.
  r.df = (var_c + var_t) * (var_c + var_t) /
         (var_c * var_c / (control.n - 1) + var_t * var_t / (treatment.n - 1));
  r.statistic = diff / se;
  const bm::students_t_distribution<double> t(r.df);
  r.p_value = 2 * bm::cdf(bm::complement(t, std::fabs(r.statistic)));
  r.absolute = Around(diff, se, bm::quantile(bm::complement(t, alpha / 2)) * se);
  r.relative =
      RelativeLift(r.control_mean, var_c, r.treatment_mean, var_t, alpha, &r.relative_reason);
  return r;
}

}  // namespace abrec::stats
