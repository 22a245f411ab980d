// Fixed-horizon tests of treatment against control, with the user as the unit.
// Formulas and sources: ../shared/STATS-NOTES.md ("Fixed horizon").
#pragma once

#include <cstdint>

#include "stats/moments.h"
#include "stats/result.h"

namespace abrec::stats {

// Two proportions (x successes among n users per arm): the pooled z test for the p-value,
// the unpooled standard error for the interval of the difference, and the relative lift by
// the delta method. `alpha` sets the intervals' level (1 − alpha).
Comparison CompareProportions(std::int64_t control_x, std::int64_t control_n,
                              std::int64_t treatment_x, std::int64_t treatment_n,
                              double alpha = 0.05);

// Means of a per-user metric: Welch's t test with Welch-Satterthwaite degrees of freedom,
// its t interval for the difference, and the relative lift by the delta method (normal
// interval).
Comparison CompareMeans(const Moments& control, const Moments& treatment, double alpha = 0.05);

// The relative lift (μ_T − μ_C)/μ_C and its delta-method standard error from the arms' means
// and the variances of those means (s²/n); `alpha` for the normal interval.
Effect RelativeLift(double mean_c, double var_mean_c, double mean_t, double var_mean_t,
                    double alpha, Reason* reason);

// The two-sided normal quantile z_{1 − alpha/2}.
double NormalQuantile(double alpha);

}  // namespace abrec::stats
