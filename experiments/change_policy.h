// What may change in a running experiment. Once an experiment is in ab_test, changing who
// is in which arm (split, seed, variants, namespace, lower coverage) or how it is judged
// (primary metric, analysis settings) invalidates the data collected so far; such a change
// is refused unless the file records a new reason in `allow_reshuffle`. Ramping coverage
// up is always allowed: range starts stay fixed, so nobody enrolled moves.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "experiments/experiment.h"

namespace abrec {

// Names of the definition's parts that differ ("phase", "traffic.split", ...), for the audit
// log; empty when the two define the same experiment.
std::vector<std::string> ChangedFields(const Experiment& before, const Experiment& after);

// The reason the change from `before` (live) to `after` is refused, or std::nullopt.
std::optional<std::string> RefuseReshuffle(const Experiment& before, const Experiment& after);

}  // namespace abrec
