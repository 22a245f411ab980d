// SqliteEventStore's life and files: Close, a reopen and a backup, a queue that refuses work
// past its capacity, the WAL under writes that never pause, an idle writer thread, the modes
// of the files it creates.
#include <sys/resource.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "eventstore/sqlite/sqlite_event_store.h"
#include "tests/eventstore/store_test_util.h"

namespace abrec {

TEST_CASE("Close commits what is queued, refuses later writes, keeps reads, and may race") {
  TempDb tmp;
  ManualClock clock(1'795'910'400'000'000);
  auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);
  REQUIRE(store.has_value());
  // Queued, not waited for: Close must commit and acknowledge it.
  std::promise<bool> acked;
  std::vector<Event> batch;
  for (int i = 0; i < 200; ++i) {
    batch.push_back(Exposure(fmt::format("e{}", i), fmt::format("u{}", i), "exp", "control",
                             clock.NowMicros(), 0));
  }
  REQUIRE((*store)->Submit(std::move(batch), [&acked](Result<std::vector<EventOutcome>> r) {
    acked.set_value(r.has_value() && r->size() == 200);
  }));
  std::thread other([&] { (*store)->Close(); });
  (*store)->Close();
  other.join();
  CHECK(acked.get_future().get());
  (*store)->Close();  // idempotent
  const auto late = (*store)->Submit({Exposure("late", "u0", "exp", "control", 1, 0)},
                                     [](Result<std::vector<EventOutcome>>) {});
  REQUIRE_FALSE(late.has_value());
  CHECK(late.error().code == ErrorCode::kUnavailable);
  const auto totals = (*store)->Totals("exp");
  REQUIRE(totals.has_value());
  CHECK(totals->at("control").users == 200);
}

TEST_CASE("the store survives a reopen and refuses work past its queue") {
  TempDb tmp;
  ManualClock clock;
  {
    auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);
    REQUIRE(store.has_value());
    REQUIRE(SubmitSync(**store, {Exposure("e1", "u1", "exp", "control", 1, 1)}).has_value());
  }
  auto store = SqliteEventStore::Open({.path = tmp.Path(), .queue_capacity = 3}, clock);
  REQUIRE(store.has_value());
  CHECK((*store)->Totals("exp")->at("control").users == 1);
  std::vector<Event> four;
  for (int i = 0; i < 4; ++i)
    four.push_back(Outcome(fmt::format("c{}", i), EventType::kClick, "u1", 2));
  auto refused = (*store)->Submit(four, [](auto) { FAIL("must not be called"); });
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == ErrorCode::kUnavailable);

  REQUIRE((*store)->Backup(tmp.Path("copy.db")).has_value());
  auto copy = SqliteEventStore::Open({.path = tmp.Path("copy.db")}, clock);
  REQUIRE(copy.has_value());
  CHECK((*copy)->Totals("exp")->at("control").users == 1);
}

// Checkpoint starvation: under writes that never pause, a PASSIVE checkpointer never
// catches up with the writer, so SQLite never restarts the WAL and it grows without bound
// (1.4 GB in 20 s of logged assigns before wal_limit_bytes existed). With the limit the
// writer pauses for one small checkpoint and the WAL restarts.
TEST_CASE("under writes that never pause the WAL restarts and stays near wal_limit_bytes") {
  TempDb tmp;
  ManualClock clock;
  const std::int64_t limit = 1 << 20;
  auto store = SqliteEventStore::Open({.path = tmp.Path(), .wal_limit_bytes = limit}, clock);
  REQUIRE(store.has_value());
  const std::string wal = tmp.Path() + "-wal";
  std::atomic<bool> done{false};
  std::atomic<std::int64_t> largest{0};
  std::thread watcher([&] {
    while (!done) {
      struct stat st {};
      if (::stat(wal.c_str(), &st) == 0 && st.st_size > largest) largest = st.st_size;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  std::thread reader([&] {  // reports read while the writer writes
    while (!done) (void)(*store)->Totals("exp");
  });
  // Four clients, each submitting the next 16 exposures once the last were acknowledged,
  // so that the writer always has work, until the WAL has restarted three times (or 20 s).
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  std::atomic<std::size_t> submitted{0};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      for (int b = 0;
           (*store)->stats().wal_restarts < 3 && std::chrono::steady_clock::now() < deadline; ++b) {
        std::vector<Event> events;
        for (int i = 0; i < 16; ++i) {
          events.push_back(Exposure(fmt::format("w{}-{}-{}", c, b, i),
                                    fmt::format("user-{}-{}-{}", c, b, i), "exp",
                                    i % 2 ? "control" : "treatment", 1, 5));
          events.back().features_json = std::string(300, 'f');
        }
        if (SubmitSync(**store, events)) {
          submitted += events.size();
        } else {
          ++failures;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  done = true;
  reader.join();
  watcher.join();
  CHECK(failures == 0);
  const auto stats = (*store)->stats();
  MESSAGE(submitted.load(), " events; largest WAL file ", largest.load(), " bytes; restarts ",
          stats.wal_restarts);
  CHECK(stats.events == submitted);
  CHECK(stats.wal_restarts >= 3);
  // Between two restarts the WAL grows by the limit plus what one checkpointer period
  // (250 ms) writes, a few MiB here; without them it holds every event's pages.
  CHECK(largest < 64 * limit);
  CHECK((*store)->Totals("exp")->at("control").users == submitted / 2);
}

// Found by review (2026-11-29): failed before its fix.
TEST_CASE("an idle store does not spin its writer thread") {
  TempDb tmp;
  ManualClock clock(1'000'000);
  auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);  // no retention
  REQUIRE(store.has_value());
  auto cpu_seconds = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  };
  const double before = cpu_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  // A busy loop would use the whole 0.5 s; waiting threads use next to nothing.
  CHECK(cpu_seconds() - before < 0.2);
}

TEST_CASE("the database, its WAL and its shared memory file are created 0600 whatever the umask") {
  TempDb tmp;
  ManualClock clock;
  const mode_t old = ::umask(0);
  {
    auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);
    REQUIRE(store.has_value());
    REQUIRE(SubmitSync(**store, {Exposure("m1", "u1", "exp", "control", 1, 1)}));
    for (const std::string suffix : {"", "-wal", "-shm"}) {
      CAPTURE(suffix);
      struct stat st {};
      REQUIRE(::stat((tmp.Path() + suffix).c_str(), &st) == 0);
      CHECK((st.st_mode & 07777) == 0600u);
    }
    REQUIRE((*store)->Backup(tmp.Path("copy.db")));
    struct stat st {};
    REQUIRE(::stat(tmp.Path("copy.db").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600u);
  }
  ::umask(old);
}

}  // namespace abrec
