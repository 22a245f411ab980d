// Reference for the event-ingest benchmark: plain SQLite batched inserts on this disk, with
// the durability abrec ships (WAL, synchronous=FULL), no HTTP, no JSON, no aggregates.
//
//   sqlite_insert_bench [--dir DIR] [--batch N] [--seconds S] [--drop-each]
//
// For each table layout below, a fresh database in DIR (default /tmp, the disk the HTTP
// benchmark's temporary database is on) gets rows in transactions of N (default 1,000) rows,
// with one prepared INSERT, for S seconds (default 4). It prints rows/s, commits/s and the
// mean time of a COMMIT (which is where the WAL is fsynced).
//
// The rows look like the event mix of bench/events.lua: 85% clicks, 10% binds, 5% exposures
// with three items, 10,000 users, request ids of abrec's shape (time first), ids and hashes of the
// same lengths, so each row is about as wide as one of abrec's. The layouts:
//   - "abrec schema": a database made by abrec's own migrations (SqliteMigrations(), all of
//     them), so the events table has exactly the indexes abrec maintains (listed in the
//     output); only `events` is written: no aggregates, no look-ups;
//   - "abrec schema v4 (before)": the same after only the first four migrations, the layout
//     before the in-memory indexes (UNIQUE event_id, events_by_user, events_by_request);
//   - "no secondary index": the same columns, rowid only (the classic batched-insert figure);
//   - with --drop-each, also abrec's schema less one of its indexes, for each of them: what
//     each index costs.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <sqlite3.h>

#include "eventstore/sqlite/sqlite_schema.h"

namespace {

constexpr std::string_view kColumns =
    "(seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL, type INTEGER NOT NULL, "
    "user_id TEXT NOT NULL, ts_us INTEGER NOT NULL, request_id TEXT, product_id TEXT, "
    "position INTEGER, premium_cents INTEGER NOT NULL DEFAULT 0, experiment TEXT, bucket TEXT, "
    "variant TEXT, counterfactual_variant TEXT, policy TEXT, model_version TEXT, "
    "n_items INTEGER NOT NULL DEFAULT 0, items TEXT, features TEXT, payload_hash TEXT NOT NULL, "
    "ingested_us INTEGER NOT NULL)";

[[noreturn]] void Fail(sqlite3* db, const char* what) {
  std::fprintf(stderr, "sqlite_insert_bench: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
  std::exit(1);
}

void Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "sqlite_insert_bench: %s: %s\n", sql.c_str(), err ? err : "?");
    std::exit(1);
  }
}

std::uint64_t Next(std::uint64_t& s) {  // xorshift64*
  s ^= s >> 12;
  s ^= s << 25;
  s ^= s >> 27;
  return s * 2685821657736338717ull;
}

double Seconds(std::chrono::steady_clock::time_point from) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - from).count();
}

struct Result {
  long rows = 0;
  long commits = 0;
  double seconds = 0;
  double commit_seconds = 0;
  std::string indexes;  // of the events table
};

