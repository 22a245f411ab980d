#include "eventstore/sqlite/sqlite_event_store.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <future>
#include <random>
#include <thread>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "sqlitedb/sqlite_db.h"
#include "eventstore/sqlite/sqlite_event_writer.h"
#include "eventstore/sqlite/sqlite_schema.h"
#include "tests/eventstore/store_test_util.h"

namespace abrec {
namespace {

// The audit trail of a request, waited for.
std::vector<Event> AuditSync(EventStore& store, std::string request_id) {
  std::promise<Result<std::vector<Event>>> p;
  auto f = p.get_future();
  REQUIRE(store
              .EventsOfRequest(std::move(request_id),
                               [&p](Result<std::vector<Event>> r) { p.set_value(std::move(r)); })
              .has_value());
  auto r = f.get();
  REQUIRE(r.has_value());
  return std::move(*r);
}

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

TEST_CASE("History: each day's closing totals, quiet buckets carried forward") {
  TempDb tmp;
  constexpr std::int64_t kDay = 86'400'000'000;
  const std::int64_t nov29 = 1'795'910'400'000'000;  // 2026-11-29T00:00:00Z
  ManualClock clock(nov29 + 3'600'000'000);
  auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);
  REQUIRE(store.has_value());
  REQUIRE(SubmitSync(**store, {Exposure("e1", "u1", "exp", "control", clock.NowMicros(), 3)}));
  REQUIRE(SubmitSync(**store, {Exposure("e2", "u2", "exp", "control", clock.NowMicros(), 3)}));
  clock.Advance(kDay);
  REQUIRE(SubmitSync(**store, {Exposure("e3", "u3", "exp", "treatment", clock.NowMicros(), 3)}));
  clock.Advance(2 * kDay);  // a day with no events, then one more control user
  REQUIRE(SubmitSync(**store, {Exposure("e4", "u4", "exp", "control", clock.NowMicros(), 3)}));
  REQUIRE(SubmitSync(**store, {Exposure("x1", "u9", "other", "control", clock.NowMicros(), 3)}));
  const auto h = (*store)->History("exp");
  REQUIRE(h.has_value());
  REQUIRE(h->size() == 3);
  CHECK((*h)[0].day == "2026-11-29");
  CHECK((*h)[0].buckets.size() == 1);
  CHECK((*h)[0].buckets.at("control").users == 2);
  CHECK((*h)[1].day == "2026-11-30");
  CHECK((*h)[1].buckets.at("control").users == 2);  // carried forward
  CHECK((*h)[1].buckets.at("treatment").users == 1);
  CHECK((*h)[2].day == "2026-12-02");
  CHECK((*h)[2].buckets.at("control").users == 3);
  CHECK((*h)[2].buckets.at("treatment").users == 1);
  CHECK((*h)[2].buckets == *(*store)->Totals("exp"));  // the last day is today's totals
  CHECK((*store)->History("nothing")->empty());
}

TEST_CASE(
    "served latency: a histogram per bucket and day; duplicates and client exposures "
    "do not count") {
  TempDb tmp;
  const std::int64_t nov29 = 1'795'910'400'000'000;  // 2026-11-29T00:00:00Z
  ManualClock clock(nov29 + 3'600'000'000);
  auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);
  REQUIRE(store.has_value());
  auto served = [&](std::string id, std::string user, std::string bucket, std::int64_t us,
                    bool fallback) {
    Event e =
        Exposure(std::move(id), std::move(user), "exp", std::move(bucket), clock.NowMicros(), 3);
    e.latency_us = us;
    e.fallback = fallback;
    return e;
  };
  REQUIRE(SubmitSync(**store, {served("a", "u1", "control", 900, false),
                               served("b", "u2", "treatment", 4'000, true),
                               served("c", "u3", "treatment", 4'100, false),
                               Exposure("d", "u4", "exp", "treatment", clock.NowMicros(), 3)}));
  REQUIRE(SubmitSync(**store, {served("b", "u2", "treatment", 4'000, true)}));  // duplicate
  clock.Advance(86'400'000'000);
  REQUIRE(SubmitSync(**store, {served("e", "u5", "treatment", 20'000, false)}));
  const auto all = (*store)->Latency("exp", "2026-11-29");
  REQUIRE(all.has_value());
  CHECK(all->at("control").exposures == 1);
  const LatencyHistogram& t = all->at("treatment");
  CHECK(t.exposures == 3);
  CHECK(t.fallbacks == 1);
  CHECK(t.counts[static_cast<std::size_t>(LatencyHistogram::BinOf(20'000))] == 1);
  CHECK(*t.QuantileUs(0.5) ==
        doctest::Approx(LatencyHistogram::BinMiddleUs(LatencyHistogram::BinOf(4'100))));
  const auto today = (*store)->Latency("exp", "2026-11-30");
  CHECK(today->at("treatment").exposures == 1);
  CHECK_FALSE(today->contains("control"));
  CHECK((*store)->Latency("other", "2026-01-01")->empty());
}

TEST_CASE("exposure counters: each item shown and each named counter, per bucket and day") {
  TempDb tmp;
  const std::int64_t nov29 = 1'795'910'400'000'000;  // 2026-11-29T00:00:00Z
  ManualClock clock(nov29 + 3'600'000'000);
  auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);
  REQUIRE(store.has_value());
  Event a = Exposure("a", "u1", "exp", "treatment", clock.NowMicros(), 0);
  a.items = {{"pet", 1, 1.0}, {"gadget", 2, 1.0}};
  a.counters = {"exposed|sex|F", "shown|sex|F|pet", "shown|sex|F|gadget"};
  Event b = a;
  b.event_id = "b";
  b.user_id = "u2";
  REQUIRE(SubmitSync(**store, {a, b, a}));  // the second `a` is a duplicate
  clock.Advance(86'400'000'000);
  Event c = Exposure("c", "u3", "exp", "control", clock.NowMicros(), 0);
  c.items = {{"pet", 1, 1.0}};
  REQUIRE(SubmitSync(**store, {c, Outcome("k", EventType::kClick, "u3", clock.NowMicros())}));
  const auto counters = (*store)->Counters("exp");
  REQUIRE(counters.has_value());
  const auto& t = counters->at("treatment").at("2026-11-29");
  CHECK(t.at("product|pet") == 2);
  CHECK(t.at("product|gadget") == 2);
  CHECK(t.at("exposed|sex|F") == 2);
  CHECK(t.at("shown|sex|F|pet") == 2);
  CHECK(t.size() == 5);
  CHECK(counters->at("control").at("2026-11-30").at("product|pet") == 1);
  CHECK(counters->at("control").size() == 1);
}

TEST_CASE("exposure counter names are capped per experiment; known names go on counting") {
  TempDb tmp;
  ManualClock clock(1'795'910'400'000'000);
  const EventStoreOptions options{.path = tmp.Path(), .max_counters_per_experiment = 3};
  auto count = [&](const std::string& experiment) {
    auto db = SqliteDb::Open(tmp.Path(), true);
    REQUIRE(db.has_value());
    auto q = (*db)->Prepare(
        "SELECT COUNT(DISTINCT name), COALESCE(SUM(count), 0) FROM exposure_counters "
        "WHERE experiment = ?1");
    REQUIRE(q.has_value());
    q->Bind(1, experiment);
    REQUIRE(*q->Step());
    return std::pair{q->Int(0), q->Int(1)};
  };
  {
    auto store = SqliteEventStore::Open(options, clock);
    REQUIRE(store.has_value());
    // Five names offered: the products first, then the named counters.
    Event a = Exposure("a", "u1", "exp", "control", clock.NowMicros(), 4);
    a.counters = {"phase|ab_test", "users|source|client"};
    REQUIRE(SubmitSync(**store, {a}));
    CHECK(count("exp") == std::pair<std::int64_t, std::int64_t>{3, 3});
    // Names already counted go on; another experiment has a cap of its own.
    Event b = Exposure("b", "u2", "exp", "treatment", clock.NowMicros(), 1);
    Event c = Exposure("c", "u3", "other", "control", clock.NowMicros(), 2);
    c.counters = {"phase|ab_test"};
    REQUIRE(SubmitSync(**store, {b, c}));
    CHECK(count("exp") == std::pair<std::int64_t, std::int64_t>{3, 4});
    CHECK(count("other") == std::pair<std::int64_t, std::int64_t>{3, 3});
  }
  // The names are read back at open: the cap holds across restarts.
  auto store = SqliteEventStore::Open(options, clock);
  REQUIRE(store.has_value());
  Event d = Exposure("d", "u4", "exp", "control", clock.NowMicros(), 0);
  d.items = {{"new-product", 1, 1.0}, {"p2", 2, 1.0}};
  REQUIRE(SubmitSync(**store, {d}));
  CHECK(count("exp") == std::pair<std::int64_t, std::int64_t>{3, 5});
}

TEST_CASE("an exposure's source is stored and read back") {
  TempDb tmp;
  ManualClock clock(1'795'910'400'000'000);
  auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);
  REQUIRE(store.has_value());
  Event a = Exposure("a", "u1", "exp", "control", clock.NowMicros(), 0);
  a.request_id = "r1";
  a.source = std::string(kSourceClient);
  Event b = Exposure("b", "u1", "exp", "control", clock.NowMicros(), 0);
  b.request_id = "r1";
  REQUIRE(SubmitSync(**store, {a, b}));
  const auto events = AuditSync(**store, "r1");
  REQUIRE(events.size() == 2);
  CHECK(events[0].source == "client");
  CHECK(events[1].source.empty());
}

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

TEST_CASE("events are idempotent by event_id: duplicates and conflicts") {
  TempDb tmp;
  ManualClock clock(1'000'000);
  auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);
  REQUIRE(store.has_value());
  Event a = Exposure("e1", "u1", "exp", "control", 100, 3);
  Event b = Outcome("e2", EventType::kClick, "u1", 150);
  auto first = SubmitSync(**store, {a, b});
  REQUIRE(first.has_value());
  CHECK(*first == std::vector<EventOutcome>{EventOutcome::kAccepted, EventOutcome::kAccepted});
  Event changed = b;
  changed.payload_hash = "other";
  auto again = SubmitSync(**store, {a, changed});
  REQUIRE(again.has_value());
  CHECK(*again == std::vector<EventOutcome>{EventOutcome::kDuplicate, EventOutcome::kConflict});
  auto totals = (*store)->Totals("exp");
  REQUIRE(totals.has_value());
  const BucketTotals& c = totals->at("control");
  CHECK(c.users == 1);
  CHECK(c.exposures == 1);
  CHECK(c.impressions == 3);
  CHECK(c.clicks == 1);
  CHECK(c.clicks_x_impressions == 3);
}

TEST_CASE("aggregates equal an independent SQL GROUP BY over the raw events") {
  TempDb tmp;
  ManualClock clock(1'000'000);
  constexpr std::int64_t kWindow = 200;
  auto store = SqliteEventStore::Open(
      {.path = tmp.Path(), .attribution_window_us = kWindow, .product_margins = Margins()}, clock);
  REQUIRE(store.has_value());
  std::mt19937_64 rng(20261129);
  std::vector<Event> all;
  int id = 0;
  for (int u = 0; u < 300; ++u) {
    const std::string user = fmt::format("user-{}", u);
    for (const char* exp : {"exp_a", "exp_b"}) {
      if (rng() % 4 == 0) continue;  // not exposed to this one
      const std::string bucket = (rng() % 2) ? "treatment" : "control";
      const int exposures = 1 + static_cast<int>(rng() % 3);
      for (int k = 0; k < exposures; ++k) {
        all.push_back(Exposure(fmt::format("x{}", id++), user, exp, bucket,
                               static_cast<std::int64_t>(rng() % 1000),
                               static_cast<int>(rng() % 5)));
      }
    }
    const int outcomes = static_cast<int>(rng() % 6);
    for (int k = 0; k < outcomes; ++k) {
      const bool bind = rng() % 3 == 0;
      all.push_back(Outcome(fmt::format("o{}", id++), bind ? EventType::kBind : EventType::kClick,
                            user, static_cast<std::int64_t>(rng() % 1400),
                            bind ? static_cast<std::int64_t>(rng() % 200'000) : 0));
      all.back().product_id = fmt::format("p{}", rng() % 3);  // p2: not in the catalog
    }
  }
  // Arrival order is not time order: clicks may arrive before the exposure they follow.
  std::shuffle(all.begin(), all.end(), rng);
  // Covariates for two users in three, half posted before the events, half after (and some
  // posted twice, the second value replacing the first).
  std::vector<Covariates> early, late;
  for (int u = 0; u < 300; ++u) {
    if (u % 3 == 2) continue;
    Covariates c{fmt::format("user-{}", u), static_cast<std::int64_t>(rng() % 300'000),
                 static_cast<std::int64_t>(rng() % 6)};
    (u % 2 ? early : late).push_back(c);
    if (u % 7 == 0) {
      c.products_held += 1;
      late.push_back(c);
    }
  }
  auto set_covariates = [&](std::vector<Covariates> list) {
    std::promise<Result<std::int64_t>> done;
    REQUIRE((*store)
                ->SetCovariates(list, [&](Result<std::int64_t> n) { done.set_value(n); })
                .has_value());
    CHECK(done.get_future().get().value_or(-1) == static_cast<std::int64_t>(list.size()));
  };
  set_covariates(early);
  for (std::size_t i = 0; i < all.size();) {
    const std::size_t n = std::min<std::size_t>(all.size() - i, 1 + rng() % 97);
    auto r = SubmitSync(**store, std::vector<Event>(all.begin() + static_cast<long>(i),
                                                    all.begin() + static_cast<long>(i + n)));
    REQUIRE(r.has_value());
    i += n;
  }
  set_covariates(late);
  // Erased users (with covariates, most with binds) take their share out of every sum.
  for (const int u : {0, 3, 4, 7, 12, 13}) {
    std::promise<Result<std::int64_t>> done;
    REQUIRE((*store)
                ->EraseUser(fmt::format("user-{}", u),
                            [&](Result<std::int64_t> n) { done.set_value(n); })
                .has_value());
    CHECK(done.get_future().get().value_or(0) > 0);
  }
  for (const char* exp : {"exp_a", "exp_b"}) {
    CAPTURE(exp);
    const auto stored = (*store)->Totals(exp);
    REQUIRE(stored.has_value());
    const auto expected = Recompute(tmp.Path(), exp, kWindow);
    REQUIRE(expected.size() == 2);
    CHECK(*stored == expected);
    CHECK(expected.at("control").clicks > 0);
    CHECK(expected.at("treatment").binds > 0);
    CHECK(expected.at("control").covariate_users > 0);
    CHECK(expected.at("control").x_premium > 0);
    CHECK(expected.at("treatment").revenue_cents > 0);
    CHECK(expected.at("treatment").unpriced_binds > 0);
    CHECK(expected.at("control").x_z > 0);
    CHECK(expected.at("treatment").x_impressions > 0);
    CHECK(expected.at("treatment").z_impressions > 0);
  }
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

TEST_CASE("erasure removes a user's events and their share of the aggregates") {
  TempDb tmp;
  ManualClock clock;
  auto store = SqliteEventStore::Open({.path = tmp.Path(), .product_margins = Margins()}, clock);
  REQUIRE(store.has_value());
  REQUIRE(SubmitSync(**store, {Exposure("a1", "alice", "exp", "control", 10, 2),
                               Exposure("b1", "bob", "exp", "control", 10, 1),
                               Outcome("a2", EventType::kBind, "alice", 20, 5000),
                               Outcome("b2", EventType::kClick, "bob", 20)})
              .has_value());
  std::promise<Result<std::int64_t>> erased;
  REQUIRE((*store)
              ->EraseUser("alice", [&](Result<std::int64_t> n) { erased.set_value(n); })
              .has_value());
  const auto n = erased.get_future().get();
  REQUIRE(n.has_value());
  CHECK(*n == 2);
  const auto totals = (*store)->Totals("exp");
  const BucketTotals& c = totals->at("control");
  CHECK(c.users == 1);
  CHECK(c.binds == 0);
  CHECK(c.premium_cents == 0);
  CHECK(c.clicks == 1);
  CHECK(*totals == Recompute(tmp.Path(), "exp", EventStoreOptions{}.attribution_window_us));
  CHECK(AuditSync(**store, "a1").empty());
}

TEST_CASE("binds stored before schema v9 are priced once, at the upgrade") {
  // The same events into two stores: one priced from the start; one written with no margins
  // and then turned back into a version-8 database (the revenue columns dropped), as an
  // older abrec left it. Reopened with the margins, it must hold what the first one holds.
  TempDb tmp;
  ManualClock clock(5'000);
  std::vector<Event> events;
  for (int u = 0; u < 40; ++u) {
    const std::string user = fmt::format("u{}", u);
    events.push_back(Exposure("x" + user, user, "exp", u % 2 ? "treatment" : "control", 100, 3));
    for (int b = 0; b < u % 3; ++b) {
      events.push_back(Outcome(fmt::format("b{}-{}", user, b), EventType::kBind, user, 200 + b,
                               10'000 + 137 * u + b));
      events.back().product_id = fmt::format("p{}", (u + b) % 3);
    }
  }
  BucketTotalsMap priced_from_the_start;
  {
    auto store =
        SqliteEventStore::Open({.path = tmp.Path("a.db"), .product_margins = Margins()}, clock);
    REQUIRE(store.has_value());
    REQUIRE(SubmitSync(**store, events).has_value());
    priced_from_the_start = *(*store)->Totals("exp");
  }
  {
    auto store = SqliteEventStore::Open({.path = tmp.Path("b.db")}, clock);
    REQUIRE(store.has_value());
    REQUIRE(SubmitSync(**store, events).has_value());
  }
  DropSchemaV12(tmp.Path("b.db"));
  {
    auto db = SqliteDb::Open(tmp.Path("b.db"));
    REQUIRE(db.has_value());
    // The tables of the versions after 8 go too (v11: the distinct-user counters).
    std::string sql =
        "DROP TABLE counter_names; DROP TABLE user_counted;"
        "ALTER TABLE events DROP COLUMN revenue_cents;"
        "ALTER TABLE user_totals DROP COLUMN revenue_cents;"
        "ALTER TABLE user_totals DROP COLUMN unpriced_binds;";
    for (const char* table : {"bucket_totals", "bucket_daily"}) {
      for (const char* column :
           {"revenue_cents", "revenue_cents_sq", "x_revenue", "z_revenue", "unpriced_binds"}) {
        sql += fmt::format("ALTER TABLE {} DROP COLUMN {};", table, column);
      }
    }
    // Back to v8's off-policy tables (v10 changed them; this log has no exploration list).
    sql += "DROP TABLE ope_users; DROP TABLE ope_lists; DROP TABLE ope_sums;";
    sql += std::string(SqliteMigrations()[7]);
    REQUIRE((*db)->Exec(sql + "PRAGMA user_version = 8;").has_value());
  }
  auto store =
      SqliteEventStore::Open({.path = tmp.Path("b.db"), .product_margins = Margins()}, clock);
  REQUIRE(store.has_value());
  const auto upgraded = (*store)->Totals("exp");
  REQUIRE(upgraded.has_value());
  CHECK(*upgraded == priced_from_the_start);
  CHECK(*upgraded == Recompute(tmp.Path("b.db"), "exp", EventStoreOptions{}.attribution_window_us));
  CHECK(upgraded->at("treatment").revenue_cents > 0);
  CHECK(upgraded->at("treatment").unpriced_binds > 0);
  // Today's snapshot of the history holds the priced totals too.
  const auto history = (*store)->History("exp");
  REQUIRE(history.has_value());
  REQUIRE_FALSE(history->empty());
  CHECK(history->back().buckets == priced_from_the_start);
  // The amount history recorded at the upgrade (v12, after v9 in the same open) carries the
  // revenue priced at it: each binder's one step holds their priced totals.
  const auto amounts = (*store)->Amounts("exp");
  REQUIRE(amounts.has_value());
  CHECK(amounts->since_day == "1970-01-01");  // the clock's day
  BucketTotalsMap from_steps;
  for (const UserAmounts& u : amounts->users) {
    REQUIRE(u.steps.size() == 1);
    CHECK(u.steps[0].day == "1970-01-01");
    from_steps[u.bucket].premium_cents += u.steps[0].premium_cents;
    from_steps[u.bucket].revenue_cents += u.steps[0].revenue_cents;
  }
  for (const auto& [bucket, t] : priced_from_the_start) {
    CAPTURE(bucket);
    CHECK(from_steps[bucket].premium_cents == t.premium_cents);
    CHECK(from_steps[bucket].revenue_cents == t.revenue_cents);
  }
  // Priced once: a second open changes nothing.
  store->reset();
  auto again =
      SqliteEventStore::Open({.path = tmp.Path("b.db"), .product_margins = Margins()}, clock);
  REQUIRE(again.has_value());
  CHECK(*(*again)->Totals("exp") == priced_from_the_start);
  CHECK((*again)->Amounts("exp")->users == amounts->users);
}

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

TEST_CASE("migrations keep the data of an older schema") {
  TempDb tmp;
  {
    auto db = SqliteDb::Open(tmp.Path());
    REQUIRE(db.has_value());
    const auto migrations = SqliteMigrations();
    for (std::size_t v = 0; v < 3; ++v) REQUIRE((*db)->Exec(migrations[v]).has_value());
    REQUIRE((*db)->Exec("PRAGMA user_version = 3").has_value());
    REQUIRE((*db)
                ->Exec("INSERT INTO events (seq, event_id, type, user_id, ts_us, request_id, "
                       "experiment, bucket, n_items, payload_hash, ingested_us) VALUES "
                       "(1, 'x1', 0, 'u1', 5, 'r1', 'exp', 'control', 3, 'x1-payload', 5);"
                       "INSERT INTO user_totals (experiment, user_id, bucket, first_ts_us, "
                       "first_seq, exposures, impressions, clicks, binds, premium_cents) VALUES "
                       "('exp', 'u1', 'control', 5, 1, 2, 3, 4, 1, 900);"
                       "INSERT INTO bucket_totals (experiment, bucket, users, clicks) VALUES "
                       "('exp', 'control', 1, 4)")
                .has_value());
  }
  ManualClock clock;
  auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);
  REQUIRE(store.has_value());
  CHECK(SqliteEventStore::SchemaVersion() == 13);
  auto db = SqliteDb::Open(tmp.Path(), true);
  auto version = (*db)->Prepare("PRAGMA user_version");
  REQUIRE(*version->Step());
  CHECK(version->Int(0) == 13);
  version->Reset();  // ends its read transaction, which would pin the snapshot below
  auto row = (*db)->Prepare("SELECT clicks, premium_cents FROM user_totals WHERE user_id = 'u1'");
  REQUIRE(row.has_value());
  REQUIRE(*row->Step());
  CHECK(row->Int(0) == 4);
  CHECK(row->Int(1) == 900);
  // A click now lands on the migrated row; the old event is known as a duplicate; the audit
  // finds it through the new index.
  const auto r = SubmitSync(**store, {Outcome("c1", EventType::kClick, "u1", 6),
                                      Exposure("x1", "u1", "exp", "control", 5, 3)});
  REQUIRE(r.has_value());
  CHECK(*r == std::vector<EventOutcome>{EventOutcome::kAccepted, EventOutcome::kDuplicate});
  row->Reset();
  REQUIRE(*row->Step());
  CHECK(row->Int(0) == 5);
  CHECK((*store)->Totals("exp")->at("control").clicks == 5);
  CHECK(AuditSync(**store, "r1").size() == 1);
  // The upgrade recorded u1's premium as of its day (the clock's: 1970-01-01).
  const auto amounts = (*store)->Amounts("exp");
  REQUIRE(amounts.has_value());
  CHECK(amounts->since_day == "1970-01-01");
  REQUIRE(amounts->users.size() == 1);
  CHECK(amounts->users[0].user_id == "u1");
  CHECK(amounts->users[0].steps == std::vector<UserAmountStep>{{"1970-01-01", 900, 0}});
}

TEST_CASE("bucket sums past 2^63 stay exact, in memory and on disk") {
  TempDb tmp;
  ManualClock clock(1'000'000);
  // 4e9 cents ($40M) bound by each of three users: the sum of squares is 4.8e19, past the
  // 9.2e18 a 64-bit integer holds.
  const std::int64_t cents = 4'000'000'000;
  const Int128 expected = Int128{3} * cents * cents;
  {
    auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);
    REQUIRE(store.has_value());
    std::vector<Event> events;
    for (int u = 0; u < 3; ++u) {
      const std::string user = fmt::format("rich-{}", u);
      events.push_back(Exposure("x" + user, user, "exp", "control", 10, 1));
      events.push_back(Outcome("b" + user, EventType::kBind, user, 20, cents));
    }
    REQUIRE(SubmitSync(**store, events).has_value());
    CHECK((*store)->Totals("exp")->at("control").premium_cents_sq == expected);
  }
  auto db = SqliteDb::Open(tmp.Path(), true);
  auto row = (*db)->Prepare(
      "SELECT typeof(premium_cents_sq), premium_cents_sq, typeof(premium_cents) FROM "
      "bucket_totals");
  REQUIRE(*row->Step());
  CHECK(row->Text(0) == "text");
  CHECK(row->Text(1) == "48000000000000000000");  // Python: 3 * 4_000_000_000**2
  CHECK(row->Text(2) == "integer");
  // Reopened: loaded back exactly, and updated by delta from there.
  auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);
  REQUIRE(store.has_value());
  REQUIRE(SubmitSync(**store, {Outcome("b-more", EventType::kBind, "rich-0", 30, 1)}).has_value());
  // rich-0's premium goes from c to c + 1: the sum of squares grows by 2c + 1.
  CHECK((*store)->Totals("exp")->at("control").premium_cents_sq == expected + 2 * cents + 1);
}

TEST_CASE("a database from a newer schema is refused") {
  TempDb tmp;
  {
    auto db = SqliteDb::Open(tmp.Path());
    REQUIRE(db.has_value());
    REQUIRE((*db)->Exec("PRAGMA user_version = 99").has_value());
  }
  ManualClock clock;
  auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);
  REQUIRE_FALSE(store.has_value());
  CHECK(store.error().code == ErrorCode::kFailedPrecondition);
}

namespace abrec {

// Cases found by review (2026-11-29): each failed before its fix.

TEST_CASE("a failed group that added and erased an event leaves no stale id behind") {
  TempDb tmp;
  ManualClock clock(1'000'000);
  auto w = SqliteEventWriter::Open({.path = tmp.Path()}, clock);
  REQUIRE(w.has_value());
  {
    auto db = SqliteDb::Open(tmp.Path());
    REQUIRE((*db)
                ->Exec("CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.event_id = 'boom' "
                       "BEGIN SELECT RAISE(ABORT, 'boom'); END;")
                .has_value());
  }
  std::vector<Event> add{Outcome("x", EventType::kClick, "alice", 10)};
  std::string alice = "alice";
  std::vector<Event> boom{Outcome("boom", EventType::kClick, "bob", 10)};
  const WriteOp ops[] = {
      {&add, nullptr, nullptr}, {nullptr, &alice, nullptr}, {&boom, nullptr, nullptr}};
  REQUIRE_FALSE((*w)->Commit(ops).has_value());
  CHECK((*w)->stats().ids == 0);
  CHECK((*w)->stats().events == 0);
  // The same event then goes in as new, once.
  const WriteOp again[] = {{&add, nullptr, nullptr}};
  auto r = (*w)->Commit(again);
  REQUIRE(r.has_value());
  CHECK((*r)[0].outcomes == std::vector{EventOutcome::kAccepted});
  CHECK((*w)->stats().ids == 1);
}

TEST_CASE("bucket sums an older schema overflowed into REAL are rebuilt from the user rows") {
  TempDb tmp;
  {
    auto db = SqliteDb::Open(tmp.Path());
    const auto migrations = SqliteMigrations();
    for (std::size_t v = 0; v < 4; ++v) REQUIRE((*db)->Exec(migrations[v]).has_value());
    // Two users of 3e9 cents each: the sum of squares 1.8e19 overflowed v4's INTEGER
    // arithmetic (col = col + excluded.col) into a REAL.
    REQUIRE((*db)
                ->Exec("PRAGMA user_version = 4;"
                       "INSERT INTO user_totals (experiment, user_id, bucket, first_ts_us, "
                       "first_seq, exposures, impressions, clicks, binds, premium_cents) VALUES "
                       "('exp', 'u1', 'control', 5, 1, 1, 0, 0, 1, 3000000000),"
                       "('exp', 'u2', 'control', 5, 2, 1, 0, 0, 1, 3000000000);"
                       "INSERT INTO bucket_totals (experiment, bucket, users, exposures, binders, "
                       "binds, binds_sq, premium_cents, premium_cents_sq) VALUES "
                       "('exp', 'control', 2, 2, 2, 2, 2, 6000000000, 9000000000000000000);"
                       "UPDATE bucket_totals SET premium_cents_sq = premium_cents_sq + "
                       "9000000000000000000")
                .has_value());
  }
  ManualClock clock(1'000'000);
  auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);
  REQUIRE(store.has_value());
  const BucketTotals c = (*store)->Totals("exp")->at("control");
  CHECK(c.premium_cents_sq == Int128{2} * 3'000'000'000 * 3'000'000'000);
  CHECK(c.users == 2);
  CHECK(c.binds == 2);
}

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

}  // namespace abrec

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
