// SqliteEventStore's reads: on the reader connection, one at a time, through LockReader
// (sqlite_event_store_wal.cc).
#include "eventstore/sqlite/sqlite_aggregate_reader.h"
#include "eventstore/sqlite/sqlite_event_store.h"
#include "eventstore/sqlite/sqlite_row_codec.h"

namespace abrec {

Result<void> SqliteEventStore::EventsOfRequest(
    std::string request_id, std::function<void(Result<std::vector<Event>>)> done) {
  Result<std::vector<Event>> events;
  {
    auto lock = LockReader();
    events = ReadEventsOfRequest(*reader_, request_id);
  }
  done(std::move(events));
  return {};
}

Result<BucketTotalsMap> SqliteEventStore::Totals(const std::string& experiment) {
  auto lock = LockReader();
  return ReadBucketTotals(*reader_, experiment);
}

Result<std::vector<DailyTotals>> SqliteEventStore::History(const std::string& experiment) {
  auto lock = LockReader();
  return ReadDailyTotals(*reader_, experiment);
}

Result<LatencyByBucket> SqliteEventStore::Latency(const std::string& experiment,
                                                  const std::string& since_day) {
  auto lock = LockReader();
  return ReadLatency(*reader_, experiment, since_day);
}

Result<ExposureCounters> SqliteEventStore::Counters(const std::string& experiment) {
  auto lock = LockReader();
  return ReadExposureCounters(*reader_, experiment);
}

Result<OffPolicyByTarget> SqliteEventStore::OffPolicy(const std::string& experiment) {
  auto lock = LockReader();
  return ReadOffPolicy(*reader_, experiment);
}

Result<AmountHistory> SqliteEventStore::Amounts(const std::string& experiment) {
  auto lock = LockReader();
  return ReadAmountHistory(*reader_, experiment);
}

Result<void> SqliteEventStore::Backup(const std::string& path) {
  auto lock = LockReader();
  return reader_->BackupTo(path);
}

}  // namespace abrec
