#include "stats/off_policy.h"

#include <cmath>
#include <map>
#include <utility>

#include "stats/fixed_horizon.h"

namespace abrec::stats {
namespace {

double Weight(const LoggedRound& r) { return r.target_propensity / r.logging_propensity; }

// A propensity outside (0, 1] (logging) or [0, 1] (target) cannot be reweighted.
bool ValidPropensities(std::span<const LoggedRound> rounds) {
  for (const LoggedRound& r : rounds) {
    if (!(r.logging_propensity > 0 && r.logging_propensity <= 1) ||
        !(r.target_propensity >= 0 && r.target_propensity <= 1)) {
      return false;
    }
  }
  return true;
}

// The real-valued sums of OpeSums.
constexpr double OpeSums::*kRealSums[] = {&OpeSums::y,  &OpeSums::v,  &OpeSums::z,  &OpeSums::v_sq,
                                          &OpeSums::nn, &OpeSums::yy, &OpeSums::ny, &OpeSums::vv,
                                          &OpeSums::yv, &OpeSums::zz, &OpeSums::nz};

bool Finite(const OpeSums& s) {
  for (const auto sum : kRealSums) {
    if (!std::isfinite(s.*sum)) return false;
  }
  return true;
}

// The estimate V = a / b with the CR1 variance G/(G−1) · (aa − 2·V·ab + V²·bb) / b², where
// aa, ab, bb are the sums over clusters of A_g², A_g·B_g, B_g² (Σ_g (A_g − V·B_g)² expanded).
OpeEstimate Ratio(const OpeSums& s, double alpha, double a, double b, double aa, double ab,
                  double bb) {
  OpeEstimate e;
  e.units = s.units;
  e.clusters = s.clusters;
  if (!Finite(s)) {
    e.reason = Reason::kInvalidInput;
    return e;
  }
  if (s.units < 2 || s.clusters < 2 || !(s.v > 0) || !(b > 0)) {
    e.reason = Reason::kTooFewUnits;
    return e;
  }
  const long double value = static_cast<long double>(a) / b;
  const long double squares = static_cast<long double>(aa) - 2 * value * ab + value * value * bb;
  const long double g = static_cast<long double>(s.clusters);
  // Rounding can leave a sum of squares that is 0 slightly negative.
  const long double variance =
      std::max(0.0L, squares) * g / (g - 1) / (static_cast<long double>(b) * b);
  e.value = static_cast<double>(value);
  e.se = static_cast<double>(std::sqrt(variance));
  const double half = NormalQuantile(alpha) * e.se;
  e.ci = {e.value - half, e.value + half};
  e.effective_sample_size = s.v_sq > 0 ? s.v * s.v / s.v_sq : 0;
  return e;
}

template <typename Estimator>
OpeEstimate FromRounds(std::span<const LoggedRound> rounds, double alpha, Estimator estimator) {
  if (!ValidPropensities(rounds)) {
    OpeEstimate e;
    e.reason = Reason::kInvalidInput;
    e.units = static_cast<std::int64_t>(rounds.size());
    return e;
  }
  return estimator(SumsOf(rounds), alpha);
}

}  // namespace

void OpeSums::AddUnit(const OpeTerms& t, int sign) {
  units += sign;
  y += sign * t.y;
  v += sign * t.v;
  z += sign * t.z;
  v_sq += sign * t.v * t.v;
}

void OpeSums::AddCluster(std::int64_t n, const OpeTerms& t, int sign) {
  if (n <= 0) return;
  const double units_g = static_cast<double>(n);
  clusters += sign;
  nn += sign * units_g * units_g;
  yy += sign * t.y * t.y;
  ny += sign * units_g * t.y;
  vv += sign * t.v * t.v;
  yv += sign * t.y * t.v;
  zz += sign * t.z * t.z;
  nz += sign * units_g * t.z;
}

OpeSums& OpeSums::operator+=(const OpeSums& o) {
  units += o.units;
  clusters += o.clusters;
  for (const auto sum : kRealSums) this->*sum += o.*sum;
  return *this;
}

OpeTerms TermsOf(const LoggedRound& r) {
  const double w = Weight(r);
  return {w * r.reward, w, r.model_target + w * (r.reward - r.model_logged)};
}

OpeSums SumsOf(std::span<const LoggedRound> rounds) {
  OpeSums out;
  std::map<std::int64_t, std::pair<std::int64_t, OpeTerms>> clusters;
  for (const LoggedRound& r : rounds) {
    const OpeTerms t = TermsOf(r);
    out.AddUnit(t);
    if (r.cluster < 0) {
      out.AddCluster(1, t);
      continue;
    }
    auto& [n, totals] = clusters[r.cluster];
    ++n;
    totals = {totals.y + t.y, totals.v + t.v, totals.z + t.z};
  }
  for (const auto& [id, cluster] : clusters) out.AddCluster(cluster.first, cluster.second);
  return out;
}

OpeEstimate InversePropensity(const OpeSums& s, double alpha) {
  return Ratio(s, alpha, s.y, static_cast<double>(s.units), s.yy, s.ny, s.nn);
}

OpeEstimate SelfNormalized(const OpeSums& s, double alpha) {
  return Ratio(s, alpha, s.y, s.v, s.yy, s.yv, s.vv);
}

OpeEstimate DoublyRobust(const OpeSums& s, double alpha) {
  return Ratio(s, alpha, s.z, static_cast<double>(s.units), s.zz, s.nz, s.nn);
}

OpeEstimate InversePropensity(std::span<const LoggedRound> rounds, double alpha) {
  return FromRounds(rounds, alpha,
                    [](const OpeSums& s, double a) { return InversePropensity(s, a); });
}

OpeEstimate SelfNormalized(std::span<const LoggedRound> rounds, double alpha) {
  return FromRounds(rounds, alpha, [](const OpeSums& s, double a) { return SelfNormalized(s, a); });
}

OpeEstimate DoublyRobust(std::span<const LoggedRound> rounds, double alpha) {
  return FromRounds(rounds, alpha, [](const OpeSums& s, double a) { return DoublyRobust(s, a); });
}

}  // namespace abrec::stats
