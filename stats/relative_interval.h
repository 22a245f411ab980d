// The relative lift μ_T/μ_C − 1 of two independent arm means, by Fieller's theorem instead of
// the delta method (Fieller, "Some problems in interval estimation", JRSS B 16, 1954; von
// Luxburg & Franz 2009 for a modern account).
//
// For every candidate ratio u = 1 + r, the linear combination m_T − u·m_C has mean 0 under
// "the lift is r" and a variance v_T + u²·v_C that needs no approximation; the interval is
// the set of r that its test does not reject at the given half-width multiplier k (a normal
// quantile for a fixed horizon, SequentialMultiplier for a confidence sequence):
//   (m_T − u·m_C)² ≤ k²·(v_T + u²·v_C).
// At r = 0 this is the test of the absolute difference with the unpooled variance, so the
// relative interval excludes 0 exactly when the absolute one does: the two never disagree.
// The delta method's interval, symmetric around a ratio of two noisy means, is too narrow
// when the control's mean is small against its noise (the small-sample inflation measured in
// issue 13); Fieller's is asymmetric and becomes unbounded above when the control mean cannot
// be told from 0 at that level. The means are of non-negative metrics, so u ≥ 0 (r ≥ −1).
#pragma once

#include "stats/result.h"
#include "stats/sequential.h"

namespace abrec::stats {

// One arm's estimate of a mean (or a ratio metric's ratio) and the variance of that estimate.
struct ArmMean {
  double mean = 0;
  double variance = 0;  // of the mean: s²/n, or a ratio's delta-method variance
};

struct RelativeInterval {
  Reason reason = Reason::kOk;  // kZeroBaseline: the control mean is 0; kZeroVariance: both 0
  double estimate = 0;          // m_T/m_C − 1
  // The bounds; `high` is +inf when the data cannot bound the lift above yet (the control
  // mean is not distinguishable from 0 at this multiplier). One-sided: the open end is ±inf.
  Interval ci;
};

// Fieller's interval at multiplier k. kTwo: both bounds; kLess: the upper bound only (the
// lower is −1); kGreater: the lower bound only (the upper is +inf). For a one-sided bound
// pass the one-sided multiplier.
RelativeInterval FiellerRelative(const ArmMean& control, const ArmMean& treatment, double k,
                                 Sided sided = Sided::kTwo);

// The linear combination m_T − (1 + r)·m_C and its standard error: the statistic whose test
// against 0 is the test of "the relative lift is r" (a guardrail's limit, a non-inferiority
// margin), with no delta-method approximation.
struct LiftContrast {
  double estimate = 0;
  double se = 0;
};
LiftContrast ContrastAt(const ArmMean& control, const ArmMean& treatment, double r);

}  // namespace abrec::stats
