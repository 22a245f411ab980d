// Smaller versions of the simulation studies `abrec simulate` runs, with the same kind of
// bounds (issue 4): the truth is known, so each bound is a statement about the engine.
#include "sim/studies.h"

#include <cmath>

#include <doctest/doctest.h>

namespace abrec::sim {

TEST_CASE(
    "SRM: a 1% exposure loss in one arm is found at scale, and false alarms stay at the "
    "threshold") {
  SrmOptions o;
  o.simulations = 1'000;
  const auto rows = RunSrm(o);
  REQUIRE(rows.size() == 4);
  for (const SrmRow& row : rows) {
    MESSAGE(row.total, " users: detected ", row.detected, " (non-central chi2: ", row.closed_form,
            "), false alarms ", row.false_alarm);
    CHECK(row.false_alarm <=
          o.threshold + 3 * std::sqrt(o.threshold * (1 - o.threshold) / o.simulations));
    CHECK(std::fabs(row.detected - row.closed_form) <=
          3 * std::sqrt(row.closed_form * (1 - row.closed_form) / o.simulations) + 0.005);
  }
  CHECK(rows[3].detected > 0.99);  // 5,000,000 users: 22,500 lost exposures
  CHECK(rows[0].detected < 0.05);  // 10,000 users: 45 lost exposures are within noise
}

}  // namespace abrec::sim
