// The event store's schema, as an ordered list of migrations: migration i brings the
// database from PRAGMA user_version i to i + 1. Never edit a released migration; add one.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "eventstore/aggregates.h"
#include "sqlitedb/sqlite_db.h"

namespace abrec {

std::span<const std::string_view> SqliteMigrations();

// What completes the migration to `to_version` with the day it runs (an upgrade that records
// when it happened): statements the migrating writer runs after SqliteMigrations()[to_version
// - 1], in the same transaction, with ?1 bound to today's UTC day ("YYYY-MM-DD") by the
// store's clock. Empty for the versions that need none.
std::span<const std::string_view> SqliteDatedMigrationSteps(std::size_t to_version);

// For readers that do not migrate (read-only opens: `abrec report`, `abrec plan`): the
// database must have this abrec's schema. kFailedPrecondition otherwise, saying what to do
// (an older schema: open it once with `abrec serve`, which migrates it; a newer one: upgrade).
Result<void> RequireCurrentSchema(SqliteDb& db, std::string_view path);

// "users, exposures, ...": the sum columns of bucket_totals and bucket_daily, in
// BucketTotals::Fields() order.
std::string BucketSumColumns();

// Reads those columns of the current row of `row`, from column `first` on, into `totals`.
void ReadBucketSums(const SqliteStatement& row, int first, BucketTotals& totals);

}  // namespace abrec
