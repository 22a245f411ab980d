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
// δ = baseline·mde (for proportions σ² = p(1 − p) per arm). This is the test the report's
// decision reads: the relative lift's interval (Fieller's, at the same level) excludes 0
// exactly when this unpooled test of the difference rejects. With k treatments pass the
// treatment's share of α, alpha/k.
PowerResult UsersPerArm(const PowerInput& in);

// The tuning N* (total users in both arms) that makes the sequential test need the fewest
// users for `in`'s power: searched over a geometric grid from 100 to 10^10 (ratio 1.1), since
// the mixture is tightest near N* and the detection happens around the planned size. The
// search ignores in.n_star. 0 when UsersPerArm fails.
double RecommendedTuningN(const PowerInput& in);

}  // namespace abrec::stats
