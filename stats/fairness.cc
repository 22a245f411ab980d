#include "stats/fairness.h"

#include <algorithm>
#include <cmath>

#include "stats/boost_math.h"

namespace abrec::stats {

ParityResult DemographicParity(std::span<const GroupCount> groups) {
  ParityResult r;
  double users = 0, shown = 0;
  int with_users = 0;
  r.min_rate = 1;
  for (const GroupCount& g : groups) {
    if (g.users <= 0) continue;
    ++with_users;
    const double rate = static_cast<double>(g.recommended) / static_cast<double>(g.users);
    r.min_rate = std::min(r.min_rate, rate);
    r.max_rate = std::max(r.max_rate, rate);
    users += static_cast<double>(g.users);
    shown += static_cast<double>(g.recommended);
  }
  if (with_users < 2) {
    r = ParityResult{};
    r.reason = Reason::kTooFewUnits;
    return r;
  }
  r.gap = r.max_rate - r.min_rate;
  r.ratio = r.max_rate > 0 ? r.min_rate / r.max_rate : 1;
  // χ² of the groups × {shown, not shown} table; a column of zeros has nothing to test.
  const double share = shown / users;
  if (share <= 0 || share >= 1) return r;
  for (const GroupCount& g : groups) {
    if (g.users <= 0) continue;
    const double n = static_cast<double>(g.users), a = static_cast<double>(g.recommended);
    const double ea = n * share, eb = n * (1 - share);
    r.chi_squared += (a - ea) * (a - ea) / ea + ((n - a) - eb) * ((n - a) - eb) / eb;
  }
  r.df = with_users - 1;
  r.p_value = ChiSquaredUpperTail(r.df, r.chi_squared);
  return r;
}

namespace {

double Share(const GroupCount& g) {
  return static_cast<double>(g.recommended) / static_cast<double>(g.users);
}

double ShareVariance(const GroupCount& g) {
  const double n = static_cast<double>(g.users);
  const double p = (static_cast<double>(g.recommended) + 1) / (n + 2);
  return p * (1 - p) / n;
}

}  // namespace

WiderGapResult WiderGapThanControl(std::span<const PairCounts> looks,
                                   const SequentialOptions& options, std::int64_t min_users) {
  WiderGapResult r;
  r.reason = Reason::kTooFewUnits;
  bool tested = false;
  SequentialOptions one_sided = options;
  one_sided.sided = Sided::kGreater;
  RunningMinimumP running;
  for (const PairCounts& look : looks) {
    const GroupCount* cells[] = {&look.variant_g, &look.variant_h, &look.control_g,
                                 &look.control_h};
    double variance = 0;
    std::int64_t n = 0, fewest = INT64_MAX;
    for (const GroupCount* c : cells) {
      fewest = std::min(fewest, c->users);
      if (c->users > 0) variance += ShareVariance(*c);
      n += c->users;
    }
    if (fewest < std::max<std::int64_t>(1, min_users)) continue;
    const double d_v = Share(look.variant_g) - Share(look.variant_h);
    const double d_c = Share(look.control_g) - Share(look.control_h);
    const double se = std::sqrt(variance);
    const SequentialResult minus = SequentialTest(d_v - d_c, se, n, one_sided);
    const SequentialResult plus = SequentialTest(d_v + d_c, se, n, one_sided);
    if (minus.reason != Reason::kOk || plus.reason != Reason::kOk) {
      if (!tested) r.reason = minus.reason != Reason::kOk ? minus.reason : plus.reason;
      continue;
    }
    tested = true;
    r.reason = Reason::kOk;
    r.variant_gap = d_v;
    r.control_gap = d_c;
    r.estimate = std::min(d_v - d_c, d_v + d_c);
    r.bound = std::max(r.bound, std::min(minus.ci.low, plus.ci.low));
    r.p_value = running.Update(std::max(minus.p_value, plus.p_value));
  }
  return r;
}

}  // namespace abrec::stats
