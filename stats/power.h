// Sample size and duration: how many users per arm an experiment needs to detect its minimum
// detectable effect (relative, `analysis.mde`) with a given power, for the fixed-horizon test
// and for the sequential one the platform runs by default.
#pragma once

#include "stats/result.h"
#include "stats/sequential.h"

namespace abrec::stats {

struct PowerInput {
  double baseline = 0;     // the control's mean: a rate for proportions
  double sd = 0;           // per-user standard deviation (means); ignored for proportions
  bool proportion = true;  // a rate (bind_rate): sd from the baseline, √(p(1 − p))
  double mde = 0.05;       // relative effect to detect: the treatment mean is baseline·(1 + mde)
  double alpha = 0.05;     // two-sided
  double power = 0.80;
  double n_star = 5'000;  // the sequential test's tuning N*
};

struct PowerResult {
  // kZeroBaseline, kZeroVariance; kInvalidInput when the answer passes 10^15 users per arm.
  Reason reason = Reason::kOk;
  double fixed_per_arm = 0;       // fixed-horizon z test, one look at the end
  double sequential_per_arm = 0;  // users per arm at which the confidence sequence excludes 0
                                  // with probability `power` (at that look; stopping earlier
                                  // on the way only helps)
};

// Two arms of equal size. Fixed horizon: n = (z_{1−α/2} + z_{power})² (σ_C² + σ_T²) / δ², with
// δ = baseline·mde (for proportions σ² = p(1 − p) per arm).
PowerResult UsersPerArm(const PowerInput& in);

}  // namespace abrec::stats
