#include "platform/arm_policy.h"

#include "experiments/vocabulary.h"

namespace abrec {

ArmPolicy PolicyFor(const Experiment* e, PopulationBucket population, int variant,
                    Policy surface_default) {
  if (population == PopulationBucket::kHoldout) return {.policy = kHoldoutPolicy};
  if (population == PopulationBucket::kExploration) return {.policy = kExplorationPolicy};
  if (e == nullptr || variant < 0) return {.policy = surface_default};
  const int shown = e->phase == Phase::kShadow ? e->ControlIndex() : variant;
  if (shown < 0) return {.policy = surface_default};
  const Variant& v = e->variants[static_cast<std::size_t>(shown)];
  ArmPolicy out{.policy = v.policy, .model = v.model};
  if (shown != variant) {
    const Variant& shadow = e->variants[static_cast<std::size_t>(variant)];
    out.shadow_policy = shadow.policy;
    out.shadow_model = shadow.model;
  }
  return out;
}

ListPolicy ListPolicyOf(Policy policy) {
  switch (policy) {
    case Policy::kLegacyRules: return ListPolicy::kLegacyRules;
    case Policy::kRecommender: return ListPolicy::kRecommender;
    case Policy::kRandom: return ListPolicy::kRandom;
    case Policy::kNone: return ListPolicy::kNone;
  }
  return ListPolicy::kNone;
}

}  // namespace abrec
