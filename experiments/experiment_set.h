// Checks between experiments, and between an experiment and the platform: keys are unique
// across files, the surface exists, and experiments running on one surface are mutually
// exclusive (one namespace, disjoint ranges), so no user is in two of them at once.
#pragma once

#include <span>

#include "base/diagnostic.h"
#include "experiments/experiment.h"
#include "experiments/experiments_config.h"

namespace abrec {

// Fills an empty surface with the platform default. Reports an unknown surface.
Diagnostics ResolveSurface(Experiment& e, const Surfaces& config);

// The problems `e` has with `others` (already accepted experiments).
Diagnostics CheckAgainstOthers(const Experiment& e, std::span<const Experiment* const> others);

}  // namespace abrec
