// SqliteEventStore's retention period: raw events older than it are purged (the aggregates
// kept), and refused when they arrive.
#include <chrono>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "eventstore/sqlite/sqlite_event_store.h"
#include "tests/eventstore/store_test_util.h"

namespace abrec {

TEST_CASE("retention purges raw events and keeps the aggregates") {
  TempDb tmp;
  ManualClock clock(1'000'000'000);
  {
    auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);
    REQUIRE(store.has_value());
    Event old = Exposure("old", "u1", "exp", "control", 100, 1);
    old.request_id = "r-old";
    Event recent = Exposure("new", "u2", "exp", "control", 999'000'000, 1);
    recent.request_id = "r-new";
    REQUIRE(SubmitSync(**store, {old, recent}).has_value());
    CHECK(AuditSync(**store, "r-old").size() == 1);
  }
  // Reopened with a retention of 1 s: the writer purges at start.
  auto store = SqliteEventStore::Open({.path = tmp.Path(), .retention_us = 1'000'000}, clock);
  REQUIRE(store.has_value());
  for (int i = 0; i < 200 && !AuditSync(**store, "r-old").empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(AuditSync(**store, "r-old").empty());
  CHECK(AuditSync(**store, "r-new").size() == 1);
  CHECK((*store)->Totals("exp")->at("control").users == 2);
}

// Found by review (2026-11-29): failed before its fix.
TEST_CASE("events older than the retention period are refused, not stored") {
  TempDb tmp;
  ManualClock clock(10'000'000);
  auto store = SqliteEventStore::Open({.path = tmp.Path(), .retention_us = 1'000'000}, clock);
  REQUIRE(store.has_value());
  const auto r = SubmitSync(**store, {Exposure("old", "u", "exp", "control", 8'000'000, 1),
                                      Exposure("new", "u", "exp", "control", 9'500'000, 1)});
  REQUIRE(r.has_value());
  CHECK(*r == std::vector<EventOutcome>{EventOutcome::kExpired, EventOutcome::kAccepted});
  CHECK((*store)->stats().events == 1);
  CHECK((*store)->Totals("exp")->at("control").exposures == 1);
}

}  // namespace abrec
