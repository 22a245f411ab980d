#include "eventstore/sqlite/distinct_user_counters.h"

#include <future>
#include <random>
#include <set>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "base/clock.h"
#include "eventstore/sqlite/sqlite_aggregate_reader.h"
#include "eventstore/sqlite/sqlite_event_store.h"
#include "eventstore/sqlite/sqlite_event_writer.h"
#include "tests/eventstore/store_test_util.h"

namespace abrec {
namespace {

constexpr std::int64_t kNov29 = 1'795'910'400'000'000;  // 2026-11-29T00:00:00Z
constexpr std::int64_t kDay = 86'400'000'000;

Event Exposure(std::string id, std::string user, std::string bucket,
               std::vector<std::string> counters, std::int64_t ts) {
  Event e;
  e.event_id = std::move(id);
  e.type = EventType::kExposure;
  e.user_id = std::move(user);
  e.experiment = "exp";
  e.bucket = std::move(bucket);
  e.ts_us = ts;
  e.counters = std::move(counters);
  e.payload_hash = e.event_id + "-payload";
  return e;
}

Result<std::int64_t> EraseSync(EventStore& store, const std::string& user) {
  std::promise<Result<std::int64_t>> p;
  auto f = p.get_future();
  auto ok = store.EraseUser(user, [&p](Result<std::int64_t> n) { p.set_value(std::move(n)); });
  if (!ok) return std::unexpected(ok.error());
  return f.get();
}

// The oracle: every accepted exposure's counters as rows of an in-memory SQLite database, and
// the counts the store must hold computed from them by SQL (no code shared with the store).
// A name with the "users|" prefix counts each (bucket, user, name) once, on the first day it
// was posted; an erasure removes the user's earlier rows of those (a later return counts
// anew). Other names count every exposure, erasure or not.
class Oracle {
 public:
  Oracle() {
    db_ = std::move(*SqliteDb::Open(":memory:"));
    REQUIRE(db_->Exec("CREATE TABLE posted (user TEXT, bucket TEXT, name TEXT, day TEXT);"
                      "CREATE TABLE per_exposure (bucket TEXT, name TEXT, day TEXT);")
                .has_value());
  }
  void Post(const Event& e, const std::string& day) {
    for (const std::string& name : e.counters) {
      const bool users = name.starts_with("users|");
      auto stmt = *db_->Prepare(users ? "INSERT INTO posted VALUES (?1, ?2, ?3, ?4)"
                                      : "INSERT INTO per_exposure VALUES (?2, ?3, ?4)");
      if (users) stmt.Bind(1, e.user_id);
      REQUIRE(stmt.Bind(2, e.bucket).Bind(3, name).Bind(4, day).Run().has_value());
    }
  }
  void Erase(const std::string& user) {
    auto stmt = *db_->Prepare("DELETE FROM posted WHERE user = ?1");
    REQUIRE(stmt.Bind(1, user).Run().has_value());
  }
  ExposureCounters Expected() {
    auto stmt = *db_->Prepare(
        "SELECT bucket, day, name, COUNT(*) FROM (SELECT user, bucket, name, MIN(day) AS day "
        "FROM posted GROUP BY user, bucket, name) GROUP BY bucket, day, name "
        "UNION ALL SELECT bucket, day, name, COUNT(*) FROM per_exposure GROUP BY bucket, day, "
        "name");
    ExposureCounters out;
    REQUIRE(ForEachRow(stmt, [&](const SqliteStatement& r) {
              out[r.Text(0)][r.Text(1)][r.Text(2)] = r.Int(3);
            }).has_value());
    return out;
  }

