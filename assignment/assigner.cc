#include "assignment/assigner.h"

#include "assignment/hash.h"

namespace abrec {

AssignmentSpec::AssignmentSpec(std::string seed, std::optional<NamespaceRange> ns,
                               double coverage, std::vector<double> weights, AssignMode mode,
                               int rollout_variant)
    : seed_(std::move(seed)),
      ns_(std::move(ns)),
      namespace_seed_(ns_ ? "__" + ns_->name : std::string()),
      coverage_(coverage),
      weights_(std::move(weights)),
      ranges_(GetBucketRanges(static_cast<int>(weights_.size()), coverage_, weights_)),
      mode_(mode),
      rollout_variant_(rollout_variant) {}

std::string_view AssignRuleName(AssignRule rule) {
  switch (rule) {
    case AssignRule::kHoldout: return "holdout";
    case AssignRule::kExploration: return "exploration";
    case AssignRule::kVariantRange: return "variant_range";
    case AssignRule::kRollout: return "rollout";
    case AssignRule::kOutsideNamespace: return "outside_namespace";
    case AssignRule::kOutsideCoverage: return "outside_coverage";
    case AssignRule::kStopped: return "stopped";
  }
  return "outside_coverage";
}

Result<Decision> Assign(const Population& population, const AssignmentSpec& spec,
                        std::string_view user_id) {
  if (auto ok = ValidateHashInput(user_id, "user_id"); !ok) return std::unexpected(ok.error());
  Decision d;
  // Every hash is computed for everyone, so the explanation is complete and the holdout's
  // counterfactual variant is the one the user would have had.
  d.population_hash = HashV2Unchecked(population.seed(), user_id);
  d.population = PopulationBucketOf(d.population_hash, population.split());
  d.experiment_hash = HashV2Unchecked(spec.seed(), user_id);
  if (spec.ns()) {
    const double h = HashV1Unchecked(spec.namespace_seed(), user_id);
    d.namespace_hash = h;
    d.in_namespace = h >= spec.ns()->start && h < spec.ns()->end;
  }

  if (spec.mode() == AssignMode::kStopped) {
    d.rule = AssignRule::kStopped;
    return d;
  }
  if (!d.in_namespace) {
    d.rule = AssignRule::kOutsideNamespace;
    return d;
  }
  if (spec.mode() == AssignMode::kRollout) {
    d.variant = spec.rollout_variant();
    d.rule = AssignRule::kRollout;
  } else {
    d.variant = ChooseVariation(d.experiment_hash, spec.ranges());
    d.rule = d.variant >= 0 ? AssignRule::kVariantRange : AssignRule::kOutsideCoverage;
  }
  if (d.variant >= 0) {
    if (d.population == PopulationBucket::kHoldout) d.rule = AssignRule::kHoldout;
    if (d.population == PopulationBucket::kExploration) d.rule = AssignRule::kExploration;
  }
  return d;
}

}  // namespace abrec
