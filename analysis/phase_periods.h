// The phase an experiment was in on each day of its history, from the "phase|PHASE" counters
// every exposure carries (Platform::ExposureEvent). A confidence sequence's running
// intersection is valid for one fixed effect, and a phase change changes the effect being
// measured: in shadow the treatment's users are shown control's list, in rollout control's
// users get the treatment. The report therefore starts its sequences again when the phase
// changes, and in rollout keeps the A/B test's last figures.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "eventstore/event_store.h"
#include "experiments/vocabulary.h"

namespace abrec {

// For each of `days` (ascending "YYYY-MM-DD"), the phase its exposures were made in. A day
// without exposures keeps the phase before it (the first known one for days before any); a
// day with exposures in two phases is the day of a change and gets the later one: the one
// the next days (or `current`, for the last) continue in, else the later in the order
// shadow, ab_test, rollout, stopped. Nullopt for every day when no exposure carries a phase
// (a database written before the counters existed): one period.
std::vector<std::optional<Phase>> PhaseOfDays(const ExposureCounters& counters,
                                              const std::vector<std::string>& days,
                                              Phase current);

}  // namespace abrec
