// Assignment of one user to one experiment: the population split, the experiment's
// namespace, its bucket ranges and its mode. A pure function of its inputs: no I/O, no
// locks, no allocation on the ASCII path, safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "assignment/bucket_ranges.h"
#include "assignment/population.h"
#include "base/error.h"

namespace abrec {

// How the experiment's phase shapes assignment.
enum class AssignMode {
  kRandomized,  // shadow and ab_test: the variant is the range containing the hash
  kRollout,     // every user of the namespace gets `rollout_variant` (coverage ignored)
  kStopped,     // nobody is enrolled
};

// What assignment needs to know of one experiment, compiled once when it is loaded.
class AssignmentSpec {
 public:
  // seed: the experiment hash seed (used verbatim). weights: one per variant, in the order
  // the variants are written. rollout_variant: index used in kRollout mode.
  AssignmentSpec(std::string seed, std::optional<NamespaceRange> ns, double coverage,
                 std::vector<double> weights, AssignMode mode, int rollout_variant = 0);

  const std::string& seed() const { return seed_; }
  const std::optional<NamespaceRange>& ns() const { return ns_; }
  double coverage() const { return coverage_; }
  const std::vector<double>& weights() const { return weights_; }
  const std::vector<BucketRange>& ranges() const { return ranges_; }
  AssignMode mode() const { return mode_; }
  int rollout_variant() const { return rollout_variant_; }
  // "__" + namespace name: the namespace hash seed.
  const std::string& namespace_seed() const { return namespace_seed_; }
  // The FNV-1a state after the experiment seed, continued per user.
  std::uint32_t seed_state() const { return seed_state_; }

 private:
  std::string seed_;
  std::optional<NamespaceRange> ns_;
  std::string namespace_seed_;
  std::uint32_t seed_state_;
  double coverage_;
  std::vector<double> weights_;
  std::vector<BucketRange> ranges_;
  AssignMode mode_;
  int rollout_variant_;
};

// The rule that decided a user's bucket, for `abrec assign` and the response.
enum class AssignRule {
  kHoldout,           // platform holdout, in the experiment's namespace and coverage
  kExploration,       // platform exploration bucket, in namespace and coverage
  kVariantRange,      // the experiment hash fell in a variant's range
  kRollout,           // rollout phase: everyone in the namespace gets the rollout variant
  kOutsideNamespace,  // namespace hash outside the experiment's namespace range
  kOutsideCoverage,   // experiment hash outside every variant range
  kStopped,           // the experiment is stopped
};

std::string_view AssignRuleName(AssignRule rule);

struct Decision {
  PopulationBucket population = PopulationBucket::kExperiment;
  double population_hash = 0;
  std::optional<double> namespace_hash;  // absent when the experiment has no namespace
  double experiment_hash = 0;
  bool in_namespace = true;
  // The variant the user has (population kExperiment) or would have had (holdout and
  // exploration: the counterfactual variant); -1 when the user is not in the experiment.
  int variant = -1;
  AssignRule rule = AssignRule::kOutsideCoverage;

  // The user belongs to the experiment (as a variant, or as its holdout / exploration).
  bool InExperiment() const { return variant >= 0; }
};

// Assigns `user_id`, which must be valid UTF-8 (error on field "user_id" otherwise).
Result<Decision> Assign(const Population& population, const AssignmentSpec& spec,
                        std::string_view user_id);

// The same for an id the caller has already checked with ValidateHashInput (a bug
// otherwise): callers that validate once up front do not pay for a second scan.
Decision AssignValidated(const Population& population, const AssignmentSpec& spec,
                         std::string_view user_id);

}  // namespace abrec
