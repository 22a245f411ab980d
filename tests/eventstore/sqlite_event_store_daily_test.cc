// What SqliteEventStore keeps per bucket and day: the daily history of the bucket totals, the
// served latency histograms, and the exposure counters with their cap on names.
#include <string>
#include <utility>

#include <doctest/doctest.h>

#include "eventstore/sqlite/sqlite_event_store.h"
#include "sqlitedb/sqlite_db.h"
#include "tests/eventstore/store_test_util.h"

namespace abrec {

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

}  // namespace abrec
