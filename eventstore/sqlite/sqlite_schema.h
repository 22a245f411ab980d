// The event store's schema, as an ordered list of migrations: migration i brings the
// database from PRAGMA user_version i to i + 1. Never edit a released migration; add one.
// The SQL is in sqlite_schema.cc; running it and checking a database's version, in
// sqlite_schema_migration.cc.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "base/error.h"
#include "sqlitedb/sqlite_db.h"

namespace abrec {

std::span<const std::string_view> SqliteMigrations();

// What completes the migration to `to_version` with the day it runs (an upgrade that records
// when it happened): statements the migrating writer runs after SqliteMigrations()[to_version
// - 1], in the same transaction, with ?1 bound to today's UTC day ("YYYY-MM-DD") by the
// store's clock. Empty for the versions that need none.
std::span<const std::string_view> SqliteDatedMigrationSteps(std::size_t to_version);

// Brings the database to this abrec's schema: each migration from its PRAGMA user_version on
// in a transaction of its own, with its dated steps (`today`: the UTC day, "YYYY-MM-DD", they
// record). Returns the version the database had before (0: a new one). Errors:
// kFailedPrecondition (a newer schema than this abrec's; nothing is changed), or the failed
// statement's (that migration is rolled back, the ones before it stay).
Result<std::size_t> MigrateSchema(SqliteDb& db, const std::string& today);

// For readers that do not migrate (read-only opens: `abrec report`, `abrec plan`): the
// database must have this abrec's schema. kFailedPrecondition otherwise, saying what to do
// (an older schema: open it once with `abrec serve`, which migrates it; a newer one: upgrade).
Result<void> RequireCurrentSchema(SqliteDb& db, std::string_view path);

}  // namespace abrec