 private:
  std::unique_ptr<SqliteDb> db_;
};

std::string Day(std::int64_t micros) { return FormatRfc3339(micros).substr(0, 10); }

TEST_CASE(
    "distinct-user counters equal an SQL oracle over the posted exposures, through duplicates, "
    "erasures and restarts") {
  TempDb tmp;
  ManualClock clock(kNov29 + 3'600'000'000);
  Oracle oracle;
  auto open = [&] {
    auto s = SqliteEventStore::Open({.path = tmp.Path()}, clock);
    REQUIRE(s.has_value());
    return std::move(*s);
  };
  auto store = open();
  const std::vector<std::string> names{"users|exposed|sex|F",        "users|exposed|sex|M",
                                       "users|shown|sex|F|pet",      "users|shown|sex|M|pet",
                                       "users|shown|sex|F|gadget",   "users|exposed|region|a|b",
                                       "users|shown|region|a|b|pet", "shadow|lists"};
  std::mt19937_64 rng(20261207);
  std::vector<Event> accepted;
  int next_id = 0;
  for (int day = 0; day < 6; ++day) {
    if (day == 3) {  // a restart: what was counted must be remembered
      store.reset();
      store = open();
    }
    for (int batch = 0; batch < 4; ++batch) {
      std::vector<Event> events;
      for (int i = 0; i < 40; ++i) {
        const auto u = rng() % 50;
        std::string bucket = (u % 2 == 0) == (rng() % 10 != 0) ? "control" : "treatment";
        std::vector<std::string> counters;
        for (const std::string& n : names) {
          if (rng() % 3 == 0) counters.push_back(n);
        }
        counters.push_back(names[rng() % names.size()]);  // a name twice in one exposure
        events.push_back(Exposure(fmt::format("x{}", next_id++), fmt::format("u{}", u), bucket,
                                  counters, clock.NowMicros()));
      }
      if (!accepted.empty()) events.push_back(accepted[rng() % accepted.size()]);  // duplicate
      const auto r = SubmitSync(*store, events);
      REQUIRE(r.has_value());
      for (std::size_t i = 0; i < events.size(); ++i) {
        if ((*r)[i] != EventOutcome::kAccepted) continue;
        accepted.push_back(events[i]);
        oracle.Post(events[i], Day(clock.NowMicros()));
      }
    }
    if (day == 2) {
      for (const std::string user : {"u3", "u8", "u11"}) {
        REQUIRE(EraseSync(*store, user).has_value());
        oracle.Erase(user);
      }
    }
    clock.Advance(kDay);
  }
  const auto counted = store->Counters("exp");
  REQUIRE(counted.has_value());
  const ExposureCounters expected = oracle.Expected();
  CHECK(expected.at("control").size() == 6);
  CHECK(*counted == expected);
  // Erased users who did not come back have no row; no counter is left at zero.
  store.reset();
  auto db = SqliteDb::Open(tmp.Path(), true);
  REQUIRE(db.has_value());
  auto zero = (*db)->Prepare("SELECT COUNT(*) FROM exposure_counters WHERE count <= 0");
  REQUIRE(*zero->Step());
  CHECK(zero->Int(0) == 0);
  zero->Reset();
  // Reopened, the same; posting every user's exposures again counts no one twice.
  store = open();
  CHECK(*store->Counters("exp") == expected);
  std::vector<Event> again;
  for (const Event& e : accepted) {
    Event copy = e;
    copy.event_id += "-again";
    again.push_back(std::move(copy));
  }
  // (An erased user's event posted again later was accepted twice: its second copy here is
  // a duplicate.)
  const auto outcomes = SubmitSync(*store, again);
  REQUIRE(outcomes.has_value());
  for (std::size_t i = 0; i < again.size(); ++i) {
    if ((*outcomes)[i] == EventOutcome::kAccepted) oracle.Post(again[i], Day(clock.NowMicros()));
  }
  const ExposureCounters after = oracle.Expected();
  CHECK(*store->Counters("exp") == after);
}

TEST_CASE("distinct-user counts commit and roll back with the events") {
  TempDb tmp;
  ManualClock clock(kNov29);
  auto w = SqliteEventWriter::Open({.path = tmp.Path()}, clock);
  REQUIRE(w.has_value());
  auto reader = SqliteDb::Open(tmp.Path());
  REQUIRE(reader.has_value());
  REQUIRE((*reader)
              ->Exec("CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.event_id = 'boom' "
                     "BEGIN SELECT RAISE(ABORT, 'boom'); END;")
              .has_value());
  const std::string f = "users|exposed|sex|F", pet = "users|shown|sex|F|new-product";
  std::vector<Event> bob{Exposure("b1", "bob", "control", {f}, 1)};
  REQUIRE((*w)->Commit(std::vector<WriteOp>{{&bob, nullptr, nullptr}}).has_value());
  // One group: alice counted (under a name never seen before), bob erased, then a failure.
  std::vector<Event> alice{Exposure("a1", "alice", "control", {f, pet}, 2)};
  std::vector<Event> boom{Exposure("boom", "carol", "control", {f}, 3)};
  const std::string bob_id = "bob";
  REQUIRE_FALSE((*w)->Commit(std::vector<WriteOp>{{&alice, nullptr, nullptr},
                                                  {nullptr, &bob_id, nullptr},
                                                  {&boom, nullptr, nullptr}})
                    .has_value());
  auto counts = [&] {
    return ReadExposureCounters(**reader, "exp")->at("control").at("2026-11-29");
  };
  CHECK(counts() == std::map<std::string, std::int64_t>{{f, 1}});
  // Nothing of the failed group stayed in memory: alice counts once, bob leaves, both names.
  std::vector<Event> alice_twice{alice[0], Exposure("a2", "alice", "control", {f, pet}, 4)};
  REQUIRE((*w)->Commit(std::vector<WriteOp>{{&alice_twice, nullptr, nullptr},
                                            {nullptr, &bob_id, nullptr}})
              .has_value());
  CHECK(counts() == std::map<std::string, std::int64_t>{{f, 1}, {pet, 1}});
  w->reset();
  auto names = (*reader)->Prepare("SELECT COUNT(*) FROM counter_names");
  REQUIRE(*names->Step());
  CHECK(names->Int(0) == 2);
}

TEST_CASE("a damaged user_counted row fails the open with a message, not a crash") {
  TempDb tmp;
  ManualClock clock(kNov29);
  {
    auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);
    REQUIRE(store.has_value());
    REQUIRE(SubmitSync(**store, {Exposure("a", "alice", "control", {"users|exposed|sex|F"}, 1)})
                .has_value());
  }
  for (const char* bytes : {"X'81'", "X'0502'", "X'FFFFFFFFFF01'", "X'0909'"}) {
    CAPTURE(bytes);
    {
      auto db = SqliteDb::Open(tmp.Path());
      REQUIRE((*db)->Exec(fmt::format("UPDATE user_counted SET counted = {}", bytes)).has_value());
    }
    auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);
    REQUIRE_FALSE(store.has_value());
    CHECK(store.error().message.find("user_counted row") != std::string::npos);
  }
}

}  // namespace
}  // namespace abrec
