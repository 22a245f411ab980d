#include "analysis/phase_periods.h"

#include <doctest/doctest.h>

namespace abrec {

TEST_CASE("the phase of each day, from the exposures' phase counters") {
  ExposureCounters c;
  c["control"]["2026-11-01"]["phase|shadow"] = 40;
  c["treatment"]["2026-11-01"]["phase|shadow"] = 38;
  c["control"]["2026-11-03"]["phase|shadow"] = 10;  // the day of the move to ab_test
  c["treatment"]["2026-11-03"]["phase|ab_test"] = 12;
  c["control"]["2026-11-04"]["phase|ab_test"] = 50;
  c["control"]["2026-11-04"]["product|pet"] = 7;  // other counters are ignored
  c["control"]["2026-11-06"]["phase|rollout"] = 5;
  const std::vector<std::string> days = {"2026-10-31", "2026-11-01", "2026-11-02", "2026-11-03",
                                         "2026-11-04", "2026-11-05", "2026-11-06"};
  const auto phases = PhaseOfDays(c, days, Phase::kRollout);
  REQUIRE(phases.size() == days.size());
  CHECK(phases[0] == Phase::kShadow);  // before any exposure: the first known
  CHECK(phases[1] == Phase::kShadow);
  CHECK(phases[2] == Phase::kShadow);  // no exposure: the day before's
  CHECK(phases[3] == Phase::kAbTest);  // both: the one the next days continue in
  CHECK(phases[4] == Phase::kAbTest);
  CHECK(phases[5] == Phase::kAbTest);
  CHECK(phases[6] == Phase::kRollout);
  // A day with two phases at the end of the history: the experiment's current one.
  ExposureCounters last;
  last["control"]["2026-11-01"]["phase|shadow"] = 1;
  last["control"]["2026-11-01"]["phase|ab_test"] = 1;
  CHECK(PhaseOfDays(last, {"2026-11-01"}, Phase::kAbTest)[0] == Phase::kAbTest);
  CHECK(PhaseOfDays(last, {"2026-11-01"}, Phase::kShadow)[0] == Phase::kShadow);
  // No phase counters (an older database): no phase for any day, one period.
  const auto none = PhaseOfDays({}, days, Phase::kAbTest);
  for (const auto& p : none) CHECK_FALSE(p.has_value());
}

}  // namespace abrec
