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

std::string_view PolicyName(Policy policy) {
  return kPolicyNames[static_cast<std::size_t>(policy)];
}

std::optional<Policy> ParsePolicy(std::string_view name) {
  for (std::size_t i = 0; i < kPolicyNames.size(); ++i) {
    if (kPolicyNames[i] == name) return static_cast<Policy>(i);
  }
  return std::nullopt;
}

bool IsStatisticalMetric(std::string_view name) {
  return std::find(kStatisticalMetrics.begin(), kStatisticalMetrics.end(), name) !=
         kStatisticalMetrics.end();
}

}  // namespace abrec
