// The figures of one comparison (a metric of an arm against its baseline) the report shows and
// the decision reads: at one look, the interval and p-value of the absolute difference and of
// the relative lift, fixed-horizon or always valid; over looks, the sequence's running
// intersection and running-minimum p-value.
//
// Both effects come from the same per-arm estimates (MetricComparison::control/treatment,
// CUPED-adjusted when covariates exist): the absolute interval is estimate ± k·se with the
// unpooled se, the relative one Fieller's set at the same k (stats/relative_interval.h), and
// one p-value, of "no difference", serves both. So at every look, and therefore for the
// running figures too, the p-value is below the level exactly when each interval excludes 0.
#pragma once

#include "analysis/metric_analysis.h"
#include "stats/result.h"
#include "stats/sequential.h"

namespace abrec {

// One effect at one look.
struct EffectLook {
  stats::Reason reason = stats::Reason::kOk;  // why there are no figures
  double estimate = 0;
  stats::Interval ci{};  // `high` may be +inf: a relative lift the data cannot bound above yet
  double p_value = 1;
};

struct ComparisonLook {
  EffectLook absolute, relative;
};

// The confidence sequence at two-sided `level` (the mixture tuned for that level and
// `n_star`) at this look.
ComparisonLook SequentialLook(const MetricComparison& m, double level, double n_star);
// The fixed-horizon normal interval at two-sided `level` at this look.
ComparisonLook FixedLook(const MetricComparison& m, double level);

// A one-sided always-valid test that the relative lift lies beyond `limit`: kLess asks
// whether it is below (an upper bound), kGreater whether it is above (a lower bound). The
// statistic is m_T − (1 + limit)·m_C (stats::ContrastAt), so the bound and the p-value agree
// exactly; `ci` holds the relative bound (the open end ±inf).
EffectLook OneSidedLook(const MetricComparison& m, double limit, stats::Sided sided, double level,
                        double n_star);

// An effect's running figures over looks: the intersection of the looks' intervals and the
// minimum of their p-values (Howard et al. 2021: the running intersection of a confidence
// sequence is one). A look without figures (a reason) leaves them as they were.
//
// The intersection covers an effect that does not change. In a closed loop it does drift
// (customers' holdings change what is recommended; a shadow period's users stay in the
// buckets), and each look's own interval covers the effect so far, uniformly over looks
// (Waudby-Smith et al., time-uniform central limit theory): LatestInterval() keeps it. A
// decision reads the running figures, whose error rate holds under "no effect at any time".
class StickyEffect {
 public:
  void Update(const EffectLook& look);
  // The latest look with figures: its own interval.
  const stats::Interval& LatestInterval() const { return latest_ci_; }

  // The latest look's estimate and reason with the running interval and p-value. Before
  // any look with figures: the latest reason.
  EffectLook Current() const;
  bool HasFigures() const { return looks_ > 0; }
  // Some look's interval did not meet the running intersection: with a fixed effect this
  // happens with probability at most the level, so the effect changed over time. The
  // interval is then unknown (Current().ci is not meaningful; the p-value stands).
  bool Disjoint() const { return disjoint_; }

 private:
  EffectLook latest_{.reason = stats::Reason::kTooFewUnits};
  stats::Interval running_;
  stats::Interval latest_ci_;
  double p_min_ = 1;
  int looks_ = 0;
  bool disjoint_ = false;
};

}  // namespace abrec
