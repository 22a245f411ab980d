// SqliteEventStore's failed writes and WriteHealth: a full database, a failed WAL sync
// (fail-stop), a full disk, a full write queue; nothing acknowledged is lost.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "eventstore/sqlite/sqlite_event_store.h"
#include "tests/eventstore/store_test_util.h"

namespace abrec {
namespace {

// Submits batches of 50 exposures (f0-0, f0-1, ... of users user-0-0, ...) until one fails,
// adding the ids of those acknowledged to `acknowledged`; returns the failure.
std::optional<Error> FillUntilFull(EventStore& store, std::vector<std::string>& acknowledged) {
  for (int batch = 0; batch < 200; ++batch) {
    std::vector<Event> events;
    for (int i = 0; i < 50; ++i) {
      Event e = Exposure(fmt::format("f{}-{}", batch, i), fmt::format("user-{}-{}", batch, i),
                         "exp", "control", 1, 5);
      e.features_json = std::string(200, 'x');
      events.push_back(std::move(e));
    }
    auto r = SubmitSync(store, events);
    if (!r) return r.error();
    for (const auto& e : events) acknowledged.push_back(e.event_id);
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("a full database fails the transaction as unavailable and loses nothing acknowledged") {
  TempDb tmp;
  ManualClock clock;
  std::vector<std::string> acknowledged;
  {
    auto store = SqliteEventStore::Open({.path = tmp.Path(), .max_size_bytes = 256 << 10}, clock);
    REQUIRE(store.has_value());
    const std::optional<Error> full = FillUntilFull(**store, acknowledged);
    REQUIRE(full.has_value());
    CHECK(full->code == ErrorCode::kUnavailable);
    CHECK(full->message.find("full") != std::string::npos);
    REQUIRE_FALSE(acknowledged.empty());
    // Still serving reads, and the aggregates hold exactly the acknowledged batches.
    CHECK((*store)->Totals("exp")->at("control").users ==
          static_cast<std::int64_t>(acknowledged.size()));
  }
  auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);  // room again
  REQUIRE(store.has_value());
  std::vector<Event> again;
  for (const auto& id : acknowledged) {
    const auto dash = id.find('-');
    Event e = Exposure(id, "user-" + id.substr(1, dash - 1) + "-" + id.substr(dash + 1), "exp",
                       "control", 1, 5);
    e.features_json = std::string(200, 'x');
    again.push_back(std::move(e));
  }
  const auto r = SubmitSync(**store, again);
  REQUIRE(r.has_value());
  CHECK(std::count(r->begin(), r->end(), EventOutcome::kDuplicate) ==
        static_cast<long>(acknowledged.size()));
  CHECK(*(*store)->Totals("exp") ==
        Recompute(tmp.Path(), "exp", EventStoreOptions{}.attribution_window_us));
}

TEST_CASE("fail-stop: after a failed WAL sync nothing more is acknowledged and nothing is lost") {
  TempDb tmp;
  ManualClock clock;
  std::atomic<bool> broken{false};
  std::atomic<int> syncs_after_failure{0};
  std::vector<std::string> acknowledged;
  {
    EventStoreOptions options{.path = tmp.Path()};
    options.file_sync = [&](int fd) {
      if (!broken) return ::fdatasync(fd);
      ++syncs_after_failure;
      errno = EIO;
      return -1;
    };
    auto store = SqliteEventStore::Open(std::move(options), clock);
    REQUIRE(store.has_value());
    for (int i = 0; i < 5; ++i) {
      const std::string id = fmt::format("ok-{}", i);
      REQUIRE(SubmitSync(**store, {Exposure(id, "user-" + id, "exp", "control", 1, 2)}));
      acknowledged.push_back(id);
    }
    CHECK_FALSE((*store)->WriteHealth().has_value());
    broken = true;  // the device reports a write-back error from now on
    auto failed = SubmitSync(**store, {Exposure("lost-0", "user-lost-0", "exp", "control", 1, 2)});
    REQUIRE_FALSE(failed.has_value());
    CHECK(failed.error().code == ErrorCode::kUnavailable);
    // Sticky: later writes fail without another sync of the same descriptor, even once the
    // device would say it is fine again (a retried fsync can succeed over lost pages).
    broken = false;
    for (int i = 1; i < 4; ++i) {
      const std::string id = fmt::format("lost-{}", i);
      auto r = SubmitSync(**store, {Exposure(id, "user-" + id, "exp", "control", 1, 2)});
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().code == ErrorCode::kUnavailable);
      CHECK(r.error().message.find("restart") != std::string::npos);
    }
    CHECK(syncs_after_failure.load() == 1);
    const auto health = (*store)->WriteHealth();
    REQUIRE(health.has_value());
    CHECK(health->code == ErrorCode::kUnavailable);
    CHECK(health->field == "storage");
    CHECK(health->message.find("cannot sync") != std::string::npos);
    CHECK(health->message.find(strerror(EIO)) != std::string::npos);
  }
  // A restart recovers from the WAL: every acknowledged event is there.
  auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);
  REQUIRE(store.has_value());
  CHECK_FALSE((*store)->WriteHealth().has_value());
  std::vector<Event> again;
  for (const auto& id : acknowledged)
    again.push_back(Exposure(id, "user-" + id, "exp", "control", 1, 2));
  const auto r = SubmitSync(**store, again);
  REQUIRE(r.has_value());
  CHECK(std::count(r->begin(), r->end(), EventOutcome::kDuplicate) ==
        static_cast<long>(acknowledged.size()));
}

TEST_CASE("a full disk shows in WriteHealth until a commit succeeds again") {
  TempDb tmp;
  ManualClock clock;
  auto store = SqliteEventStore::Open({.path = tmp.Path(), .max_size_bytes = 256 << 10}, clock);
  REQUIRE(store.has_value());
  CHECK_FALSE((*store)->WriteHealth().has_value());
  std::vector<std::string> acknowledged;
  REQUIRE(FillUntilFull(**store, acknowledged).has_value());
  const auto health = (*store)->WriteHealth();
  REQUIRE(health.has_value());
  CHECK(health->message.find("full") != std::string::npos);
  // Not sticky: a small write that fits is acknowledged, and the store is healthy again.
  REQUIRE(SubmitSync(**store, {Outcome("small", EventType::kClick, "user-0-0", 2)}).has_value());
  CHECK_FALSE((*store)->WriteHealth().has_value());
}

TEST_CASE("a full write queue shows in WriteHealth") {
  TempDb tmp;
  ManualClock clock;
  // synchronous NORMAL: completions run on the writer thread, so a blocked one holds the
  // writer while more events queue behind it.
  auto store = SqliteEventStore::Open(
      {.path = tmp.Path(), .synchronous = "NORMAL", .queue_capacity = 3}, clock);
  REQUIRE(store.has_value());
  std::promise<void> release, entered;
  std::shared_future<void> released = release.get_future().share();
  REQUIRE((*store)->Submit({Exposure("q0", "u0", "exp", "control", 1, 1)},
                           [&entered, released](Result<std::vector<EventOutcome>>) {
                             entered.set_value();
                             released.wait();
                           }));
  entered.get_future().wait();
  // Nothing may throw until the writer is released: its destructor would wait for it.
  std::vector<std::future<Result<std::vector<EventOutcome>>>> waiting;
  std::vector<std::promise<Result<std::vector<EventOutcome>>>> promises(3);
  bool queued = true;
  for (std::size_t i = 0; i < promises.size(); ++i) {
    waiting.push_back(promises[i].get_future());
    queued = queued && (*store)
                           ->Submit({Exposure(fmt::format("q{}", i + 1), fmt::format("u{}", i + 1),
                                              "exp", "control", 1, 1)},
                                    [&promises, i](Result<std::vector<EventOutcome>> r) {
                                      promises[i].set_value(std::move(r));
                                    })
                           .has_value();
  }
  const auto health = (*store)->WriteHealth();
  release.set_value();
  REQUIRE(queued);
  for (auto& f : waiting) CHECK(f.get().has_value());
  REQUIRE(health.has_value());
  CHECK(health->message.find("queue is full") != std::string::npos);
  CHECK_FALSE((*store)->WriteHealth().has_value());
}

}  // namespace abrec
