#include "analysis/horizon.h"

#include <algorithm>
#include <cmath>

#include "analysis/metric_analysis.h"
#include "stats/power.h"

namespace abrec {

std::optional<Horizon> HorizonOf(const Experiment& e, const BucketTotals& control,
                                 const ErrorBudget& budget) {
  if (e.analysis.planned_users > 0) return Horizon{e.analysis.planned_users, true};
  const auto metric = MetricByName(e.metrics.primary);
  if (!metric || control.users < 100) return std::nullopt;
  // The control's own plain estimate: its mean and the variance of that mean.
  const MetricComparison c = CompareMetric(*metric, control, control, e.analysis);
  if (c.fixed.reason != stats::Reason::kOk) return std::nullopt;
  stats::PowerInput in;
  in.baseline = c.fixed.control_mean;
  in.proportion = *metric == Metric::kBindRate;
  in.sd = std::sqrt(c.control.variance * static_cast<double>(control.users));
  in.mde = e.analysis.mde;
  in.alpha = budget.PrimaryLevel();
  in.n_star = e.analysis.tuning_n;
  const stats::PowerResult p = stats::UsersPerArm(in);
  if (p.reason != stats::Reason::kOk) return std::nullopt;
  double smallest = 1;
  for (const Variant& v : e.variants) smallest = std::min(smallest, v.weight);
  if (!(smallest > 0)) return std::nullopt;
  const double per_arm = e.analysis.sequential ? p.sequential_per_arm : p.fixed_per_arm;
  return Horizon{static_cast<std::int64_t>(std::ceil(per_arm / smallest)), false};
}

}  // namespace abrec
