#include "assignment/population.h"

#include "assignment/hash.h"

namespace abrec {

Population::Population(PopulationSplit split)
    : split_(std::move(split)),
      seed_(split_.platform_salt + ":population"),
      seed_state_(Fnv1aContinue(kFnvOffsetBasis, seed_)) {}

std::string_view PopulationBucketName(PopulationBucket bucket) {
  switch (bucket) {
    case PopulationBucket::kHoldout: return kHoldoutBucket;
    case PopulationBucket::kExploration: return kExplorationBucket;
    case PopulationBucket::kExperiment: return "experiment";
  }
  return "experiment";
}

}  // namespace abrec
