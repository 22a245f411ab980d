// Helpers for tests of the event store: a temporary database folder, Submit, SetCovariates and
// EventsOfRequest waited for, events, and the bucket totals recomputed from the raw events.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "eventstore/event_store.h"
#include "sqlitedb/sqlite_db.h"

namespace abrec {

namespace fs = std::filesystem;

struct TempDb {
  TempDb() {
    dir = fs::temp_directory_path() / fmt::format("abrec-store-{}-{}", ::getpid(), counter++);
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDb() { fs::remove_all(dir); }
  std::string Path(const std::string& name = "events.db") const { return (dir / name).string(); }
  static inline int counter = 0;
  fs::path dir;
};

inline Result<std::vector<EventOutcome>> SubmitSync(EventStore& store, std::vector<Event> events) {
  std::promise<Result<std::vector<EventOutcome>>> p;
  auto f = p.get_future();
  auto ok = store.Submit(std::move(events),
                         [&p](Result<std::vector<EventOutcome>> r) { p.set_value(std::move(r)); });
  if (!ok) return std::unexpected(ok.error());
  return f.get();
}

inline Result<std::int64_t> SetCovariatesSync(EventStore& store,
                                              const std::vector<Covariates>& list) {
  std::promise<Result<std::int64_t>> done;
  auto ok = store.SetCovariates(list, [&](Result<std::int64_t> n) { done.set_value(n); });
  if (!ok) return std::unexpected(ok.error());
  return done.get_future().get();
}

// The audit trail of a request, waited for.
inline std::vector<Event> AuditSync(EventStore& store, std::string request_id) {
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

inline Event Exposure(std::string id, std::string user, std::string exp, std::string bucket,
                      std::int64_t ts, int items) {
  Event e;
  e.event_id = std::move(id);
  e.type = EventType::kExposure;
  e.user_id = std::move(user);
  e.experiment = std::move(exp);
  e.bucket = std::move(bucket);
  e.ts_us = ts;
  for (int i = 0; i < items; ++i) e.items.push_back({fmt::format("p{}", i), i + 1, 0.5});
  e.payload_hash = e.event_id + "-payload";
  return e;
}

inline Event Outcome(std::string id, EventType type, std::string user, std::int64_t ts,
                     std::int64_t cents = 0) {
  Event e;
  e.event_id = std::move(id);
  e.type = type;
  e.user_id = std::move(user);
  e.ts_us = ts;
  e.premium_cents = cents;
  e.product_id = "p0";
  e.payload_hash = e.event_id + "-payload";
  return e;
}

// The catalog margins the store prices binds with in these tests (p2 is not listed).
inline std::map<std::string, double, std::less<>> Margins() { return {{"p0", 0.12}, {"p1", 0.35}}; }

// The aggregates recomputed from the raw events by one SQL query, independently of the
// store's incremental updates: first exposure (by time, then order) decides the bucket;
// clicks and binds count within [first, first + window].
inline BucketTotalsMap Recompute(const std::string& path, const std::string& experiment,
                                 std::int64_t window) {
  auto db = SqliteDb::Open(path, true);
  REQUIRE(db.has_value());
  // The margins of the store's catalog in these tests (kMargins); p2 is not priced.
  auto stmt = (*db)->Prepare(R"(
    WITH margins(product_id, margin) AS (VALUES ('p0', 0.12), ('p1', 0.35)),
    priced AS (
      SELECT e.*, CAST(ROUND(e.premium_cents * m.margin) AS INTEGER) AS revenue,
        m.margin IS NULL AS unpriced
      FROM events e LEFT JOIN margins m ON m.product_id = e.product_id WHERE e.type = 2),
    firsts AS (
      SELECT experiment, user_id, MIN(ts_us) AS first_ts, COUNT(*) AS exposures,
             SUM(n_items) AS impressions
      FROM events WHERE type = 0 GROUP BY experiment, user_id),
    users AS (
      SELECT f.experiment, f.user_id, f.exposures, f.impressions,
        (SELECT e.bucket FROM events e WHERE e.type = 0 AND e.experiment = f.experiment
           AND e.user_id = f.user_id ORDER BY e.ts_us, e.seq LIMIT 1) AS bucket,
        (SELECT COUNT(*) FROM events c WHERE c.type = 1 AND c.user_id = f.user_id
           AND c.ts_us BETWEEN f.first_ts AND f.first_ts + ?2) AS clicks,
        (SELECT COUNT(*) FROM events b WHERE b.type = 2 AND b.user_id = f.user_id
           AND b.ts_us BETWEEN f.first_ts AND f.first_ts + ?2) AS binds,
        (SELECT COALESCE(SUM(b.premium_cents), 0) FROM events b WHERE b.type = 2
           AND b.user_id = f.user_id AND b.ts_us BETWEEN f.first_ts AND f.first_ts + ?2) AS premium,
        (SELECT COALESCE(SUM(b.revenue), 0) FROM priced b WHERE b.user_id = f.user_id
           AND b.ts_us BETWEEN f.first_ts AND f.first_ts + ?2) AS revenue,
        (SELECT COUNT(*) FROM priced b WHERE b.unpriced AND b.user_id = f.user_id
           AND b.ts_us BETWEEN f.first_ts AND f.first_ts + ?2) AS unpriced,
        c.premium_before_cents AS cx, c.products_held AS cz
      FROM firsts f LEFT JOIN user_covariates c ON c.user_id = f.user_id
      WHERE f.experiment = ?1)
    SELECT bucket, COUNT(*), SUM(exposures), SUM(impressions), SUM(impressions * impressions),
      SUM(clicks), SUM(clicks * clicks), SUM(clicks * impressions), SUM(clicks > 0),
      SUM(binds > 0), SUM(binds), SUM(binds * binds), SUM(premium), SUM(premium * premium),
      COUNT(cx), COALESCE(SUM(cx), 0), COALESCE(SUM(cx * cx), 0), COALESCE(SUM(cx * (binds > 0)), 0),
      COALESCE(SUM(cx * binds), 0), COALESCE(SUM(cx * premium), 0), COALESCE(SUM(cx * clicks), 0),
      COALESCE(SUM(cz), 0), COALESCE(SUM(cz * cz), 0), COALESCE(SUM(cz * (binds > 0)), 0),
      COALESCE(SUM(cz * binds), 0), COALESCE(SUM(cz * premium), 0), COALESCE(SUM(cz * clicks), 0),
      SUM(revenue), SUM(revenue * revenue), COALESCE(SUM(cx * revenue), 0),
      COALESCE(SUM(cz * revenue), 0), SUM(unpriced), COALESCE(SUM(cx * cz), 0),
      COALESCE(SUM(cx * impressions), 0), COALESCE(SUM(cz * impressions), 0)
    FROM users GROUP BY bucket)");
  REQUIRE(stmt.has_value());
  stmt->Bind(1, experiment).Bind(2, window);
  BucketTotalsMap out;
  while (*stmt->Step()) {
    // One column per sum, after the bucket: a sum missing here would read as NULL.
    REQUIRE_FALSE(stmt->IsNull(static_cast<int>(BucketTotals::kFieldCount)));
    BucketTotals& t = out[stmt->Text(0)];
    int i = 1;
    for (Int128* f : t.Fields()) *f = stmt->Int128At(i++);
  }
  return out;
}

// Turns a database of this abrec's schema back into one an abrec before schema v12 left:
// without v12's sums, amount history and its record (nor v13's event source); user_version 11 (v10
// and v11 are another branch's: empty placeholders on this one, so such a database is a version-9
// one).
inline void DropSchemaV12(const std::string& path) {
  auto db = SqliteDb::Open(path);
  REQUIRE(db.has_value());
  // v13's column goes too: the migrations from 11 on add it again.
  std::string sql =
      "ALTER TABLE events DROP COLUMN source; DROP TABLE user_amounts; DROP TABLE "
      "amount_history;";
  for (const char* table : {"bucket_totals", "bucket_daily"}) {
    for (const char* column : {"x_z", "x_impressions", "z_impressions"}) {
      sql += fmt::format("ALTER TABLE {} DROP COLUMN {};", table, column);
    }
  }
  REQUIRE((*db)->Exec(sql + "PRAGMA user_version = 11;").has_value());
}

}  // namespace abrec
