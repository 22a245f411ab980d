// Reading an experiment's bucket totals and their daily history from an abrec database: for
// the event store's reader connection and for tools that open the file read-only while the
// service writes it (abrec report).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "eventstore/event_store.h"
#include "eventstore/latency_histogram.h"
#include "eventstore/sqlite/off_policy_log.h"
#include "sqlitedb/sqlite_db.h"

namespace abrec {

// The committed totals of one experiment (bucket_totals).
Result<BucketTotalsMap> ReadBucketTotals(SqliteDb& db, const std::string& experiment);

// Each day's closing totals, oldest first, quiet buckets carried forward (bucket_daily).
Result<std::vector<DailyTotals>> ReadDailyTotals(SqliteDb& db, const std::string& experiment);

// The serving latency of the experiment's exposures on days >= `since_day` ("YYYY-MM-DD"),
// per bucket (exposure_latency).
Result<LatencyByBucket> ReadLatency(SqliteDb& db, const std::string& experiment,
                                    const std::string& since_day);

// The experiment's exposure counters (exposure_counters).
Result<ExposureCounters> ReadExposureCounters(SqliteDb& db, const std::string& experiment);

// The experiment's per-user amount history (user_amounts, amount_history).
Result<AmountHistory> ReadAmountHistory(SqliteDb& db, const std::string& experiment);

// The aggregates of a database opened read-only (abrec report, while the service writes),
// over the connection it owns. One connection: not thread-safe.
class SqliteAggregateSource final : public AggregateSource {
 public:
  explicit SqliteAggregateSource(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  Result<BucketTotalsMap> Totals(const std::string& experiment) override {
    return ReadBucketTotals(*db_, experiment);
  }
  Result<std::vector<DailyTotals>> History(const std::string& experiment) override {
    return ReadDailyTotals(*db_, experiment);
  }
  Result<LatencyByBucket> Latency(const std::string& experiment,
                                  const std::string& since_day) override {
    return ReadLatency(*db_, experiment, since_day);
  }
  Result<ExposureCounters> Counters(const std::string& experiment) override {
    return ReadExposureCounters(*db_, experiment);
  }
  Result<OffPolicyByTarget> OffPolicy(const std::string& experiment) override {
    return ReadOffPolicy(*db_, experiment);
  }
  Result<AmountHistory> Amounts(const std::string& experiment) override {
    return ReadAmountHistory(*db_, experiment);
  }

 private:
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace abrec
