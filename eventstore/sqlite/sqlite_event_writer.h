// The SQLite event store's writer: its connection, statements and in-memory indexes. Used
// by SqliteEventStore's writer thread only (not thread-safe); nothing else writes the
// database.
//
// The write path: an event is appended to `events` (its sequence number is the rowid, so
// the insert touches the table's last page), checked for a duplicate in the in-memory id
// index, and applied to the in-memory aggregates; at the end of the group transaction the
// rows of user_totals and bucket_totals that changed are written, once each, with the day's
// bucket_daily snapshot and the day's step of each changed user_amounts history. On open,
// both in-memory indexes are rebuilt from the tables.
//
// Its code: opening and loading in sqlite_event_writer_open.cc, the operations of a
// transaction (WriteOp) in sqlite_event_writer_ops.cc, the transaction itself (commit,
// rollback, the changed rows written at its end) and the retention purge in
// sqlite_event_writer.cc; the row formats in sqlite_row_codec.h.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "base/clock.h"
#include "base/error.h"
#include "eventstore/aggregate_state.h"
#include "eventstore/event_id_index.h"
#include "eventstore/event_store.h"
#include "eventstore/sqlite/distinct_user_counters.h"
#include "eventstore/sqlite/off_policy_log.h"
#include "sqlitedb/sqlite_db.h"

namespace abrec {

// One piece of work in a group transaction: exactly one of the three is set.
struct WriteOp {
  const std::vector<Event>* events = nullptr;
  const std::string* erase_user = nullptr;
  const std::vector<Covariates>* covariates = nullptr;
};

// Its result: one outcome per event, or the number of events erased or covariates stored.
struct WriteResult {
  std::vector<EventOutcome> outcomes;
  std::int64_t count = 0;
};

class SqliteEventWriter {
 public:
  // Opens (creating and migrating) the database and loads the in-memory indexes. Errors:
  // kIo (cannot open), kFailedPrecondition (a newer schema), kInternal.
  static Result<std::unique_ptr<SqliteEventWriter>> Open(const EventStoreOptions& options,
                                                         const Clock& clock);

  // Runs the operations in one transaction. On failure nothing is kept, in the database or
  // in memory, and the error says why (kUnavailable for a full disk).
  Result<std::vector<WriteResult>> Commit(std::span<const WriteOp> ops);

  // Deletes raw events older than `cutoff_us`, 10,000 per transaction so that writes are not
  // held up for long; the aggregates stay. Returns how many were deleted.
  Result<std::int64_t> Purge(std::int64_t cutoff_us);

  // A TRUNCATE checkpoint, when the store closes.
  void Checkpoint();
  // A PASSIVE checkpoint on the writer's own connection, between transactions: see
  // SqliteEventStore::ResetWal.
  // Sets last_failure_code() when it fails.
  Result<SqliteDb::Checkpointed> CheckpointPassive();
  // The extended SQLite result code of the last Commit that failed (e.g. SQLITE_IOERR_WRITE,
  // SQLITE_FULL); 0 before any failure.
  int last_failure_code() const { return last_failure_code_; }
  // Keeps the WAL when the connection closes: no checkpoint on close, which would fsync the
  // database file and may then reset the WAL (after a failed fsync, over lost pages).
  void KeepWalOnClose();

  // Sizes of the in-memory indexes.
  struct Stats {
    std::size_t events = 0;
    std::size_t users = 0;
    std::size_t ids = 0;  // entries of the id index: equal to `events` unless a bug
    std::size_t id_index_bytes = 0;
  };
  Stats stats() const;

 private:
  SqliteEventWriter(std::unique_ptr<SqliteDb> db, const EventStoreOptions& o, const Clock& clock)
      : db_(std::move(db)),
        state_(o.attribution_window_us),
        clock_(clock),
        retention_us_(o.retention_us),
        window_us_(o.attribution_window_us),
        margins_(o.product_margins),
        max_counters_(o.max_counters_per_experiment) {}

  Result<void> PrepareAll();
  Result<void> Load();
  // Once, after the migration to schema v9: prices the binds stored before it.
  Result<void> PriceOldBinds();
  // A bind's revenue: premium × its product's margin; nullopt when the catalog has none.
  std::optional<std::int64_t> RevenueOf(std::string_view product_id,
                                        std::int64_t premium_cents) const;
  Result<std::vector<WriteResult>> Abort(Error e);
  Result<EventOutcome> Write(const Event& e);
  // Whether exposure counter `name` of `experiment` may be counted: already known, or a new
  // name within max_counters_ (then known from now on, undone on rollback).
  bool AdmitCounter(const std::string& experiment, const std::string& name);
  // The exposure's counters within the cap: `e` itself, or `trimmed` holding a copy without
  // the names refused.
  const Event& CountableExposure(const Event& e, Event& trimmed);
  Result<std::int64_t> Erase(const std::string& user);
  Result<std::int64_t> SetCovariates(const std::vector<Covariates>& list);
  // Sets today_ from the clock.
  void StartDay();
  Result<void> WriteChanges();
  // Writes the row's step of today (`day`, `day_number`) in user_amounts, and sets the row's
  // amounts_ fields to it.
  Result<void> WriteAmountStep(const std::string& user, ExperimentRow& r, const std::string& day,
                               std::int64_t day_number);
  Result<std::vector<StoredEvent>> ReadEvents(std::span<const std::int64_t> seqs);

  std::unique_ptr<SqliteDb> db_;
  int last_failure_code_ = 0;
  EventIdIndex ids_;
  AggregateState state_;
  const Clock& clock_;
  std::int64_t retention_us_;  // 0: events are kept forever
  std::int64_t next_seq_ = 1;
  // This transaction's changes to ids_, undone on rollback.
  std::vector<std::pair<std::uint64_t, std::int64_t>> ids_added_, ids_removed_;
  SqliteStatement insert_, id_of_, stored_event_, delete_event_, delete_user_row_,
      delete_user_covariates_, upsert_covariates_, upsert_user_, upsert_bucket_, upsert_daily_,
      upsert_latency_, upsert_counter_, take_counter_, delete_zero_counter_, upsert_amount_,
      delete_amount_step_, purge_select_;
  std::int64_t next_amount_id_ = 1;  // the next new step's id in user_amounts
  // This transaction's served latencies: (experiment, bucket, bin) -> (exposures, fallbacks),
  // added to exposure_latency's rows of the day by WriteChanges.
  std::map<std::tuple<std::string, std::string, int>, std::pair<std::int64_t, std::int64_t>>
      latency_;
  // This transaction's changes to exposure counters: (experiment, bucket, day, name) -> count
  // to add (negative: an erased user's distinct counts, taken back from their days).
  std::map<std::tuple<std::string, std::string, std::string, std::string>, std::int64_t> counters_;
  // The UTC day of this transaction's writes: "YYYY-MM-DD", and as days since 1970-01-01.
  std::string today_;
  std::int32_t today_number_ = 0;
  std::optional<OffPolicyLog> off_policy_;              // opened with the statements
  std::optional<DistinctUserCounters> distinct_;        // opened with the statements
  std::vector<const std::string*> first_counted_;       // Write's scratch
  std::int64_t window_us_;                              // the attribution window
  std::map<std::string, double, std::less<>> margins_;  // product -> margin
  // The exposure counter names of each experiment (exposure_counters' names, loaded at open),
  // those added in this transaction, and the experiments already warned about.
  std::size_t max_counters_;
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> counter_names_;
  std::vector<std::pair<std::string, std::string>> counter_names_added_;
  std::set<std::string, std::less<>> counter_cap_warned_;
};

}  // namespace abrec
