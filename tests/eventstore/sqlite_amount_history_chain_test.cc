// The amount history's chain of steps (each naming its predecessor): a failed transaction leaves
// it as it was, erasure follows it, a missing predecessor is an error when it is read.
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "eventstore/sqlite/sqlite_aggregate_reader.h"
#include "eventstore/sqlite/sqlite_event_store.h"
#include "eventstore/sqlite/sqlite_event_writer.h"
#include "sqlitedb/sqlite_db.h"
#include "tests/eventstore/amount_history_oracle.h"
#include "tests/eventstore/store_test_util.h"

namespace abrec {

TEST_CASE("a failed transaction leaves the amount history and its chain as they were") {
  TempDb tmp;
  ManualClock clock(kNov29 + kHour);
  auto w = SqliteEventWriter::Open({.path = tmp.Path()}, clock);
  REQUIRE(w.has_value());
  auto commit = [&](std::vector<Event> events) {
    const WriteOp ops[] = {{&events, nullptr, nullptr}};
    return (*w)->Commit(ops);
  };
  REQUIRE(commit({Exposure("a1", "alice", "exp", "control", clock.NowMicros(), 1),
                  Outcome("a2", EventType::kBind, "alice", clock.NowMicros(), 1'000)}));
  {
    auto db = SqliteDb::Open(tmp.Path());
    REQUIRE((*db)
                ->Exec("CREATE TRIGGER boom BEFORE INSERT ON user_amounts WHEN NEW.user_id = "
                       "'bob' BEGIN SELECT RAISE(ABORT, 'boom'); END;")
                .has_value());
  }
  // The next day: alice's new step is written, then bob's fails, and with it the whole
  // transaction; alice's in-memory row must point at her stored step again.
  clock.Advance(kDay);
  REQUIRE_FALSE(commit({Outcome("a3", EventType::kBind, "alice", clock.NowMicros(), 2'000),
                        Exposure("b1", "bob", "exp", "control", clock.NowMicros(), 1),
                        Outcome("b2", EventType::kBind, "bob", clock.NowMicros(), 500)}));
  CHECK(CountSteps(tmp.Path(), "alice") == 1);
  {
    auto db = SqliteDb::Open(tmp.Path());
    REQUIRE((*db)->Exec("DROP TRIGGER boom").has_value());
  }
  REQUIRE(commit({Outcome("a3", EventType::kBind, "alice", clock.NowMicros(), 2'000)}));
  REQUIRE(commit({Outcome("a4", EventType::kBind, "alice", clock.NowMicros(), 4'000)}));
  CHECK(CountSteps(tmp.Path(), "alice") == 2);  // one per day
  {
    auto db = SqliteDb::Open(tmp.Path(), true);
    auto steps = ReadAmountHistory(**db, "exp");
    REQUIRE(steps.has_value());
    REQUIRE(steps->users.size() == 1);
    CHECK(steps->users[0].steps ==
          std::vector<UserAmountStep>{{Day(kNov29), 1'000, 0}, {Day(kNov29 + kDay), 7'000, 0}});
  }
  // Erasure follows the chain from the latest step to the first.
  std::string alice = "alice";
  const WriteOp erase[] = {{nullptr, &alice, nullptr}};
  REQUIRE((*w)->Commit(erase).has_value());
  CHECK(CountSteps(tmp.Path(), "alice") == 0);
}

TEST_CASE("a step whose predecessor is missing is an error, not a user read twice") {
  TempDb tmp;
  ManualClock clock(kNov29 + kHour);
  {
    auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);
    REQUIRE(store.has_value());
    REQUIRE(SubmitSync(**store, {Exposure("a1", "alice", "exp", "control", clock.NowMicros(), 1),
                                 Outcome("a2", EventType::kBind, "alice", clock.NowMicros(), 10)}));
    clock.Advance(kDay);
    REQUIRE(SubmitSync(**store, {Outcome("a3", EventType::kBind, "alice", clock.NowMicros(), 20)}));
    CHECK((*store)->Amounts("exp")->users.size() == 1);
  }
  auto db = SqliteDb::Open(tmp.Path());
  REQUIRE(db.has_value());
  REQUIRE((*db)->Exec("DELETE FROM user_amounts WHERE prev = 0").has_value());
  const auto read = ReadAmountHistory(**db, "exp");
  REQUIRE_FALSE(read.has_value());
  CHECK(read.error().code == ErrorCode::kInternal);
  CHECK(read.error().message.find("which is not there") != std::string::npos);
}

}  // namespace abrec
