// SqliteEventStore's ingest and aggregates: what an exposure stores, idempotency by event_id,
// the bucket sums against an independent SQL GROUP BY over the raw events and after an
// erasure, sums past 2^63, a failed write group. Its other concerns have files of their own:
// sqlite_event_store_{daily,lifecycle,migration,retention,write_health}_test.cc.
#include "eventstore/sqlite/sqlite_event_store.h"

#include <algorithm>
#include <future>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "eventstore/sqlite/sqlite_event_writer.h"
#include "sqlitedb/sqlite_db.h"
#include "tests/eventstore/store_test_util.h"

namespace abrec {

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

// Found by review (2026-11-29): failed before its fix.
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

}  // namespace abrec
