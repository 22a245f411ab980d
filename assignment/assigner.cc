#include "assignment/assigner.h"

#include "assignment/hash.h"
#include "base/utf8.h"

namespace abrec {

AssignmentSpec::AssignmentSpec(std::string seed, std::optional<NamespaceRange> ns, double coverage,
                               std::vector<double> weights, AssignMode mode, int rollout_variant)
    : seed_(std::move(seed)),
      ns_(std::move(ns)),
      namespace_seed_(ns_ ? "__" + ns_->name : std::string()),
      seed_state_(Fnv1aContinue(kFnvOffsetBasis, seed_)),
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

namespace {

// The three FNV-1a chains over the user id, in one pass: population (seed + id),
// experiment (seed + id) and namespace (id + "__" + name). The seed prefixes are absorbed
// once per spec; the three chains are independent, so the CPU runs them side by side.
struct Chains {
  std::uint32_t population, experiment, ns;
  void Absorb(std::uint32_t c) {
    population = (population ^ c) * kFnvPrime;
    experiment = (experiment ^ c) * kFnvPrime;
    ns = (ns ^ c) * kFnvPrime;
  }
};

}  // namespace

Result<Decision> Assign(const Population& population, const AssignmentSpec& spec,
                        std::string_view user_id) {
  if (auto ok = ValidateHashInput(user_id, "user_id"); !ok) return std::unexpected(ok.error());
  return AssignValidated(population, spec, user_id);
}

Decision AssignValidated(const Population& population, const AssignmentSpec& spec,
                         std::string_view user_id) {
  Chains h{population.seed_state(), spec.seed_state(), kFnvOffsetBasis};
  if (IsAscii(user_id)) {
    for (const char c : user_id) h.Absorb(static_cast<unsigned char>(c));
  } else {
    ForEachCodePoint(user_id, [&h](std::uint32_t c) { h.Absorb(c); });
  }
  Decision d;
  // Every hash is computed for everyone, so the explanation is complete and the holdout's
  // counterfactual variant is the one the user would have had.
  d.population_hash = HashV2FromInner(h.population);
  d.population = PopulationBucketOf(d.population_hash, population.split());
  d.experiment_hash = HashV2FromInner(h.experiment);
  if (spec.ns()) {
    const double n =
        static_cast<double>(Fnv1aContinue(h.ns, spec.namespace_seed()) % 1000u) / 1000.0;
    d.namespace_hash = n;
    d.in_namespace = n >= spec.ns()->start && n < spec.ns()->end;
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
