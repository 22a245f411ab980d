// How the SQLite event store's values are written in its rows and read back: an event's row
// of `events` (its items as JSON), the UTC days the dated tables are keyed by, and the sums
// of a bucket_totals or bucket_daily row. Internal to eventstore/sqlite, shared by the
// writer's files, the store and the aggregate reader. The functions that take a statement or
// a connection run on the thread that owns it; the others are pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "eventstore/aggregates.h"
#include "eventstore/event.h"
#include "sqlitedb/sqlite_db.h"

namespace abrec {

// The days since 1970-01-01 (UTC) of a time in microseconds since the epoch; times before
// the epoch round down.
std::int32_t DayNumber(std::int64_t micros);

// "YYYY-MM-DD" of a day counted from 1970-01-01 (UTC).
std::string DayName(std::int32_t day);

// An exposure's items as `events.items` stores them: a JSON array of objects (product_id,
// position, propensity, and in_lists when there are some); "[]" for none.
std::string ItemsJson(const std::vector<ExposedItem>& items);

// The events logged under a request id, oldest first, read on any connection to the
// database (the store's reader). An items column that is not a JSON array reads as no items.
Result<std::vector<Event>> ReadEventsOfRequest(SqliteDb& db, const std::string& request_id);

// "users, exposures, ...": the sum columns of bucket_totals and bucket_daily, in
// BucketTotals::Fields() order.
std::string BucketSumColumns();

// "?3, ?4, ...": one placeholder per bucket sum, numbered from `first`.
std::string SumPlaceholders(int first);

// Binds a bucket's sums from parameter `first` on, in Fields() order, and runs `stmt`.
Result<void> RunWithSums(SqliteStatement& stmt, int first, const BucketTotals& totals);

// Reads the sum columns of the current row of `row`, from column `first` on, into `totals`.
void ReadBucketSums(const SqliteStatement& row, int first, BucketTotals& totals);

}  // namespace abrec
