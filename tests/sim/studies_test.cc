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
  // Read daily, the anytime-valid test keeps its false alarms under the threshold too, and
  // still finds the loss at 5 million users.
  for (const SrmRow& row : rows) {
    MESSAGE(row.total, " users, 30 looks: sequential detected ", row.detected_sequential,
            " (median at ", row.sequential_median_fraction, " of the users), false alarms ",
            row.false_alarm_sequential, "; chi2 peeked: detected ", row.detected_peeking,
            ", false alarms ", row.false_alarm_peeking);
    CHECK(row.false_alarm_sequential <=
          o.threshold + 3 * std::sqrt(o.threshold * (1 - o.threshold) / o.simulations));
  }
  CHECK(rows[3].detected_sequential > 0.95);
}

TEST_CASE("SRM read daily: chi2 peeked at 30 looks over-alarms, the sequential test does not") {
  // At threshold 0.05 the false alarms are frequent enough to measure in 2,000 simulations.
  SrmOptions o;
  o.totals = {100'000};
  o.threshold = 0.05;
  o.simulations = 2'000;
  const auto rows = RunSrm(o);
  REQUIRE(rows.size() == 1);
  const SrmRow& row = rows[0];
  const double se = std::sqrt(o.threshold * (1 - o.threshold) / o.simulations);
  MESSAGE("false alarms at 0.05 over 30 looks: chi2 at the end ", row.false_alarm, ", chi2 peeked ",
          row.false_alarm_peeking, ", sequential ", row.false_alarm_sequential);
  CHECK(std::fabs(row.false_alarm - o.threshold) <= 3 * se);  // one look: a valid test
  CHECK(row.false_alarm_peeking > 2 * o.threshold);
  CHECK(row.false_alarm_sequential <= o.threshold + 3 * se);
}

}  // namespace abrec::sim
