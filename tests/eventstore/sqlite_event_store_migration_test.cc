// SqliteEventStore's schema migrations: the data of an older schema kept, binds stored before
// v9 priced once at the upgrade, sums an older schema overflowed into REAL rebuilt, a newer
// schema refused. The amount history's upgrade (v12) is in sqlite_amount_history_upgrade_test.cc.
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "eventstore/sqlite/sqlite_event_store.h"
#include "eventstore/sqlite/sqlite_schema.h"
#include "sqlitedb/sqlite_db.h"
#include "tests/eventstore/store_test_util.h"

namespace abrec {

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

// Found by review (2026-11-29): failed before its fix.
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

}  // namespace abrec
