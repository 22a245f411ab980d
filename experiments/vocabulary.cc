#include "experiments/vocabulary.h"

#include <algorithm>

namespace abrec {

std::string_view PhaseName(Phase phase) { return kPhaseNames[static_cast<std::size_t>(phase)]; }

std::optional<Phase> ParsePhase(std::string_view name) {
  for (std::size_t i = 0; i < kPhaseNames.size(); ++i) {
    if (kPhaseNames[i] == name) return static_cast<Phase>(i);
  }
  return std::nullopt;
}

bool IsStatisticalMetric(std::string_view name) {
  return std::find(kStatisticalMetrics.begin(), kStatisticalMetrics.end(), name) !=
         kStatisticalMetrics.end();
}

}  // namespace abrec
