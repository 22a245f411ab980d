#include "experiments/experiment.h"

namespace abrec {

const std::string& Experiment::RolloutVariant() const {
  static const std::string kTreatment = "treatment";
  return rollout_variant.empty() ? kTreatment : rollout_variant;
}

int Experiment::VariantIndex(std::string_view name) const {
  for (std::size_t i = 0; i < variants.size(); ++i) {
    if (variants[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

bool operator==(const NamespaceRange& a, const NamespaceRange& b) {
  return a.name == b.name && a.start == b.start && a.end == b.end;
}

}  // namespace abrec
