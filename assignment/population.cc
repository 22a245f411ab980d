#include "assignment/population.h"

namespace abrec {

std::string_view PopulationBucketName(PopulationBucket bucket) {
  switch (bucket) {
    case PopulationBucket::kHoldout: return "holdout";
    case PopulationBucket::kExploration: return "exploration";
    case PopulationBucket::kExperiment: return "experiment";
  }
  return "experiment";
}

}  // namespace abrec
