// What a user is shown, decided in one place for /v1/assign and /v1/recommend: the permanent
// holdout sees nothing, the exploration bucket random lists, an enrolled user the variant's
// policy (control's in the shadow phase, with the assigned variant computed and logged
// beside it), anyone else the surface's default policy.
#pragma once

#include <optional>
#include <string_view>

#include "assignment/population.h"
#include "experiments/experiment.h"
#include "recommender/serving/serving.h"

namespace abrec {

struct ArmPolicy {
  Policy policy = Policy::kNone;  // kNone, kRandom, a variant's policy or the surface default
  std::string_view model{};       // the shown variant's model; empty: the default model
  // Shadow phase: the assigned variant's policy and model, computed and logged, not shown
  // (shadow_policy unset otherwise).
  std::optional<Policy> shadow_policy{};
  std::string_view shadow_model{};
};

// `e`: the experiment the user was assigned in (null: none runs on the surface); `variant`:
// the index of the assigned variant, -1 when the user is not enrolled; `surface_default`: the
// surface's default policy. The model views point into `e`.
ArmPolicy PolicyFor(const Experiment* e, PopulationBucket population, int variant,
                    Policy surface_default);

// The recommender's list for a policy.
ListPolicy ListPolicyOf(Policy policy);

}  // namespace abrec
