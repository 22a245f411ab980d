// The event log and metric store, behind an interface so that a server database
// (PostgreSQL) can take SQLite's place. Events are written by one writer thread in group
// commits, never on a request thread; an event is acknowledged only once its transaction
// has committed.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "eventstore/aggregates.h"
#include "eventstore/event.h"
#include "eventstore/latency_histogram.h"
#include "eventstore/off_policy_sums.h"

namespace abrec {

struct EventStoreOptions {
  std::string path;
  std::string synchronous = "FULL";  // FULL: a commit survives power loss; NORMAL: a crash
  // Events waiting for the writer; past this, Submit fails with kUnavailable (HTTP 503 with
  // Retry-After) instead of growing memory without bound.
  std::size_t queue_capacity = 200'000;
  // Events per transaction at most: bounds the latency of one commit.
  std::size_t max_transaction_events = 20'000;
  // Clicks and binds count for an experiment within this long after the user's first
  // exposure to it.
  std::int64_t attribution_window_us = 30LL * 86'400 * 1'000'000;
  // Raw events older than this are purged (aggregates are kept); 0 keeps them forever.
  std::int64_t retention_us = 0;
  // The WAL's size past which the store makes room for it to restart from its beginning
  // (SqliteEventStore::ResetWal), and the size its file is truncated to when it does.
  // Without it a WAL under continuous writes never restarts (checkpoint starvation: the
  // checkpointer never catches up with the writer) and grows by about 70 MB/s at 5,000
  // logged assigns/s. Smaller: more short writer pauses; larger: more disk and a longer
  // recovery after a crash.
  std::int64_t wal_limit_bytes = 64 << 20;
  // A cap on the database file (PRAGMA max_page_count); 0: the disk is the limit. Reaching
  // either fails the transaction as a full disk does: 503, nothing acknowledged is lost.
  std::int64_t max_size_bytes = 0;
  // The catalog's margin of each product (share of the premium kept): a bind's revenue is
  // its premium × its product's margin; a bind of a product not listed here is unpriced.
  std::map<std::string, double, std::less<>> product_margins{};
  // Distinct exposure counter names (Event::counters and "product|ID") per experiment at
  // most: each name is a row of exposure_counters per bucket and day, so names taken from
  // what clients send (products, attribute groups) must not grow without bound. Past it, a
  // new name is not counted (logged once per experiment); names already counted go on.
  // A report reads every name: 10,000 keeps it fast while far above what a catalog and the
  // fairness groups need.
  std::size_t max_counters_per_experiment = 10'000;
  // Makes the data written to a file durable: 0, or -1 with errno set. With synchronous
  // FULL the store calls it on the WAL after each commit and acknowledges the commit only
  // when it returns 0. A seam for tests, which inject a failing one; empty: fdatasync(2).
  std::function<int(int fd)> file_sync{};
};

// Per (experiment, bucket) totals, keyed by bucket name.
using BucketTotalsMap = std::map<std::string, BucketTotals>;

// The totals of `bucket`, zero when it has none.
inline BucketTotals BucketTotalsOf(const BucketTotalsMap& m, std::string_view bucket) {
  const auto it = m.find(std::string(bucket));
  return it == m.end() ? BucketTotals{} : it->second;
}

// An experiment's totals as they stood at the end of one UTC day ("YYYY-MM-DD"): every
// bucket with events so far, a bucket quiet that day carried forward from its last day.
struct DailyTotals {
  std::string day;
  BucketTotalsMap buckets;
};

// Named exposure counters (Event::counters, and "product|ID" per item shown):
// bucket -> UTC day -> name -> count.
using ExposureCounters =
    std::map<std::string, std::map<std::string, std::map<std::string, std::int64_t>>>;

// One user's premium and revenue attributed to an experiment (UserTotals' premium_cents and
// revenue_cents: every bind within the attribution window of the user's first exposure),
// cumulative, as of the close of `day` ("YYYY-MM-DD", UTC, by the store's clock as for
// DailyTotals), on a day they changed.
struct UserAmountStep {
  std::string day;
  std::int64_t premium_cents = 0;
  std::int64_t revenue_cents = 0;
  bool operator==(const UserAmountStep&) const = default;
};

// A user with any premium or revenue in the experiment, ever: the per-user amounts that
// winsorising needs, which the bucket sums cannot give.
struct UserAmounts {
  std::string user_id;
  // As of the latest step (the user's current bucket and covariates): the bucket of the
  // first exposure (intent to treat), and the CUPED covariates (UserTotals) when posted.
  std::string bucket;
  bool has_covariates = false;
  std::int64_t premium_before_cents = 0;
  std::int64_t products_held = 0;
  // Ascending by day, one per day on which the amounts, bucket or covariates changed; the
  // amounts as of a day's close are those of the last step on or before it (none: zero).
  // The last step holds the user's current amounts, those of Totals(). Amounts can fall (a
  // late exposure that moves the first exposure earlier takes later binds out of the
  // window), to zero even; a user erased is gone from every day.
  std::vector<UserAmountStep> steps;
  bool operator==(const UserAmounts&) const = default;
};

// Against History(): on every day >= since_day, the amounts as of the day's close summed
// over the users are the day's premium_cents and revenue_cents summed over its buckets,
// except on the days before an erasure (their snapshots still count the erased user; the
// steps do not). Per bucket they agree as well, except for a user moved to another bucket by
// a late exposure older than their first: UserAmounts::bucket is the current bucket, for
// every day.
struct AmountHistory {
  // The first day whose close the steps record completely: the per-user amounts as of the
  // close of any day >= since_day are exact, earlier days' are unknown (a database upgraded
  // to schema v12 records every user's amounts at the upgrade as one step of that day).
  // Empty: complete from the first day.
  std::string since_day;
  std::vector<UserAmounts> users;  // in no particular order
};

// What the report reads: an experiment's committed aggregates. The event store is one; a
// read-only connection to its database (sqlite_aggregate_reader.h) another.
class AggregateSource {
 public:
  virtual ~AggregateSource() = default;

