#include "stats/off_policy.h"

#include <cmath>

#include "stats/fixed_horizon.h"
#include "stats/moments.h"

namespace abrec::stats {
namespace {

double Weight(const LoggedRound& r) { return r.target_propensity / r.logging_propensity; }

double EffectiveSize(std::span<const LoggedRound> rounds) {
  double sum = 0, sum_sq = 0;
  for (const LoggedRound& r : rounds) {
    const double w = Weight(r);
    sum += w;
    sum_sq += w * w;
  }
  return sum_sq > 0 ? sum * sum / sum_sq : 0;
}

// kInvalidInput for a propensity outside (0, 1] (logging) or [0, 1] (target), kTooFewUnits
// for fewer than 2 rounds or no weight at all (the target policy never takes a logged
// action); kOk otherwise.
Reason Check(std::span<const LoggedRound> rounds) {
  double sum_w = 0;
  for (const LoggedRound& r : rounds) {
    if (!(r.logging_propensity > 0 && r.logging_propensity <= 1) ||
        !(r.target_propensity >= 0 && r.target_propensity <= 1)) {
      return Reason::kInvalidInput;
    }
    sum_w += Weight(r);
  }
  return rounds.size() < 2 || !(sum_w > 0) ? Reason::kTooFewUnits : Reason::kOk;
}

// The mean of per-round terms with its standard error and interval.
template <typename Term>
OpeEstimate MeanOf(std::span<const LoggedRound> rounds, double alpha, Term term) {
  OpeEstimate e;
  if (e.reason = Check(rounds); e.reason != Reason::kOk) return e;
  Moments m;
  for (const LoggedRound& r : rounds) m += Moments{1, term(r), 0};
  e.value = static_cast<double>(m.mean);
  e.se = std::sqrt(static_cast<double>(m.Variance()) / m.n);
  const double half = NormalQuantile(alpha) * e.se;
  e.ci = {e.value - half, e.value + half};
  e.effective_sample_size = EffectiveSize(rounds);
  return e;
}

}  // namespace

OpeEstimate InversePropensity(std::span<const LoggedRound> rounds, double alpha) {
  return MeanOf(rounds, alpha, [](const LoggedRound& r) { return Weight(r) * r.reward; });
}

OpeEstimate DoublyRobust(std::span<const LoggedRound> rounds, double alpha) {
  return MeanOf(rounds, alpha, [](const LoggedRound& r) {
    return r.model_target + Weight(r) * (r.reward - r.model_logged);
  });
}

OpeEstimate SelfNormalized(std::span<const LoggedRound> rounds, double alpha) {
  OpeEstimate e;
  if (e.reason = Check(rounds); e.reason != Reason::kOk) return e;
  double sum_w = 0, sum_wr = 0;
  for (const LoggedRound& r : rounds) {
    sum_w += Weight(r);
    sum_wr += Weight(r) * r.reward;
  }
  const double n = static_cast<double>(rounds.size());
  e.value = sum_wr / sum_w;
  // Delta method for a ratio of means: Var ≈ mean(w²(r − V)²) / (n · mean(w)²).
  double s = 0;
  for (const LoggedRound& r : rounds) {
    const double d = Weight(r) * (r.reward - e.value);
    s += d * d;
  }
  const double mean_w = sum_w / n;
  e.se = std::sqrt(s / n / (n * mean_w * mean_w));
  const double half = NormalQuantile(alpha) * e.se;
  e.ci = {e.value - half, e.value + half};
  e.effective_sample_size = EffectiveSize(rounds);
  return e;
}

}  // namespace abrec::stats
