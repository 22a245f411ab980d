// The event store's aggregates in memory, and the attribution rules that update them.
//
// Per (experiment, user): the bucket of the first exposure, its time, and the user's totals;
// per (experiment, bucket): the sums over users (aggregates.h). Clicks and binds carry no
// experiment: each counts for every experiment the user was exposed to at or before it,
// within the attribution window after the first exposure, in that exposure's bucket
// (intent to treat; DESIGN.md). For each user the state also keeps the sequence numbers of
// their stored events, the time of their latest click or bind, and their covariates, so that
// an exposure that arrives late can be re-derived from that user's events alone.
//
// Why in memory: the writer used to read and upsert SQLite rows for every event; now it
// applies the event here and writes each changed row once per transaction.
//
// Transactions: between Begin() and Commit() every change is recorded, so that Rollback()
// restores the state of Begin() when the SQLite transaction fails. Not thread-safe: the
// store's writer thread owns it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/sharded_map.h"
#include "eventstore/aggregates.h"
#include "eventstore/event.h"

namespace abrec {

// A user's row in one experiment.
struct UserRow {
  std::string bucket;
  std::int64_t first_ts = 0;  // the first exposure: time, then sequence number, decide
  std::int64_t first_seq = 0;
  UserTotals totals;
  bool operator==(const UserRow&) const = default;
};

struct ExperimentRow {
  std::string experiment;
  UserRow row;
  std::int64_t row_id = 0;  // its rowid in user_totals; 0 until first written
  // The user's latest step in user_amounts (sqlite_schema.cc, v12): its id, 0 while none is
  // stored, and the day it records (the writer's day number; see SqliteEventWriter).
  std::int64_t amounts_id = 0;
  std::int64_t amounts_day = 0;
  bool operator==(const ExperimentRow&) const = default;
};

// What re-deriving a user's row needs of one stored event.
struct StoredEvent {
  std::int64_t seq = 0;
  EventType type = EventType::kClick;
  std::int64_t ts_us = 0;
  std::string experiment;  // exposures
  std::string bucket;      // exposures
  std::int64_t n_items = 0;
  std::int64_t premium_cents = 0;
  std::optional<std::int64_t> revenue_cents;  // binds: nullopt when unpriced
};

class AggregateState {
 public:
  // Reads stored events by sequence number (the writer's own connection, so it sees the
  // transaction's uncommitted rows).
  using EventReader =
      std::function<Result<std::vector<StoredEvent>>(std::span<const std::int64_t> seqs)>;

  explicit AggregateState(std::int64_t attribution_window_us) : window_us_(attribution_window_us) {}

  // Loading from the database, outside transactions. Events in ascending sequence order.
  void LoadEvent(const std::string& user, std::int64_t seq, EventType type, std::int64_t ts_us);
  void LoadRow(const std::string& user, ExperimentRow row);
  void LoadCovariates(const Covariates& c);
  void LoadBucket(const std::string& experiment, const std::string& bucket, BucketTotals t);
  // A stored step of the user's amount history in `experiment` (after LoadRow): the row
  // keeps the step of the largest id. Ignored when the user has no row in the experiment.
  void LoadAmountStep(const std::string& user, const std::string& experiment, std::int64_t id,
                      std::int64_t day);
  // After loading: recomputes every bucket's sums from the loaded rows (they are the sums of
  // the rows' contributions, by construction) and replaces the loaded sums where they
  // differ. Returns the (experiment, bucket) pairs replaced: a database written by an older
  // abrec whose 64-bit sums overflowed into REAL, or edited by hand.
  std::vector<std::pair<std::string, std::string>> ReconcileBuckets();

  void Begin();
  void Rollback();
  void Commit();

  // Within a transaction. Applies a stored event (sequence number `seq`, larger than every
  // earlier one); `read` is called only when the user's row must be re-derived. A bind's
  // `revenue_cents` is its premium × catalog margin (nullopt: unpriced).
  Result<void> Add(const Event& e, std::int64_t seq, const EventReader& read,
                   std::optional<std::int64_t> revenue_cents = std::nullopt);
  // Within a transaction: the revenue of a bind stored before revenue was recorded (schema
  // v9), counted in every row the bind is attributed to, as a new bind would be (unpriced
  // when nullopt). The bind itself and its premium are already counted.
  void AddBindRevenue(const std::string& user, std::int64_t ts_us,
                      std::optional<std::int64_t> revenue_cents);
  // Sets or replaces a user's covariates and moves the CUPED sums of their buckets.
  void SetCovariates(const Covariates& c);
  // Removes the user, taking their contribution out of every bucket; returns the sequence
  // numbers of their stored events, the rowids of their stored rows and the latest stored
  // step of each row's amount history (the caller deletes all three).
  struct Erased {
    std::vector<std::int64_t> seqs;
    std::vector<std::int64_t> row_ids;
    std::vector<std::pair<std::string, std::int64_t>> amount_steps;  // (experiment, id)
  };
  Erased EraseUser(const std::string& user);

