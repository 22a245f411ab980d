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

bool ValidOptions(const SequentialOptions& o) {
  const bool one_sided = o.sided != Sided::kTwo;
  return o.alpha > 0 && o.alpha < (one_sided ? 0.5 : 1.0) && o.n_star > 0;
}

// The mixture's pieces at N users: a = Nρ² + 1 and scale = 2a/(N²ρ²), so that the half-width
// is √(s²·scale·ln(·)) with s² = σ̂²N (STATS-NOTES.md). One-sided bounds use ρ tuned for 2α.
struct Mixture {
  double rho2, a, scale;
};
Mixture MixtureAt(double n, const SequentialOptions& o) {
  const bool one_sided = o.sided != Sided::kTwo;
  const double rho2 = RhoSquared(one_sided ? 2 * o.alpha : o.alpha, o.n_star);
  const double a = n * rho2 + 1;
  return {rho2, a, 2 * a / (n * n * rho2)};
}

double LogTerm(const Mixture& m, const SequentialOptions& o) {
  return o.sided == Sided::kTwo ? std::log(std::sqrt(m.a) / o.alpha)
                                : std::log(1 + std::sqrt(m.a) / (2 * o.alpha));
}

}  // namespace

double SequentialMultiplier(std::int64_t n_total, const SequentialOptions& o) {
  if (n_total < 2 || !ValidOptions(o)) return 0;
  const double n = static_cast<double>(n_total);
  const Mixture m = MixtureAt(n, o);
  // half = √(σ̂²N·scale·L) = σ̂·√(N·scale·L).
  return std::sqrt(n * m.scale * LogTerm(m, o));
}

SequentialResult SequentialTest(double estimate, double se, std::int64_t n_total,
                                const SequentialOptions& o, double theta0) {
  SequentialResult r;
  r.estimate = estimate;
  if (n_total < 2) {
    r.reason = Reason::kTooFewUnits;
    return r;
  }
  if (!(se > 0) || !std::isfinite(se)) {
    r.reason = Reason::kZeroVariance;
    return r;
  }
  if (!ValidOptions(o)) {
    r.reason = Reason::kInvalidInput;
    return r;
  }
  const double n = static_cast<double>(n_total);
  const double s2 = se * se * n;  // per-unit variance s² = σ̂²N
  const Mixture m = MixtureAt(n, o);
  const double half = std::sqrt(s2 * m.scale * LogTerm(m, o));
  const double d = estimate - theta0;
  if (o.sided == Sided::kTwo) {
    r.ci = {estimate - half, estimate + half};
    r.p_value = std::min(1.0, std::sqrt(m.a) * std::exp(-m.rho2 * n * d * d / (2 * se * se * m.a)));
    return r;
  }
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const bool less = o.sided == Sided::kLess;
  r.ci = less ? Interval{-kInf, estimate + half} : Interval{estimate - half, kInf};
  // The smallest α' at which the bound passes θ₀: from |d| = half(α'), i.e.
  // ln(1 + √a/(2α')) = K with K = d²/(s²·scale).
  if (less ? d >= 0 : d <= 0) return r;  // the estimate is on H0's side: p = 1
  const double k = d * d / (s2 * m.scale);
  r.p_value = std::min(1.0, std::sqrt(m.a) / (2 * std::expm1(k)));
  return r;
}

}  // namespace abrec::stats
