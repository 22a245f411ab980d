#include "platform/arm_policy.h"

#include <doctest/doctest.h>

namespace abrec {
namespace {

Experiment TwoArms(Phase phase) {
  Experiment e;
  e.key = "exp";
  e.phase = phase;
  e.variants = {{"control", Policy::kLegacyRules, "", 0.5},
                {"treatment", Policy::kRecommender, "hybrid", 0.5}};
  return e;
}

}  // namespace

TEST_CASE("the population decides before the experiment: holdout none, exploration random") {
  const Experiment e = TwoArms(Phase::kAbTest);
  for (int variant : {-1, 0, 1}) {
    CHECK(PolicyFor(&e, PopulationBucket::kHoldout, variant, Policy::kLegacyRules).policy ==
          Policy::kNone);
    const ArmPolicy x =
        PolicyFor(&e, PopulationBucket::kExploration, variant, Policy::kLegacyRules);
    CHECK(x.policy == Policy::kRandom);
    CHECK(x.model.empty());
    CHECK_FALSE(x.shadow_policy.has_value());
  }
  CHECK(PolicyFor(nullptr, PopulationBucket::kHoldout, -1, Policy::kRecommender).policy ==
        Policy::kNone);
  CHECK(PolicyFor(nullptr, PopulationBucket::kExploration, -1, Policy::kRecommender).policy ==
        Policy::kRandom);
}

TEST_CASE("an enrolled user gets the variant's policy and model") {
  const Experiment e = TwoArms(Phase::kAbTest);
  const ArmPolicy t = PolicyFor(&e, PopulationBucket::kExperiment, 1, Policy::kLegacyRules);
  CHECK(t.policy == Policy::kRecommender);
  CHECK(t.model == "hybrid");
  CHECK_FALSE(t.shadow_policy.has_value());
  const ArmPolicy c = PolicyFor(&e, PopulationBucket::kExperiment, 0, Policy::kRecommender);
  CHECK(c.policy == Policy::kLegacyRules);
  CHECK(c.model.empty());
}

TEST_CASE("in the shadow phase control is shown and the assigned variant runs beside it") {
  const Experiment e = TwoArms(Phase::kShadow);
  const ArmPolicy t = PolicyFor(&e, PopulationBucket::kExperiment, 1, Policy::kLegacyRules);
  CHECK(t.policy == Policy::kLegacyRules);
  CHECK(t.model.empty());
  CHECK(t.shadow_policy == Policy::kRecommender);
  CHECK(t.shadow_model == "hybrid");
  // Control's users: nothing to shadow.
  CHECK_FALSE(
      PolicyFor(&e, PopulationBucket::kExperiment, 0, Policy::kRandom).shadow_policy.has_value());
}

TEST_CASE("outside any variant the surface's default policy applies") {
  const Experiment e = TwoArms(Phase::kAbTest);
  CHECK(PolicyFor(&e, PopulationBucket::kExperiment, -1, Policy::kRecommender).policy ==
        Policy::kRecommender);
  CHECK(PolicyFor(nullptr, PopulationBucket::kExperiment, -1, Policy::kLegacyRules).policy ==
        Policy::kLegacyRules);
}

}  // namespace abrec
