#include "stats/fairness.h"

#include <algorithm>

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

}  // namespace abrec::stats
