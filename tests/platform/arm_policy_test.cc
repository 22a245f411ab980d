#include "platform/arm_policy.h"

#include <doctest/doctest.h>

namespace abrec {
namespace {

Experiment TwoArms(Phase phase) {
  Experiment e;
  e.key = "exp";
  e.phase = phase;
  e.variants = {{"control", "legacy_rules", "", 0.5}, {"treatment", "recommender", "hybrid", 0.5}};
  return e;
}

}  // namespace

TEST_CASE("the population decides before the experiment: holdout none, exploration random") {
  const Experiment e = TwoArms(Phase::kAbTest);
  for (int variant : {-1, 0, 1}) {
    CHECK(PolicyFor(&e, PopulationBucket::kHoldout, variant, "legacy_rules").policy == "none");
    const ArmPolicy x = PolicyFor(&e, PopulationBucket::kExploration, variant, "legacy_rules");
    CHECK(x.policy == "random");
    CHECK(x.model.empty());
    CHECK(x.shadow_policy.empty());
  }
  CHECK(PolicyFor(nullptr, PopulationBucket::kHoldout, -1, "recommender").policy == "none");
  CHECK(PolicyFor(nullptr, PopulationBucket::kExploration, -1, "recommender").policy == "random");
}

TEST_CASE("an enrolled user gets the variant's policy and model") {
  const Experiment e = TwoArms(Phase::kAbTest);
  const ArmPolicy t = PolicyFor(&e, PopulationBucket::kExperiment, 1, "legacy_rules");
  CHECK(t.policy == "recommender");
  CHECK(t.model == "hybrid");
  CHECK(t.shadow_policy.empty());
  const ArmPolicy c = PolicyFor(&e, PopulationBucket::kExperiment, 0, "recommender");
  CHECK(c.policy == "legacy_rules");
  CHECK(c.model.empty());
}

TEST_CASE("in the shadow phase control is shown and the assigned variant runs beside it") {
  const Experiment e = TwoArms(Phase::kShadow);
  const ArmPolicy t = PolicyFor(&e, PopulationBucket::kExperiment, 1, "legacy_rules");
  CHECK(t.policy == "legacy_rules");
  CHECK(t.model.empty());
  CHECK(t.shadow_policy == "recommender");
  CHECK(t.shadow_model == "hybrid");
  // Control's users: nothing to shadow.
  CHECK(PolicyFor(&e, PopulationBucket::kExperiment, 0, "x").shadow_policy.empty());
}

TEST_CASE("outside any variant the surface's default policy applies") {
  const Experiment e = TwoArms(Phase::kAbTest);
  CHECK(PolicyFor(&e, PopulationBucket::kExperiment, -1, "recommender").policy == "recommender");
  CHECK(PolicyFor(nullptr, PopulationBucket::kExperiment, -1, "legacy_rules").policy ==
        "legacy_rules");
}

}  // namespace abrec