// migrations > 0: abrec's schema after that many of its migrations, less the index named
// `drop` if not empty; 0: the same columns without any index.
Result Run(const std::string& path, std::size_t migrations, const std::string& drop, int batch,
           double seconds) {
  const bool indexed = migrations > 0;
  // Up to schema version 4, event_id was UNIQUE and abrec's insert said so.
  const bool unique_id = indexed && migrations <= 4;
  for (const char* suffix : {"", "-wal", "-shm"}) (void)unlink((path + suffix).c_str());
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) Fail(db, "open");
  Exec(db, "PRAGMA journal_mode=WAL");
  Exec(db, "PRAGMA synchronous=FULL");
  if (indexed) {
    for (std::size_t v = 0; v < migrations; ++v) {
      Exec(db, std::string(abrec::SqliteMigrations()[v]));
    }
    if (!drop.empty()) Exec(db, "DROP INDEX " + drop);
  } else {
    Exec(db, "CREATE TABLE events " + std::string(kColumns));
  }
  // abrec's statement; the conflict clause needs the UNIQUE index of schemas up to 4.
  const std::string sql =
      "INSERT INTO events (event_id, type, user_id, ts_us, request_id, product_id, position, "
      "premium_cents, experiment, bucket, variant, counterfactual_variant, policy, "
      "model_version, n_items, items, features, payload_hash, ingested_us) VALUES (?1, ?2, ?3, "
      "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)" +
      std::string(unique_id ? " ON CONFLICT(event_id) DO NOTHING" : "");
  sqlite3_stmt* insert = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &insert, nullptr) != SQLITE_OK) Fail(db, "prepare");
  Result r;
  if (indexed) {
    sqlite3_stmt* list = nullptr;
    if (sqlite3_prepare_v2(db,
                           "SELECT group_concat(name, ' ') FROM sqlite_master WHERE "
                           "type = 'index' AND tbl_name = 'events'",
                           -1, &list, nullptr) != SQLITE_OK ||
        sqlite3_step(list) != SQLITE_ROW) {
      Fail(db, "list the indexes");
    }
    const unsigned char* names = sqlite3_column_text(list, 0);
    r.indexes = names ? reinterpret_cast<const char*>(names) : "none";
    sqlite3_finalize(list);
  }
  std::uint64_t rng = 0x9e3779b97f4a7c15ull;
  char event_id[48], user_id[32], request_id[40], product_id[16], hash[17];
  const std::string items = R"([{"product_id":"product-07","position":1,"propensity":0.9},)"
                            R"({"product_id":"product-12","position":2,"propensity":0.05},)"
                            R"({"product_id":"product-03","position":3,"propensity":0.05}])";
  const auto start = std::chrono::steady_clock::now();
  while (Seconds(start) < seconds) {
    Exec(db, "BEGIN IMMEDIATE");
    for (int i = 0; i < batch; ++i, ++r.rows) {
      const std::uint64_t x = Next(rng);
      const int kind = static_cast<int>(x % 100);  // < 5 exposure, < 15 bind, else click
      const auto ts = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
      std::snprintf(event_id, sizeof event_id, "e1-%ld-%d", r.rows / batch, i);
      std::snprintf(user_id, sizeof user_id, "member-%05u",
                    static_cast<unsigned>((x >> 8) % 10000));
      // abrec's shape: the time in microseconds, then 64 random bits.
      std::snprintf(request_id, sizeof request_id, "%016llx%016llx",
                    static_cast<unsigned long long>(ts),
                    static_cast<unsigned long long>(Next(rng)));
      std::snprintf(product_id, sizeof product_id, "product-%02u",
                    static_cast<unsigned>((x >> 24) % 21 + 1));
      std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(Next(rng)));
      sqlite3_bind_text(insert, 1, event_id, -1, SQLITE_STATIC);
      sqlite3_bind_int(insert, 2, kind < 5 ? 0 : kind < 15 ? 2 : 1);
      sqlite3_bind_text(insert, 3, user_id, -1, SQLITE_STATIC);
      sqlite3_bind_int64(insert, 4, ts);
      sqlite3_bind_text(insert, 5, request_id, -1, SQLITE_STATIC);
      if (kind < 5) {
        sqlite3_bind_text(insert, 6, "", 0, SQLITE_STATIC);
        sqlite3_bind_null(insert, 7);
        sqlite3_bind_int64(insert, 8, 0);
        sqlite3_bind_text(insert, 9, "recsys_v2_hybrid", -1, SQLITE_STATIC);
        sqlite3_bind_text(insert, 10, "treatment", -1, SQLITE_STATIC);
        sqlite3_bind_text(insert, 11, "treatment", -1, SQLITE_STATIC);
        sqlite3_bind_text(insert, 12, "", 0, SQLITE_STATIC);
        sqlite3_bind_text(insert, 13, "recommender", -1, SQLITE_STATIC);
        sqlite3_bind_text(insert, 14, "hybrid-1", -1, SQLITE_STATIC);
        sqlite3_bind_int(insert, 15, 3);
        sqlite3_bind_text(insert, 16, items.data(), static_cast<int>(items.size()), SQLITE_STATIC);
        sqlite3_bind_text(insert, 17, "", 0, SQLITE_STATIC);
      } else {
        sqlite3_bind_text(insert, 6, product_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(insert, 7, static_cast<int>((x >> 32) % 10 + 1));
        sqlite3_bind_int64(insert, 8,
                           kind < 15 ? static_cast<std::int64_t>((x >> 40) % 250000) : 0);
        for (int c = 9; c <= 14; ++c) sqlite3_bind_null(insert, c);
        sqlite3_bind_int(insert, 15, 0);
        sqlite3_bind_null(insert, 16);
        sqlite3_bind_null(insert, 17);
      }
      sqlite3_bind_text(insert, 18, hash, 16, SQLITE_STATIC);
      sqlite3_bind_int64(insert, 19, ts);
      if (sqlite3_step(insert) != SQLITE_DONE) Fail(db, "insert");
      sqlite3_reset(insert);
    }
    const auto commit_start = std::chrono::steady_clock::now();
    Exec(db, "COMMIT");
    r.commit_seconds += Seconds(commit_start);
    ++r.commits;
  }
  r.seconds = Seconds(start);
  sqlite3_finalize(insert);
  sqlite3_close(db);
  for (const char* suffix : {"", "-wal", "-shm"}) (void)unlink((path + suffix).c_str());
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp";
  int batch = 1000;
  double seconds = 4;
  bool drop_each = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--batch" && i + 1 < argc) {
      batch = std::atoi(argv[++i]);
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--drop-each") {
      drop_each = true;
    } else {
      std::fprintf(stderr,
                   "usage: sqlite_insert_bench [--dir DIR] [--batch N] [--seconds S] "
                   "[--drop-each]\n");
      return 2;
    }
  }
  if (batch < 1 || seconds <= 0) {
    std::fprintf(stderr, "sqlite_insert_bench: --batch and --seconds must be positive\n");
    return 2;
  }
  const std::string path = dir + "/sqlite_insert_bench." + std::to_string(getpid()) + ".db";
  std::printf(
      "SQLite %s, WAL, synchronous=FULL, %d rows per transaction, %.0f s per layout, "
      "database in %s\n",
      sqlite3_libversion(), batch, seconds, dir.c_str());
  std::printf("%-40s %12s %10s %14s\n", "layout", "rows/s", "commits/s", "ms per COMMIT");
  auto print = [](const std::string& name, const Result& r) {
    std::printf("%-40s %12.0f %10.1f %14.3f\n", name.c_str(),
                static_cast<double>(r.rows) / r.seconds, static_cast<double>(r.commits) / r.seconds,
                1000 * r.commit_seconds / static_cast<double>(r.commits));
    std::fflush(stdout);
  };
  const std::size_t version = abrec::SqliteMigrations().size();
  const Result full = Run(path, version, "", batch, seconds);
  print("events, abrec schema", full);
  const Result v4 = Run(path, 4, "", batch, seconds);
  print("events, abrec schema v4 (before)", v4);
  if (drop_each) {
    // Every index abrec creates itself (not the UNIQUE constraint's automatic one).
    std::string rest = full.indexes + " ";
    for (std::size_t at; (at = rest.find(' ')) != std::string::npos; rest.erase(0, at + 1)) {
      const std::string name = rest.substr(0, at);
      if (name.empty() || name.starts_with("sqlite_autoindex")) continue;
      print("  without " + name, Run(path, version, name, batch, seconds));
    }
  }
  print("events, no secondary index", Run(path, 0, "", batch, seconds));
  std::printf("abrec schema: version %zu (its migrations); indexes of events: %s\n", version,
              full.indexes.c_str());
  std::printf("abrec schema v4: indexes of events: %s\n", v4.indexes.c_str());
  return 0;
}
