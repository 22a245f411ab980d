// The platform-wide population split, fixed for the life of the platform:
// u = hash_v2(platform_salt + ":population", user_id); [0, holdout) is the permanent holdout
// (no recommendations), [holdout, holdout + exploration) the exploration bucket (uniformly
// random eligible products), the rest the experiment population.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace abrec {

enum class PopulationBucket { kHoldout, kExploration, kExperiment };

// The population buckets' names: in assignments, exposure events and the report's totals.
inline constexpr std::string_view kHoldoutBucket = "holdout";
inline constexpr std::string_view kExplorationBucket = "exploration";

std::string_view PopulationBucketName(PopulationBucket bucket);

struct PopulationSplit {
  std::string platform_salt = "abrec";
  // A larger holdout measures the program's lift sooner but withholds recommendations from
  // more customers; 5% is the seed document's choice.
  double holdout = 0.05;
  // Random recommendations: unbiased training and off-policy data, at the cost of relevance.
  double exploration = 0.05;
};

// A validated split with its hash seed (platform_salt + ":population") computed once.
class Population {
 public:
  explicit Population(PopulationSplit split);
  const PopulationSplit& split() const { return split_; }
  const std::string& seed() const { return seed_; }
  // The FNV-1a state after the seed, continued per user.
  std::uint32_t seed_state() const { return seed_state_; }

 private:
  PopulationSplit split_;
  std::string seed_;
  std::uint32_t seed_state_;
};

// The bucket of a population hash value u in [0, 1).
inline PopulationBucket PopulationBucketOf(double u, const PopulationSplit& split) {
  if (u < split.holdout) return PopulationBucket::kHoldout;
  if (u < split.holdout + split.exploration) return PopulationBucket::kExploration;
  return PopulationBucket::kExperiment;
}

}  // namespace abrec
