// A database brought to the schema of sqlite_schema.cc (MigrateSchema, by the writer at
// open) or checked against it (RequireCurrentSchema, by the read-only opens).
#include <fmt/format.h>

#include "base/log.h"
#include "eventstore/sqlite/sqlite_schema.h"

namespace abrec {
namespace {

// PRAGMA user_version: how many of the migrations the database has had.
Result<std::size_t> SchemaVersionOf(SqliteDb& db) {
  auto stmt = db.Prepare("PRAGMA user_version");
  if (!stmt) return std::unexpected(stmt.error());
  if (auto row = stmt->Step(); !row) return std::unexpected(row.error());
  return static_cast<std::size_t>(stmt->Int(0));
}

}  // namespace

Result<std::size_t> MigrateSchema(SqliteDb& db, const std::string& today) {
  const auto version = SchemaVersionOf(db);
  if (!version) return std::unexpected(version.error());
  const auto migrations = SqliteMigrations();
  if (*version > migrations.size()) {
    return std::unexpected(Error{ErrorCode::kFailedPrecondition,
                                 fmt::format("the database has schema version {}, newer than "
                                             "this abrec's {}: upgrade abrec",
                                             *version, migrations.size()),
                                 "storage.path"});
  }
  for (std::size_t v = *version; v < migrations.size(); ++v) {
    auto ok = db.Exec("BEGIN IMMEDIATE;" + std::string(migrations[v]));
    for (const std::string_view dated : SqliteDatedMigrationSteps(v + 1)) {
      if (!ok) break;
      auto stmt = db.Prepare(dated);
      ok = stmt ? stmt->Bind(1, today).Run() : Result<void>(std::unexpected(stmt.error()));
    }
    if (ok) ok = db.Exec(fmt::format("PRAGMA user_version = {};COMMIT;", v + 1));
    if (!ok) {
      (void)db.Exec("ROLLBACK");
      return std::unexpected(ok.error());
    }
    LogInfo("storage: migrated the schema to version {}", v + 1);
  }
  return *version;
}

Result<void> RequireCurrentSchema(SqliteDb& db, std::string_view path) {
  const auto version = SchemaVersionOf(db);
  if (!version) return std::unexpected(version.error());
  const std::size_t current = SqliteMigrations().size();
  if (*version == current) return {};
  return std::unexpected(
      Error{ErrorCode::kFailedPrecondition,
            *version < current
                ? fmt::format("{} has schema version {}, older than this abrec's {}: start `abrec "
                              "serve` on it once (it migrates the database at start), then retry",
                              path, *version, current)
                : fmt::format("{} has schema version {}, newer than this abrec's {}: upgrade abrec",
                              path, *version, current),
            "storage.path"});
}

}  // namespace abrec
