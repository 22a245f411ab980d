#include "stats/sequential.h"

#include <cmath>
#include <limits>

namespace abrec::stats {
namespace {

// ρ² of the normal mixture, tuned so that the sequence is tightest at N* (Waudby-Smith et
// al., eq. for the asymptotic CS; GrowthBook's gbstats uses the same).
double RhoSquared(double alpha, double n_star) {
  return (-2 * std::log(alpha) + std::log(1 - 2 * std::log(alpha))) / n_star;
}

}  // namespace

SequentialResult SequentialTest(double estimate, double se, std::int64_t n_total,
                                const SequentialOptions& o, double theta0) {
  SequentialResult r;
  r.estimate = estimate;
  if (n_total < 2) {
    r.reason = Reason::kTooFewUnits;
    return r;
  }
  if (!(se > 0)) {
    r.reason = Reason::kZeroVariance;
    return r;
  }
  const double n = static_cast<double>(n_total);
  const double s2 = se * se * n;  // per-unit variance s² = σ̂²N
  // One-sided bounds use ρ tuned for 2α (STATS-NOTES.md).
  const double rho2 = RhoSquared(o.one_sided ? 2 * o.alpha : o.alpha, o.n_star);
  const double a = n * rho2 + 1;
  const double scale = 2 * a / (n * n * rho2);
  const double d = estimate - theta0;
  if (!o.one_sided) {
    const double half = std::sqrt(s2 * scale * std::log(std::sqrt(a) / o.alpha));
    r.ci = {estimate - half, estimate + half};
    r.p_value = std::min(1.0, std::sqrt(a) * std::exp(-rho2 * n * d * d / (2 * se * se * a)));
    return r;
  }
  const double half = std::sqrt(s2 * scale * std::log(1 + std::sqrt(a) / (2 * o.alpha)));
  r.ci = {-std::numeric_limits<double>::infinity(), estimate + half};
  // The smallest α' at which the upper bound falls below θ₀: from
  // estimate + half(α') = θ₀, i.e. ln(1 + √a/(2α')) = K with K = d²/(s²·scale).
  if (d >= 0) return r;  // the estimate is not below θ₀: no evidence of harm, p = 1
  const double k = d * d / (s2 * scale);
  r.p_value = std::min(1.0, std::sqrt(a) / (2 * std::expm1(k)));
  return r;
}

}  // namespace abrec::stats
