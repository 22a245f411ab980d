#include "analysis/effect_figures.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "stats/fixed_horizon.h"
#include "stats/relative_interval.h"

namespace abrec {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Figures at half-width multiplier k with the p-value `p` of "no difference".
ComparisonLook At(const MetricComparison& m, double k, double p) {
  ComparisonLook out;
  const double diff = m.Difference(), se = m.DifferenceSe();
  out.absolute = {stats::Reason::kOk, diff, {diff - k * se, diff + k * se}, p};
  const stats::RelativeInterval rel = stats::FiellerRelative(m.control, m.treatment, k);
  out.relative = {rel.reason, rel.estimate, rel.ci, p};
  return out;
}

// Why a comparison has no figures at all (kOk when it has).
stats::Reason Unusable(const MetricComparison& m) {
  if (m.reason != stats::Reason::kOk) return m.reason;
  if (!(m.DifferenceSe() > 0) || !std::isfinite(m.DifferenceSe())) {
    return stats::Reason::kZeroVariance;
  }
  return stats::Reason::kOk;
}

ComparisonLook Without(stats::Reason reason, const MetricComparison& m) {
  ComparisonLook out;
  out.absolute = {.reason = reason, .estimate = m.Difference()};
  out.relative = {.reason = reason,
                  .estimate = m.control.mean != 0 ? m.treatment.mean / m.control.mean - 1 : 0};
  return out;
}

}  // namespace

ComparisonLook SequentialLook(const MetricComparison& m, double level, double n_star) {
  if (const stats::Reason r = Unusable(m); r != stats::Reason::kOk) return Without(r, m);
  const stats::SequentialOptions o{level, n_star, stats::Sided::kTwo};
  const stats::SequentialResult s =
      stats::SequentialTest(m.Difference(), m.DifferenceSe(), m.users, o);
  if (s.reason != stats::Reason::kOk) return Without(s.reason, m);
  return At(m, stats::SequentialMultiplier(m.users, o), s.p_value);
}

ComparisonLook FixedLook(const MetricComparison& m, double level) {
  if (const stats::Reason r = Unusable(m); r != stats::Reason::kOk) return Without(r, m);
  const double z = m.Difference() / m.DifferenceSe();
  return At(m, stats::NormalQuantile(level), std::erfc(std::fabs(z) / std::sqrt(2.0)));
}

EffectLook OneSidedLook(const MetricComparison& m, double limit, stats::Sided sided, double level,
                        double n_star) {
  EffectLook out;
  out.estimate = m.control.mean != 0 ? m.treatment.mean / m.control.mean - 1 : 0;
  if (m.control.mean == 0 && m.reason == stats::Reason::kOk) {
    out.reason = stats::Reason::kZeroBaseline;
    return out;
  }
  if (out.reason = Unusable(m); out.reason != stats::Reason::kOk) return out;
  const stats::SequentialOptions o{level, n_star, sided};
  const stats::LiftContrast c = stats::ContrastAt(m.control, m.treatment, limit);
  const stats::SequentialResult s = stats::SequentialTest(c.estimate, c.se, m.users, o);
  if (out.reason = s.reason; out.reason != stats::Reason::kOk) return out;
  out.p_value = s.p_value;
  const stats::RelativeInterval rel = stats::FiellerRelative(
      m.control, m.treatment, stats::SequentialMultiplier(m.users, o), sided);
  out.ci = sided == stats::Sided::kLess ? stats::Interval{-kInf, rel.ci.high}
                                        : stats::Interval{rel.ci.low, kInf};
  return out;
}

void StickyEffect::Update(const EffectLook& look) {
  latest_.reason = look.reason;
  latest_.estimate = look.estimate;
  if (look.reason != stats::Reason::kOk) return;
  latest_ci_ = look.ci;
  p_min_ = std::min(p_min_, look.p_value);
  if (looks_++ == 0) {
    running_ = look.ci;
    return;
  }
  const stats::Interval both{std::max(running_.low, look.ci.low),
                             std::min(running_.high, look.ci.high)};
  if (both.low > both.high) {
    disjoint_ = true;
    return;
  }
  running_ = both;
}

EffectLook StickyEffect::Current() const {
  if (looks_ == 0) return latest_;
  return {stats::Reason::kOk, latest_.estimate, running_, p_min_};
}

}  // namespace abrec
