#include "stats/relative_interval.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace abrec::stats {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The set {u ≥ 0 : A·u² − 2B·u + C ≤ 0} with A = m_C² − k²v_C, B = m_T·m_C ≥ 0,
// C = m_T² − k²v_T, as [low, high] (high may be +inf). Non-negative means make B ≥ 0, so
// when A ≤ 0 at most one root is positive and the set is a single ray (see the header).
Interval RatioSet(const ArmMean& c, const ArmMean& t, double k) {
  const double a = c.mean * c.mean - k * k * c.variance;
  const double b = t.mean * c.mean;
  const double cc = t.mean * t.mean - k * k * t.variance;
  const double disc = b * b - a * cc;
  if (a > 0) {
    // disc > 0 here: a > 0 makes disc = k²(v_C m_T² + v_T (m_C² − k² v_C)) + ... ≥ 0.
    const double root = std::sqrt(std::max(0.0, disc));
    return {std::max(0.0, (b - root) / a), (b + root) / a};
  }
  if (a == 0) {
    if (b <= 0) return {0, kInf};
    return {std::max(0.0, cc / (2 * b)), kInf};
  }
  if (disc <= 0) return {0, kInf};  // the quadratic is negative everywhere
  // a < 0: the inequality holds outside the roots; the larger root is (b − √disc)/a.
  const double upper_root = (b - std::sqrt(disc)) / a;
  return {std::max(0.0, upper_root), kInf};
}

}  // namespace

RelativeInterval FiellerRelative(const ArmMean& control, const ArmMean& treatment, double k,
                                 Sided sided) {
  RelativeInterval r;
  if (control.mean == 0) {
    r.reason = Reason::kZeroBaseline;
    return r;
  }
  r.estimate = treatment.mean / control.mean - 1;
  if (!(control.variance + treatment.variance > 0) || !(k > 0)) {
    r.reason = Reason::kZeroVariance;
    return r;
  }
  const Interval u = RatioSet(control, treatment, k);
  r.ci = {u.low - 1, u.high == kInf ? kInf : u.high - 1};
  if (sided == Sided::kLess) r.ci.low = -1;
  if (sided == Sided::kGreater) r.ci.high = kInf;
  return r;
}

LiftContrast ContrastAt(const ArmMean& control, const ArmMean& treatment, double r) {
  const double u = 1 + r;
  return {treatment.mean - u * control.mean,
          std::sqrt(treatment.variance + u * u * control.variance)};
}

}  // namespace abrec::stats
