// The off-policy log's sums against a brute-force recomputation from the same events,
// through the real store: exploration lists with targets, clicks and binds naming their
// request (and some that must not count), erasure, and a restart.
#include "experiments/off_policy_log.h"

#include <cmath>
#include <future>
#include <map>
#include <random>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "base/clock.h"
#include "experiments/sqlite_event_store.h"
#include "tests/experiments/store_test_util.h"

namespace abrec {
namespace {

constexpr std::int64_t kDay = 86'400'000'000;
constexpr std::int64_t kWindow = 30 * kDay;

struct List {
  std::string request, user, bucket;
  std::int64_t ts = 0;
  std::vector<ExposedItem> items;
  std::vector<std::string> targets;
};

struct Outcome {
  EventType type;
  std::string request, product;
  std::int64_t ts = 0, cents = 0;
};

// Per target: lists and Σ Y, Σ Y² of clicks, binds, premium, computed from scratch.
OffPolicyByTarget BruteForce(const std::vector<List>& lists, const std::vector<Outcome>& outcomes,
                             const std::string& erased_user = "") {
  OffPolicyByTarget out;
  for (const List& l : lists) {
    if (l.bucket != "exploration" || l.user == erased_user) continue;
    for (const std::string& t : l.targets) {
      double y[3] = {0, 0, 0};
      for (const Outcome& o : outcomes) {
        if (o.request != l.request || o.ts < l.ts || o.ts > l.ts + kWindow) continue;
        for (const ExposedItem& it : l.items) {
          if (it.product_id != o.product) continue;
          if (std::find(it.in_lists.begin(), it.in_lists.end(), t) == it.in_lists.end()) continue;
          const double w = 1 / it.propensity;
          if (o.type == EventType::kClick) {
            y[0] += w;
          } else {
            y[1] += w;
            y[2] += w * static_cast<double>(o.cents) / 100;
          }
        }
      }
      OffPolicySums& s = out[t];
      ++s.lists;
      s.clicks += y[0];
      s.clicks_sq += y[0] * y[0];
      s.binds += y[1];
      s.binds_sq += y[1] * y[1];
      s.premium += y[2];
      s.premium_sq += y[2] * y[2];
    }
  }
  return out;
}

void CheckSame(const OffPolicyByTarget& got, const OffPolicyByTarget& want) {
  REQUIRE(got.size() == want.size());
  for (const auto& [t, w] : want) {
    const OffPolicySums& g = got.at(t);
    CHECK(g.lists == w.lists);
    for (auto [a, b] : {std::pair{g.clicks, w.clicks},
                        {g.clicks_sq, w.clicks_sq},
                        {g.binds, w.binds},
                        {g.binds_sq, w.binds_sq},
                        {g.premium, w.premium},
                        {g.premium_sq, w.premium_sq}}) {
      CHECK(a == doctest::Approx(b).epsilon(1e-9));
    }
  }
}

TEST_CASE("off-policy sums equal a brute-force recomputation, after erasure and a restart") {
  TempDb tmp;
  ManualClock clock(1'800'000'000'000'000);
  std::mt19937_64 rng(29);
  std::vector<List> lists;
  std::vector<Outcome> outcomes;
  const std::vector<std::string> products = {"p0", "p1", "p2", "p3", "p4", "p5"};
  std::vector<Event> events;
  for (int i = 0; i < 400; ++i) {
    List l;
    l.request = fmt::format("req-{}", i);
    l.user = fmt::format("u{}", i % 150);
    l.bucket = i % 7 == 0 ? "treatment" : "exploration";  // only exploration lists count
    l.ts = clock.NowMicros() - static_cast<std::int64_t>(rng() % 5) * kDay;
    std::vector<std::string> shuffled = products;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    const int k = 2 + static_cast<int>(rng() % 3);
    for (int j = 0; j < k; ++j) {
      ExposedItem it{shuffled[static_cast<std::size_t>(j)], j + 1, k / 6.0};
      if (rng() % 2) it.in_lists.push_back("control");
      if (rng() % 3) it.in_lists.push_back("treatment");
      l.items.push_back(it);
    }
    l.targets = {"control", "treatment"};
    Event e;
    e.event_id = "x-" + l.request;
    e.type = EventType::kExposure;
    e.user_id = l.user;
    e.request_id = l.request;
    e.experiment = "exp";
    e.bucket = l.bucket;
    e.ts_us = l.ts;
    e.items = l.items;
    e.ope_targets = l.targets;
    e.payload_hash = e.event_id;
    events.push_back(e);
    // Outcomes: on shown products, on a product not shown, naming no request, too late.
    for (int c = 0; c < 3; ++c) {
      Outcome o{rng() % 3 ? EventType::kClick : EventType::kBind, l.request,
                products[rng() % products.size()], l.ts + static_cast<std::int64_t>(rng() % 1000),
                static_cast<std::int64_t>(rng() % 100'000)};
      if (c == 2 && rng() % 4 == 0) o.ts = l.ts + kWindow + 1;  // past the window
      if (c == 2 && rng() % 5 == 0) o.request.clear();          // names no list
      outcomes.push_back(o);
    }
  }
  {
    auto store =
        SqliteEventStore::Open({.path = tmp.Path(), .attribution_window_us = kWindow}, clock);
    REQUIRE(store.has_value());
    REQUIRE(SubmitSync(**store, events));
    std::vector<Event> later;
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      const Outcome& o = outcomes[i];
      Event e;
      e.event_id = fmt::format("o-{}", i);
      e.type = o.type;
      e.user_id = "someone";  // the request, not the user, names the list
      e.request_id = o.request;
      e.product_id = o.product;
      e.ts_us = std::min(o.ts, clock.NowMicros());
      e.premium_cents = o.type == EventType::kBind ? o.cents : 0;
      e.payload_hash = e.event_id;
      later.push_back(e);
      outcomes[i].ts = e.ts_us;
      if (o.type == EventType::kClick) outcomes[i].cents = 0;
    }
    // A duplicate of an outcome is not counted twice.
    later.push_back(later.front());
    REQUIRE(SubmitSync(**store, later));
    auto got = (*store)->OffPolicy("exp");
    REQUIRE(got.has_value());
    const OffPolicyByTarget want = BruteForce(
        lists =
            [&] {
              std::vector<List> all;
              for (const Event& e : events) {
                all.push_back({e.request_id, e.user_id, e.bucket, e.ts_us, e.items, e.ope_targets});
              }
              return all;
            }(),
        outcomes);
    CHECK(want.at("control").clicks > 0);
    CHECK(want.at("treatment").premium > 0);
    CheckSame(*got, want);

    std::promise<Result<std::int64_t>> erased;
    REQUIRE((*store)->EraseUser("u7", [&](Result<std::int64_t> r) { erased.set_value(r); }));
    REQUIRE(erased.get_future().get().has_value());
    got = (*store)->OffPolicy("exp");
    REQUIRE(got.has_value());
    CheckSame(*got, BruteForce(lists, outcomes, "u7"));
  }
  auto reopened =
      SqliteEventStore::Open({.path = tmp.Path(), .attribution_window_us = kWindow}, clock);
  REQUIRE(reopened.has_value());
  auto got = (*reopened)->OffPolicy("exp");
  REQUIRE(got.has_value());
  CheckSame(*got, BruteForce(lists, outcomes, "u7"));
  CHECK((*reopened)->OffPolicy("other")->empty());
}

}  // namespace
}  // namespace abrec
