// The event store's schema, as an ordered list of migrations: migration i brings the
// database from PRAGMA user_version i to i + 1. Never edit a released migration; add one.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "experiments/aggregates.h"
#include "experiments/sqlite_db.h"

namespace abrec {

std::span<const std::string_view> SqliteMigrations();

// "users, exposures, ...": the 26 sum columns of bucket_totals and bucket_daily, in
// BucketTotals::Fields() order.
std::string BucketSumColumns();

// Reads those columns of the current row of `row`, from column `first` on, into `totals`.
void ReadBucketSums(const SqliteStatement& row, int first, BucketTotals& totals);

}  // namespace abrec
