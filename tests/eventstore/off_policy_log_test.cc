// The off-policy log's sums against a brute-force recomputation from the same events,
// through the real store: exploration lists with targets (their support and the reward
// model's predictions, or neither), clicks and binds naming their request (and some that
// must not count), erasure, a restart, and a database of schema v9 whose lists are converted
// by the v10 migration.
// Over 400 lines: its three cases share one brute-force oracle, two thirds of the file.
#include "eventstore/sqlite/off_policy_log.h"

#include <cmath>
#include <future>
#include <limits>
#include <map>
#include <random>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "base/clock.h"
#include "eventstore/sqlite/sqlite_event_store.h"
#include "eventstore/sqlite/sqlite_schema.h"
#include "sqlitedb/sqlite_db.h"
#include "tests/eventstore/store_test_util.h"

namespace abrec {
namespace {

constexpr std::int64_t kDay = 86'400'000'000;
constexpr std::int64_t kWindow = 30 * kDay;

struct List {
  std::string request, user, bucket;
  std::int64_t ts = 0;
  std::vector<ExposedItem> items{};
  std::vector<OpeTarget> targets{};
};

struct Outcome {
  EventType type;
  std::string request, product;
  std::int64_t ts = 0, cents = 0;
};

bool In(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// One list's values for one target, from the header's definitions: y (per metric), its
// weight v, z, and the three flags.
struct Row {
  std::string user;
  double y[3] = {0, 0, 0}, v = 1, z[3] = {0, 0, 0};
  bool weighted = false, modelled = false, unsupported = false;
};

Row RowOf(const List& l, const OpeTarget& t, const std::vector<Outcome>& outcomes) {
  Row r{.user = l.user};
  double sum_w = 0, shown[3] = {0, 0, 0};
  bool all_predicted = true;
  for (const ExposedItem& it : l.items) {
    if (!In(it.in_lists, t.variant)) continue;
    sum_w += 1 / it.propensity;
    if (it.predicted) {
      shown[0] += it.predicted->clicks / it.propensity;
      shown[1] += it.predicted->binds / it.propensity;
      shown[2] += it.predicted->premium / it.propensity;
    } else {
      all_predicted = false;
    }
    for (const Outcome& o : outcomes) {
      if (o.request != l.request || o.product != it.product_id || o.ts < l.ts ||
          o.ts > l.ts + kWindow) {
        continue;
      }
      if (o.type == EventType::kClick) {
        r.y[0] += 1 / it.propensity;
      } else {
        r.y[1] += 1 / it.propensity;
        r.y[2] += static_cast<double>(o.cents) / 100 / it.propensity;
      }
    }
  }
  if (t.in_support > 0) {
    r.weighted = true;
    r.v = sum_w / t.in_support;
  } else if (t.in_support == 0) {
    r.weighted = true;
  }
  r.unsupported = t.in_support >= 0 && t.in_support < t.products;
  r.modelled = t.predicted && all_predicted;
  const double q[3] = {t.predicted ? t.predicted->clicks : 0, t.predicted ? t.predicted->binds : 0,
                       t.predicted ? t.predicted->premium : 0};
  for (int m = 0; m < 3; ++m) r.z[m] = r.y[m] + (r.modelled ? q[m] - shown[m] : 0);
  return r;
}

// Per target: every sum of OffPolicySums, from the rows, by plain loops.
OffPolicyByTarget FromRows(const std::map<std::string, std::vector<Row>>& rows) {
  OffPolicyByTarget out;
  for (const auto& [target, list] : rows) {
    OffPolicySums& s = out[target];
    struct User {
      double n = 0, y[3] = {0, 0, 0}, v = 0, z[3] = {0, 0, 0};
    };
    std::map<std::string, User> users;
    for (const Row& r : list) {
      s.weighted_lists += r.weighted;
      s.modelled_lists += r.modelled;
      s.unsupported_lists += r.unsupported;
      User& u = users[r.user];
      u.n += 1;
      u.v += r.v;
      for (int m = 0; m < 3; ++m) {
        stats::OpeSums& x = s.metrics[static_cast<std::size_t>(m)];
        x.units += 1;
        x.y += r.y[m];
        x.v += r.v;
        x.v_sq += r.v * r.v;
        x.z += r.z[m];
        u.y[m] += r.y[m];
        u.z[m] += r.z[m];
      }
    }
    for (const auto& [id, u] : users) {
      for (int m = 0; m < 3; ++m) {
        stats::OpeSums& x = s.metrics[static_cast<std::size_t>(m)];
        x.clusters += 1;
        x.nn += u.n * u.n;
        x.vv += u.v * u.v;
        x.yy += u.y[m] * u.y[m];
        x.ny += u.n * u.y[m];
        x.yv += u.y[m] * u.v;
        x.zz += u.z[m] * u.z[m];
        x.nz += u.n * u.z[m];
      }
    }
  }
  return out;
}

OffPolicyByTarget BruteForce(const std::vector<List>& lists, const std::vector<Outcome>& outcomes,
                             const std::string& erased_user = "") {
  std::map<std::string, std::vector<Row>> rows;
  for (const List& l : lists) {
    if (l.bucket != "exploration" || l.user == erased_user) continue;
    for (const OpeTarget& t : l.targets) rows[t.variant].push_back(RowOf(l, t, outcomes));
  }
  return FromRows(rows);
}

void CheckSame(const OffPolicyByTarget& got, const OffPolicyByTarget& want) {
  for (const auto& [t, w] : want) {
    CAPTURE(t);
    REQUIRE(got.contains(t));
    const OffPolicySums& g = got.at(t);
    CHECK(g.weighted_lists == w.weighted_lists);
    CHECK(g.modelled_lists == w.modelled_lists);
    CHECK(g.unsupported_lists == w.unsupported_lists);
    for (std::size_t m = 0; m < 3; ++m) {
      CAPTURE(m);
      const stats::OpeSums &a = g.metrics[m], &b = w.metrics[m];
      CHECK(a.units == b.units);
      CHECK(a.clusters == b.clusters);
      const double got_sums[] = {a.y, a.v, a.z, a.v_sq, a.nn, a.yy, a.ny, a.vv, a.yv, a.zz, a.nz};
      const double want_sums[] = {b.y, b.v, b.z, b.v_sq, b.nn, b.yy, b.ny, b.vv, b.yv, b.zz, b.nz};
      for (std::size_t i = 0; i < std::size(got_sums); ++i) {
        CAPTURE(i);
        CHECK(got_sums[i] == doctest::Approx(want_sums[i]).epsilon(1e-9).scale(1e-6));
      }
    }
  }
  // Targets absent from `want` have no list left (their rows stay, at zero).
  for (const auto& [t, g] : got) {
    if (!want.contains(t)) CHECK(g.lists() == 0);
  }
}

Event ExposureOf(const List& l) {
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
  return e;
}

// Random exploration lists of 2 to 4 of 6 products, a user having several; each target is
// logged with its list's size, support and predictions, or (one in five) without the
// support, or (one in four) without predictions.
std::vector<List> RandomLists(std::mt19937_64& rng, std::int64_t now, int count,
                              const std::string& prefix) {
  const std::vector<std::string> products = {"p0", "p1", "p2", "p3", "p4", "p5"};
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<List> out;
  for (int i = 0; i < count; ++i) {
    List l;
    l.request = fmt::format("{}req-{}", prefix, i);
    l.user = fmt::format("u{}", rng() % 60);
    l.bucket = i % 7 == 0 ? "treatment" : "exploration";  // only exploration lists count
    l.ts = now - static_cast<std::int64_t>(rng() % 5) * kDay;
    std::vector<std::string> shuffled = products;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    const int k = 2 + static_cast<int>(rng() % 3);
    const bool predicted = rng() % 4 != 0;
    for (int j = 0; j < k; ++j) {
      ExposedItem it{shuffled[static_cast<std::size_t>(j)], j + 1, k / 6.0};
      if (rng() % 2) it.in_lists.push_back("control");
      if (rng() % 3) it.in_lists.push_back("treatment");
      if (predicted)
        it.predicted = RewardPrediction{unit(rng) * 0.4, unit(rng) * 0.05, unit(rng) * 30};
      l.items.push_back(it);
    }
    for (const char* variant : {"control", "treatment"}) {
      OpeTarget t{.variant = variant};
      if (rng() % 5 != 0) {
        t.products = 3;
        t.in_support = 3 - static_cast<int>(rng() % 4 == 0);  // sometimes one is not explorable
      }
      if (predicted) t.predicted = RewardPrediction{unit(rng), unit(rng) * 0.1, unit(rng) * 90};
      l.targets.push_back(t);
    }
    out.push_back(std::move(l));
  }
  return out;
}

// Clicks and binds naming the lists: on shown products, on a product not shown, naming no
// request, too late.
std::vector<Outcome> RandomOutcomes(std::mt19937_64& rng, const std::vector<List>& lists) {
  const std::vector<std::string> products = {"p0", "p1", "p2", "p3", "p4", "p5"};
  std::vector<Outcome> out;
  for (const List& l : lists) {
    for (int c = 0; c < 3; ++c) {
      Outcome o{rng() % 3 ? EventType::kClick : EventType::kBind, l.request,
                products[rng() % products.size()], l.ts + static_cast<std::int64_t>(rng() % 1000),
                static_cast<std::int64_t>(rng() % 100'000)};
      if (c == 2 && rng() % 4 == 0) o.ts = l.ts + kWindow + 1;  // past the window
      if (c == 2 && rng() % 5 == 0) o.request.clear();          // names no list
      out.push_back(o);
    }
  }
  return out;
}

// The outcomes as events (their times capped at now; clicks carry no premium), in `outcomes`
// as posted.
std::vector<Event> OutcomeEvents(std::vector<Outcome>& outcomes, std::int64_t now,
                                 const std::string& prefix) {
  std::vector<Event> out;
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    Outcome& o = outcomes[i];
    Event e;
    e.event_id = fmt::format("{}o-{}", prefix, i);
    e.type = o.type;
    e.user_id = "someone";  // the request, not the user, names the list
    e.request_id = o.request;
    e.product_id = o.product;
    o.ts = e.ts_us = std::min(o.ts, now);
    if (o.type == EventType::kClick) o.cents = 0;
    e.premium_cents = o.cents;
    e.payload_hash = e.event_id;
    out.push_back(e);
  }
  return out;
}

Result<std::int64_t> EraseSync(EventStore& store, const std::string& user) {
  std::promise<Result<std::int64_t>> erased;
  auto f = erased.get_future();
  if (!store.EraseUser(user, [&](Result<std::int64_t> r) { erased.set_value(r); })) {
    return std::unexpected(Error{ErrorCode::kInternal, "not queued", ""});
  }
  return f.get();
}

TEST_CASE("off-policy sums equal a brute-force recomputation, after erasure and a restart") {
  TempDb tmp;
  ManualClock clock(1'800'000'000'000'000);
  std::mt19937_64 rng(29);
  const std::vector<List> lists = RandomLists(rng, clock.NowMicros(), 400, "");
  std::vector<Outcome> outcomes = RandomOutcomes(rng, lists);
  std::vector<Event> events;
  for (const List& l : lists) events.push_back(ExposureOf(l));
  {
    auto store =
        SqliteEventStore::Open({.path = tmp.Path(), .attribution_window_us = kWindow}, clock);
    REQUIRE(store.has_value());
    REQUIRE(SubmitSync(**store, events));
    std::vector<Event> later = OutcomeEvents(outcomes, clock.NowMicros(), "");
    // A duplicate of an outcome is not counted twice, nor a list logged twice.
    later.push_back(later.front());
    later.push_back(events[1]);
    REQUIRE(SubmitSync(**store, later));
    auto got = (*store)->OffPolicy("exp");
    REQUIRE(got.has_value());
    const OffPolicyByTarget want = BruteForce(lists, outcomes);
    CHECK(want.at("control").metrics[0].y > 0);
    CHECK(want.at("treatment").metrics[2].y > 0);
    CHECK(want.at("treatment").users() < want.at("treatment").lists());
    CHECK(want.at("treatment").modelled_lists > 0);
    CHECK(want.at("treatment").modelled_lists < want.at("treatment").lists());
    CHECK(want.at("control").unsupported_lists > 0);
    CHECK(want.at("control").weighted_lists < want.at("control").lists());
    CheckSame(*got, want);

    REQUIRE(EraseSync(**store, "u7").has_value());
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

TEST_CASE("a list with a bad propensity or inconsistent support is neither weighted nor modelled") {
  TempDb tmp;
  ManualClock clock(1'800'000'000'000'000);
  auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);
  REQUIRE(store.has_value());
  List l{.request = "r1", .user = "u1", .bucket = "exploration", .ts = clock.NowMicros()};
  l.items = {ExposedItem{"p0", 1, 0.0, {"control"}, RewardPrediction{0.1, 0.01, 1}},
             ExposedItem{"p1", 2, 0.5, {"control", "treatment"}, RewardPrediction{0.1, 0.01, 1}}};
  l.targets = {OpeTarget{"control", 2, 2, RewardPrediction{0.2, 0.02, 2}},
               OpeTarget{"treatment", 2, 0, RewardPrediction{0.3, 0.03, 3}}};
  List m = l;
  m.request = "r2";
  m.user = "u2";
  m.items[0].propensity = std::numeric_limits<double>::quiet_NaN();
  REQUIRE(SubmitSync(**store, {ExposureOf(l), ExposureOf(m)}));
  auto got = (*store)->OffPolicy("exp");
  REQUIRE(got.has_value());
  for (const char* t : {"control", "treatment"}) {
    CAPTURE(t);
    CHECK(got->at(t).lists() == 2);
    CHECK(got->at(t).weighted_lists == 0);
    CHECK(got->at(t).metrics[0].v == 2);
  }
  CHECK(got->at("control").modelled_lists == 0);
  CHECK(got->at("control").metrics[0].z == 0);
  // Treatment's matched product has a valid propensity: its model part counts.
  CHECK(got->at("treatment").modelled_lists == 2);
  CHECK(got->at("treatment").metrics[0].z == doctest::Approx(2 * (0.3 - 0.1 / 0.5)));
  CHECK(got->at("treatment").unsupported_lists == 2);
}

TEST_CASE("the v10 migration converts the lists of schema v9, then the log carries on") {
  // A database as abrec wrote it at schema v9: lists of several users with their IPS values
  // (ope_lists) and the per-target sums of v8 (ope_sums). After the migration the sums are
  // those of lists of weight 1 and no model part, clustered by their user_id; new lists,
  // outcomes on old and new lists, an erasure and a restart keep them equal to the oracle.
  TempDb tmp;
  ManualClock clock(1'800'000'000'000'000);
  std::mt19937_64 rng(41);
  std::uniform_real_distribution<double> unit(0, 1);
  std::map<std::string, std::vector<Row>> old_rows;
  {
    auto db = SqliteDb::Open(tmp.Path());
    REQUIRE(db.has_value());
    const auto migrations = SqliteMigrations();
    for (std::size_t v = 0; v < 9; ++v) REQUIRE((*db)->Exec(migrations[v]).has_value());
    std::string sql = "PRAGMA user_version = 9;";
    for (int i = 0; i < 120; ++i) {
      for (const char* target : {"control", "treatment"}) {
        Row r{.user = fmt::format("u{}", rng() % 25)};
        if (rng() % 3 == 0) r.y[0] = 1 / 0.5;
        if (rng() % 7 == 0) {
          r.y[1] = 1 / 0.5;
          r.y[2] = 420 / 0.5;
        }
        for (int m = 0; m < 3; ++m) r.z[m] = r.y[m];
        sql += fmt::format(
            "INSERT INTO ope_lists (request_id, target, experiment, user_id, clicks, binds, "
            "premium) VALUES ('old-{}', '{}', 'exp', '{}', {}, {}, {});",
            i, target, r.user, r.y[0], r.y[1], r.y[2]);
        old_rows[target].push_back(r);
      }
    }
    REQUIRE((*db)->Exec(sql).has_value());
  }
  std::vector<List> lists = RandomLists(rng, clock.NowMicros(), 150, "new-");
  std::vector<Outcome> outcomes = RandomOutcomes(rng, lists);
  auto want = [&](const std::string& erased) {
    std::map<std::string, std::vector<Row>> rows;
    for (const auto& [target, list] : old_rows) {
      for (const Row& r : list) {
        if (r.user != erased) rows[target].push_back(r);
      }
    }
    for (const List& l : lists) {
      if (l.bucket != "exploration" || l.user == erased) continue;
      for (const OpeTarget& t : l.targets) rows[t.variant].push_back(RowOf(l, t, outcomes));
    }
    return FromRows(rows);
  };
  {
    auto store =
        SqliteEventStore::Open({.path = tmp.Path(), .attribution_window_us = kWindow}, clock);
    REQUIRE(store.has_value());
    CHECK(SqliteEventStore::SchemaVersion() == static_cast<int>(SqliteMigrations().size()));
    std::map<std::string, std::vector<Row>> migrated = old_rows;
    CheckSame(*(*store)->OffPolicy("exp"), FromRows(migrated));
    CHECK((*store)->OffPolicy("exp")->at("control").users() == 25);
    std::vector<Event> events;
    for (const List& l : lists) events.push_back(ExposureOf(l));
    REQUIRE(SubmitSync(**store, events));
    REQUIRE(SubmitSync(**store, OutcomeEvents(outcomes, clock.NowMicros(), "new-")));
    CheckSame(*(*store)->OffPolicy("exp"), want(""));
    REQUIRE(EraseSync(**store, "u3").has_value());
    CheckSame(*(*store)->OffPolicy("exp"), want("u3"));
  }
  auto reopened =
      SqliteEventStore::Open({.path = tmp.Path(), .attribution_window_us = kWindow}, clock);
  REQUIRE(reopened.has_value());
  CheckSame(*(*reopened)->OffPolicy("exp"), want("u3"));
}

}  // namespace
}  // namespace abrec
