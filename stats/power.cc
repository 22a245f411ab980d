#include "stats/power.h"

#include <algorithm>
#include <cmath>

#include "stats/boost_math.h"
#include "stats/fixed_horizon.h"

namespace abrec::stats {

PowerResult UsersPerArm(const PowerInput& in) {
  PowerResult r;
  const double delta = in.baseline * in.mde;
  if (in.baseline == 0 || delta == 0) {
    r.reason = Reason::kZeroBaseline;
    return r;
  }
  double var_c = in.sd * in.sd, var_t = in.sd * in.sd;
  if (in.proportion) {
    const double pc = in.baseline, pt = in.baseline * (1 + in.mde);
    if (!(pc > 0 && pc < 1 && pt > 0 && pt < 1)) {
      r.reason = Reason::kZeroVariance;
      return r;
    }
    var_c = pc * (1 - pc);
    var_t = pt * (1 - pt);
  }
  if (!(var_c + var_t > 0)) {
    r.reason = Reason::kZeroVariance;
    return r;
  }
  namespace bm = boost::math;
  const double z_power = bm::quantile(bm::normal_distribution<double>(), in.power);
  const double z = NormalQuantile(in.alpha) + z_power;
  r.fixed_per_arm = std::ceil(z * z * (var_c + var_t) / (delta * delta));
  if (!(r.fixed_per_arm < 1e15)) {  // beyond any real population: no search
    r.reason = Reason::kInvalidInput;
    return r;
  }

  // Sequential: the estimate at n users per arm is about N(δ, se(n)), se(n)² = (σ_C² + σ_T²)/n;
  // find the smallest n at which δ − z_power·se(n) lies beyond the sequence's half-width.
  const SequentialOptions o{in.alpha, in.n_star, Sided::kTwo};
  auto enough = [&](double n) {
    const double se = std::sqrt((var_c + var_t) / n);
    const SequentialResult s =
        SequentialTest(std::fabs(delta), se, static_cast<std::int64_t>(2 * n), o);
    return std::fabs(delta) - z_power * se >= s.ci.high - s.estimate;
  };
  double high = std::max(2.0, r.fixed_per_arm);
  while (!enough(high)) high *= 2;
  double low = high / 2;
  while (high - low > 1) {
    const double mid = std::floor((low + high) / 2);
    (enough(mid) ? high : low) = mid;
  }
  r.sequential_per_arm = high;
  return r;
}

double RecommendedTuningN(const PowerInput& in) {
  double best = 0, best_users = 0;
  PowerInput trial = in;
  for (double n_star = 100; n_star <= 1e10; n_star *= 1.1) {
    trial.n_star = n_star;
    const PowerResult r = UsersPerArm(trial);
    if (r.reason != Reason::kOk) return 0;
    if (best == 0 || r.sequential_per_arm < best_users) {
      best = n_star;
      best_users = r.sequential_per_arm;
    }
  }
  return std::round(best);
}

}  // namespace abrec::stats
