#include "stats/cuped.h"

#include <cmath>

#include "stats/fixed_horizon.h"

namespace abrec::stats {
namespace {

// The pooled co-moments of two arms (Chan et al.'s merge, with the cross term).
CoMoments Pool(const CoMoments& a, const CoMoments& b) {
  if (a.n == 0) return b;
  if (b.n == 0) return a;
  const long double na = a.n, nb = b.n, n = na + nb;
  const long double dx = b.mean_x - a.mean_x, dy = b.mean_y - a.mean_y;
  CoMoments p;
  p.n = a.n + b.n;
  p.mean_x = a.mean_x + dx * nb / n;
  p.mean_y = a.mean_y + dy * nb / n;
  p.m2_x = a.m2_x + b.m2_x + dx * dx * na * nb / n;
  p.m2_y = a.m2_y + b.m2_y + dy * dy * na * nb / n;
  p.c_xy = a.c_xy + b.c_xy + dx * dy * na * nb / n;
  return p;
}

// The moments of y − θ(x − x̄) in one arm: mean shifted, M2 = M2_y − 2θC + θ²M2_x.
Moments Adjusted(const CoMoments& m, long double theta, long double pooled_mean_x) {
  Moments out;
  out.n = m.n;
  out.mean = m.mean_y - theta * (m.mean_x - pooled_mean_x);
  out.m2 = m.m2_y - 2 * theta * m.c_xy + theta * theta * m.m2_x;
  if (out.m2 < 0) out.m2 = 0;
  return out;
}

}  // namespace

CupedComparison CompareMeansCuped(const CoMoments& control, const CoMoments& treatment,
                                  double alpha) {
  CupedComparison r;
  const CoMoments pooled = Pool(control, treatment);
  const long double theta = pooled.m2_x > 0 ? pooled.c_xy / pooled.m2_x : 0;
  r.theta = static_cast<double>(theta);
  r.adjusted = CompareMeans(Adjusted(control, theta, pooled.mean_x),
                            Adjusted(treatment, theta, pooled.mean_x), alpha);
  const Comparison plain = CompareMeans(control.Y(), treatment.Y(), alpha);
  if (plain.reason == Reason::kOk && plain.absolute.se > 0) {
    r.variance_reduction = 1 - (r.adjusted.absolute.se * r.adjusted.absolute.se) /
                                   (plain.absolute.se * plain.absolute.se);
  }
  return r;
}

}  // namespace abrec::stats
