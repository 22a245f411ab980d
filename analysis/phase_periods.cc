#include "analysis/phase_periods.h"

#include <set>
#include <string_view>

#include "eventstore/counter_keys.h"

namespace abrec {

std::vector<std::optional<Phase>> PhaseOfDays(const ExposureCounters& counters,
                                              const std::vector<std::string>& days, Phase current) {
  // day -> the phases its exposures were made in, over every bucket.
  std::vector<std::set<Phase>> seen(days.size());
  for (const auto& [bucket, by_day] : counters) {
    for (std::size_t d = 0; d < days.size(); ++d) {
      const auto it = by_day.find(days[d]);
      if (it == by_day.end()) continue;
      for (const auto& [name, n] : it->second) {
        if (n <= 0) continue;
        const auto phase = counter_keys::PhaseOf(name);
        if (!phase) continue;
        if (const auto p = ParsePhase(*phase)) {
          seen[d].insert(*p);
        }
      }
    }
  }
  std::vector<std::optional<Phase>> out(days.size());
  std::optional<Phase> last;
  for (std::size_t d = days.size(); d-- > 0;) {
    // Walking back: the phase the following days are in (the experiment's current phase
    // after the last day).
    const Phase next = last.value_or(current);
    if (seen[d].empty()) continue;
    if (seen[d].size() == 1) {
      out[d] = *seen[d].begin();
    } else {
      out[d] = seen[d].contains(next) ? next : *seen[d].rbegin();
    }
    last = out[d];
  }
  // Days without exposures keep the phase before them; those before any, the first known.
  std::optional<Phase> carried;
  for (const auto& p : out) {
    if (p) {
      carried = p;
      break;
    }
  }
  for (auto& p : out) {
    if (p) {
      carried = p;
    } else {
      p = carried;
    }
  }
  return out;
}

}  // namespace abrec