  // Outside transactions, after a purge committed: forgets purged events of a user.
  void ForgetEvents(const std::string& user, std::span<const std::int64_t> sorted_seqs);

  // The rows and buckets changed since Begin(), for writing before the commit. The row
  // visitor gets the row as it was at Begin() (nullptr when it is new, or its user was
  // erased in this transaction: nothing of it is stored), and sets `row_id` of a row written
  // for the first time and the `amounts_` fields of a row whose step it writes.
  void ForEachChangedRow(const std::function<void(const std::string& user, ExperimentRow& row,
                                                  const ExperimentRow* before)>& visit);
  void ForEachChangedBucket(
      const std::function<void(const std::string& experiment, const std::string& bucket,
                               const BucketTotals& totals)>& visit) const;

  // Read access (the writer thread).
  std::span<const std::int64_t> SeqsOf(const std::string& user) const;
  std::vector<ExperimentRow> RowsOf(const std::string& user) const;
  const BucketTotals* Bucket(std::string_view experiment, std::string_view bucket) const;
  std::size_t UserCount() const { return users_.size(); }
  std::size_t EventCount() const { return events_; }

 private:
  struct CovariateValues {
    std::int64_t premium_before_cents = 0;
    std::int64_t products_held = 0;
    bool operator==(const CovariateValues&) const = default;
  };
  struct UserState {
    std::vector<std::int64_t> seqs;  // every stored event of the user, ascending
    std::int64_t last_outcome_ts = INT64_MIN;
    std::optional<CovariateValues> covariates;
    std::vector<ExperimentRow> rows;
    std::uint64_t txn = 0;      // the transaction whose undo log holds this user
    std::size_t undo_slot = 0;  // the user's entry in user_undo_ during that transaction
  };
  // A user as at Begin(): `seqs` is kept only once the user was erased (before that, events
  // are only appended and `seq_count` restores them).
  struct UserUndo {
    std::string user;
    bool existed = false;
    std::size_t seq_count = 0;
    std::int64_t last_outcome_ts = INT64_MIN;
    std::optional<CovariateValues> covariates;
    std::vector<ExperimentRow> rows;
    std::optional<std::vector<std::int64_t>> seqs;  // set when erased in this transaction
  };
  struct BucketEntry {
    BucketTotals totals;
    std::uint64_t txn = 0;
  };
  struct BucketUndo {
    std::string experiment;
    std::string bucket;
    BucketTotals totals;
  };

  UserState& Touch(const std::string& user);
  void ApplyDelta(const std::string& experiment, const std::string& bucket,
                  const UserTotals* before, const UserTotals* after);
  Result<void> AddExposure(UserState& u, const Event& e, std::int64_t seq, const EventReader& read);
  void AddOutcome(UserState& u, const Event& e, std::optional<std::int64_t> revenue_cents);
  // Applies `count(UserTotals&)` to every row of `u` whose attribution window holds `ts_us`
  // (a template: it runs for every click and bind).
  template <typename Count>
  void ForAttributedRows(UserState& u, std::int64_t ts_us, const Count& count);
  Result<UserRow> Derive(const UserState& u, const std::string& experiment,
                         const EventReader& read) const;

  std::int64_t window_us_;
  ShardedMap<UserState> users_;  // sharded: no commit waits for a rehash of every user
  std::map<std::string, std::map<std::string, BucketEntry, std::less<>>, std::less<>> buckets_;
  std::size_t events_ = 0;

  std::uint64_t txn_ = 0;  // 0: outside a transaction
  std::uint64_t next_txn_ = 1;
  std::size_t events_at_begin_ = 0;
  std::vector<UserUndo> user_undo_;
  std::vector<BucketUndo> bucket_undo_;
};

}  // namespace abrec
