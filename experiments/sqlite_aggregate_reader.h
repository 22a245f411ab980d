// Reading an experiment's bucket totals and their daily history from an abrec database: for
// the event store's reader connection and for tools that open the file read-only while the
// service writes it (abrec report).
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "experiments/event_store.h"
#include "experiments/sqlite_db.h"

namespace abrec {

// The committed totals of one experiment (bucket_totals).
Result<BucketTotalsMap> ReadBucketTotals(SqliteDb& db, const std::string& experiment);

// Each day's closing totals, oldest first, quiet buckets carried forward (bucket_daily).
Result<std::vector<DailyTotals>> ReadDailyTotals(SqliteDb& db, const std::string& experiment);

}  // namespace abrec