  // The committed totals of one experiment. Thread-safe.
  virtual Result<BucketTotalsMap> Totals(const std::string& experiment) = 0;

  // The experiment's closing totals of each day with events, oldest first (the report's
  // history). Thread-safe.
  virtual Result<std::vector<DailyTotals>> History(const std::string& experiment) = 0;

  // The serving latency of the experiment's exposures on UTC days >= `since_day`
  // ("YYYY-MM-DD"), per bucket. Thread-safe.
  virtual Result<LatencyByBucket> Latency(const std::string& experiment,
                                          const std::string& since_day) = 0;

  // The experiment's exposure counters, every day. Thread-safe.
  virtual Result<ExposureCounters> Counters(const std::string& experiment) = 0;

  // The off-policy estimate's sums per target variant (off_policy_log.h). Thread-safe.
  virtual Result<OffPolicyByTarget> OffPolicy(const std::string& experiment) = 0;

  // The per-user premium and revenue history of the experiment's users with any (binders):
  // what capping per-user amounts at a quantile (winsorising) needs, at the current totals
  // and at each day's close of History(). Committed data, one snapshot. Thread-safe.
  virtual Result<AmountHistory> Amounts(const std::string& experiment) = 0;
};

class EventStore : public AggregateSource {
 public:
  using Done = std::function<void(Result<std::vector<EventOutcome>>)>;

  ~EventStore() override = default;

  // Queues a batch for the writer. `done` runs on the writer thread after the commit, with
  // one outcome per event in order, or with the error that failed the transaction (nothing
  // of the batch is then stored). Fails at once, without calling `done`, with kUnavailable
  // when the queue is full, the store is stopping, or the store has failed. Thread-safe.
  //
  // Fail-stop: once the WAL could not be synced or written (an I/O error, not a full disk),
  // the store acknowledges nothing more, failing every later write, and never syncs that
  // file again. Linux may drop the dirty pages of a failed write-back and clear the error,
  // so a retried fsync can succeed over lost data (the PostgreSQL "fsyncgate" thread,
  // pgsql-hackers, March 2018). A restart reopens the database and SQLite recovers it from
  // the WAL: every acknowledged event is there.
  virtual Result<void> Submit(std::vector<Event> events, Done done) = 0;

  // Erases every event of a user and their per-user totals, and corrects the bucket totals,
  // in one transaction through the writer (so it is ordered with the writes). `done` gets
  // the number of events removed. Fails at once like Submit.
  virtual Result<void> EraseUser(std::string user_id,
                                 std::function<void(Result<std::int64_t>)> done) = 0;

  // The audit trail of a request id: every committed event logged under it (the exposure,
  // and the clicks and binds that name it), oldest first. `done` may run before this
  // returns, on the calling thread (SQLite reads at once), or later on another thread (a
  // server database). Thread-safe.
  virtual Result<void> EventsOfRequest(std::string request_id,
                                       std::function<void(Result<std::vector<Event>>)> done) = 0;

  // Sets (or replaces) users' pre-experiment covariates and corrects the CUPED sums of
  // every bucket they are in, in one transaction. `done` gets the number stored.
  virtual Result<void> SetCovariates(std::vector<Covariates> covariates,
                                     std::function<void(Result<std::int64_t>)> done) = 0;

  // Where the completions (`done`) of a committed transaction run. By default on the writer
  // thread, one call each. With an executor the writer hands all of a transaction's
  // completions to `run` as one task: a server passes its I/O threads, so that a commit
  // wakes one thread instead of one per waiting request, and the writer goes back to
  // writing. `run` must stay usable until it is replaced or the store is destroyed; an empty
  // function restores the default. Thread-safe: after it returns, the old `run` is no longer
  // called.
  using Executor = std::function<void(std::function<void()>)>;
  virtual void SetCompletionExecutor(Executor run) = 0;

  // Events waiting for the writer right now. Thread-safe.
  virtual std::size_t QueuedEvents() = 0;

  // Why writes are not being acknowledged now (kUnavailable, field "storage"), or
  // std::nullopt: a failed fsync or WAL write (until the process restarts: see Submit), a
  // full disk (for 10 s after a transaction failed for want of space, unless one has
  // succeeded since), or a full queue. For /readyz. Thread-safe.
  virtual std::optional<Error> WriteHealth() = 0;

  // What the store holds, as of the last transaction (for /metrics). Thread-safe.
  struct Stats {
    std::size_t events = 0;       // raw events stored
    std::size_t users = 0;        // users with events, totals or covariates
    std::size_t index_bytes = 0;  // the in-memory id index
    // Transactions run so far (a change counter: nothing the aggregates show changes without
    // it growing), for caches of what is computed from them.
    std::uint64_t commits = 0;
    std::int64_t wal_bytes = 0;      // the write-ahead log's content (0 where there is none)
    std::uint64_t wal_restarts = 0;  // times the WAL was found restarted from its beginning
  };
  virtual Stats stats() = 0;

  // An online copy of the whole database at `path`. Thread-safe.
  virtual Result<void> Backup(const std::string& path) = 0;

  // Stops accepting writes (they answer kUnavailable), commits and acknowledges everything
  // queued, and stops the writer; reads keep working. Idempotent and thread-safe: a second
  // call waits for the first. The destructor closes too.
  virtual void Close() = 0;
};

}  // namespace abrec
