// The planned horizon: the users (control and treatments together) at which a fixed-horizon
// analysis decides, and by which a non-inferiority guardrail must have been shown.
#pragma once

#include <cstdint>
#include <optional>

#include "analysis/error_budget.h"
#include "eventstore/aggregates.h"
#include "experiments/experiment.h"

namespace abrec {

struct Horizon {
  std::int64_t users = 0;
  bool planned = false;  // from analysis.planned_users (else the plan at this look's baseline)
};

// `analysis.planned_users` when set; else the plan (stats/power.h: 80% power for
// `analysis.mde` on the primary metric at the treatment's two-sided level α/k, fixed horizon
// or sequential as the analysis is) at the control's current baseline, scaled from users per
// arm to all arms by the split's smallest share (conservative for unequal splits). Nullopt
// when neither exists yet (no baseline: too few control users, a zero baseline).
std::optional<Horizon> HorizonOf(const Experiment& experiment, const BucketTotals& control,
                                 const ErrorBudget& budget);

}  // namespace abrec
