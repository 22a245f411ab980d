// Sequential (always-valid) inference: the normal-mixture mSPRT of Johari, Pekelis and Walsh
// ("Always valid inference", 2017) in the asymptotic confidence-sequence form of
// Waudby-Smith et al. (arXiv 2103.06476) that GrowthBook uses. Formulas:
// ../shared/STATS-NOTES.md ("Sequential"). The guarantee holds however often one looks.
#pragma once

#include <cstdint>

#include "stats/result.h"

namespace abrec::stats {

// Which alternative a test looks for. Guardrails ask one question: has the metric fallen
// below θ₀ (kLess: an upper bound only) or risen above it (kGreater: a lower bound only)?
enum class Sided { kTwo, kLess, kGreater };

struct SequentialOptions {
  double alpha = 0.05;
  // Tuning N*: the total sample size (both arms) at which the confidence sequence is
  // tightest. GrowthBook's default; smaller reacts earlier to large effects, larger is
  // tighter late.
  double n_star = 5'000;
  Sided sided = Sided::kTwo;  // one-sided: level 1 − alpha (needs alpha < 0.5)
};

struct SequentialResult {
  Reason reason = Reason::kOk;
  double estimate = 0;
  Interval ci;         // this look's interval of the sequence; one-sided: the open end is ±inf
  double p_value = 1;  // always valid at this look (report the running minimum over looks)
};

// At a look with `n_total` users in both arms, an effect estimate and its standard error
// `se`: the confidence sequence's interval and the always-valid p-value against θ₀ (for
// kLess, of H0: effect ≥ θ₀; for kGreater, of H0: effect ≤ θ₀). kTooFewUnits when
// n_total < 2, kZeroVariance when se is 0 or not finite, kInvalidInput for a one-sided test
// with alpha ≥ 0.5. The p-value is below alpha exactly when the interval excludes θ₀.
SequentialResult SequentialTest(double estimate, double se, std::int64_t n_total,
                                const SequentialOptions& options, double theta0 = 0);

// The sequence's half-width in standard errors at `n_total` users: the interval of
// SequentialTest is estimate ± multiplier·se (one-sided: the one bound). 0 when the options
// are invalid or n_total < 2. Fieller's relative intervals (ratio_interval.h) use it.
double SequentialMultiplier(std::int64_t n_total, const SequentialOptions& options);

// Always-valid p-values reported over time never rise: the running minimum.
class RunningMinimumP {
 public:
  double Update(double p) {
    if (p < min_) min_ = p;
    return min_;
  }
  double value() const { return min_; }

 private:
  double min_ = 1;
};

}  // namespace abrec::stats
