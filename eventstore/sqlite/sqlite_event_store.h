// The SQLite event store: WAL mode, one writer thread with group commit, a bounded queue,
// versioned schema, and the aggregates written in the same transaction as the events.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "base/clock.h"
#include "eventstore/event_store.h"
#include "sqlitedb/sqlite_db.h"

namespace abrec {

class SqliteEventWriter;

class SqliteEventStore final : public EventStore {
 public:
  // Opens (creating and migrating) the database, loads the writer's in-memory indexes (a
  // scan of every stored event) and starts the writer. `clock` must outlive the store.
  // Errors: kIo (cannot open), kFailedPrecondition (a newer schema).
  static Result<std::unique_ptr<SqliteEventStore>> Open(EventStoreOptions options,
                                                        const Clock& clock);
  // Closes (commits everything queued, then stops the writer).
  ~SqliteEventStore() override;
  void Close() override;

  Result<void> Submit(std::vector<Event> events, Done done) override;
  Result<void> EraseUser(std::string user_id,
                         std::function<void(Result<std::int64_t>)> done) override;
  Result<void> EventsOfRequest(std::string request_id,
                               std::function<void(Result<std::vector<Event>>)> done) override;
  Result<void> SetCovariates(std::vector<Covariates> covariates,
                             std::function<void(Result<std::int64_t>)> done) override;
  Result<BucketTotalsMap> Totals(const std::string& experiment) override;
  Result<std::vector<DailyTotals>> History(const std::string& experiment) override;
  Result<LatencyByBucket> Latency(const std::string& experiment,
                                  const std::string& since_day) override;
  Result<ExposureCounters> Counters(const std::string& experiment) override;
  Result<OffPolicyByTarget> OffPolicy(const std::string& experiment) override;
  Result<AmountHistory> Amounts(const std::string& experiment) override;
  void SetCompletionExecutor(Executor run) override;
  std::size_t QueuedEvents() override;
  std::optional<Error> WriteHealth() override;
  Stats stats() override;
  Result<void> Backup(const std::string& path) override;

  // The schema version this code writes.
  static int SchemaVersion();

 private:
  // One request for the writer.
  struct Batch {
    enum class Kind { kEvents, kErase, kCovariates };
    Kind kind = Kind::kEvents;
    std::vector<Event> events;
    Done done;
    std::string key;  // kErase: the user
    std::vector<Covariates> covariates;
    std::function<void(Result<std::int64_t>)> count_done;
  };
  // A batch's completion with its result, waiting to run.
  struct Completion {
    Done done;
    std::function<void(Result<std::int64_t>)> count_done;
    Result<std::vector<EventOutcome>> outcomes;
    Result<std::int64_t> count;
  };
  using Completions = std::shared_ptr<std::vector<Completion>>;

  Result<void> Enqueue(Batch batch);
  // Commits `group`; returns its completions for the caller to run, or null when the sync
  // thread runs them after its fsync.
  Completions RunGroup(std::vector<Batch>& group);
  // Runs completions through the executor, or here. `failure` replaces their results.
  void Complete(Completions completions, const std::optional<Error>& failure);
  void SyncLoop();
  // Enters the failed state (sticky; the first reason is kept and logged) after an I/O
  // error that may have lost written data.
  void Fail(std::string reason);
  // The failure every write gets once the store has failed, or std::nullopt.
  std::optional<Error> Failed();
  // Copies the writer's sizes to the atomics stats() reads (writer thread).
  void PublishStats();

  SqliteEventStore(EventStoreOptions options, const Clock& clock);
  void WriterLoop();
  void CheckpointLoop();
  // Writer thread, holding reader_mu_ (so no read of this process pins a WAL frame),
  // before a transaction, when the checkpointer asked: a PASSIVE checkpoint on the writer's
  // connection. The checkpointer's own pass copied almost all of the WAL, and no frame is
  // added meanwhile, so this one copies the last few transactions and completes the WAL;
  // SQLite restarts it from its beginning at the next transaction's first frame (and
  // truncates its file to wal_limit_bytes). A pause of one small copy and one fsync of the
  // database file, once per wal_limit_bytes written.
  void ResetWal();
  // The reader connection, after waiting (at most 50 ms) while HoldReaders(true) is in
  // force: the writer waits for the reader connection to be idle before a WAL reset, and
  // reads that keep coming would otherwise starve it.
  std::unique_lock<std::mutex> LockReader();
  void HoldReaders(bool hold);

  EventStoreOptions options_;
  const Clock& clock_;
  std::unique_ptr<SqliteEventWriter> writer_;  // used by the writer thread only
  std::mutex reader_mu_;
  std::unique_ptr<SqliteDb> reader_;
  std::atomic<std::size_t> stored_events_{0}, users_{0}, index_bytes_{0};
  std::atomic<std::uint64_t> commits_{0};  // PublishStats calls: after every transaction

  std::mutex executor_mu_;  // held while the executor is called or replaced
  Executor executor_;

  std::mutex mu_;
  std::mutex close_mu_;  // serialises Close(); held for the whole close
  bool closed_ = false;   // under close_mu_
  std::condition_variable cv_;
  std::deque<Batch> queue_;
  std::size_t queued_events_ = 0;
  bool stopping_ = false;
  std::optional<Error> failed_;  // fail-stop: set once, never cleared
  std::thread thread_;
  // When (clock_) a transaction last failed for want of space (SQLITE_FULL or
  // max_size_bytes), 0 after a commit that succeeded: a full disk is transient, not a
  // failure. Written by the writer thread.
  std::atomic<std::int64_t> full_at_us_{0};

  // WAL checkpoints run on their own thread and connection (PASSIVE: they never block the
  // writer), so that copying the WAL into the database and its fsync stay off the commit
  // path; the writer's automatic checkpoint is off.
  std::unique_ptr<SqliteDb> checkpointer_db_;
  std::thread checkpointer_;
  std::condition_variable checkpoint_cv_;  // with mu_ and stopping_
  std::int64_t page_size_ = 4096;          // of the database, for the WAL's size in bytes
  // Set by the checkpointer when the WAL has outgrown wal_limit_bytes; the writer calls
  // ResetWal and clears it.
  std::atomic<bool> wal_reset_wanted_{false};
  std::mutex gate_mu_;  // before reader_mu_; with mu_ held, after it
  std::condition_variable gate_cv_;
  bool readers_held_ = false;
  std::atomic<std::int64_t> wal_bytes_{0};      // as of the checkpointer's last pass
  std::atomic<std::uint64_t> wal_restarts_{0};  // passes that found the WAL restarted

  // With synchronous FULL (the default), the writer's connection runs with NORMAL (no fsync
  // in COMMIT) and this thread fsyncs the WAL after each commit, acknowledging the commit's
  // batches only then: the writer goes on with the next transaction during the fsync, and
  // one fsync covers every commit written before it. The guarantee is FULL's: an
  // acknowledged event is in a WAL that reached the disk.
  bool external_sync_ = false;
  int wal_fd_ = -1;  // the WAL file, for fdatasync; opened on first use
  std::thread syncer_;
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::deque<Completions> sync_queue_;
  bool sync_stopping_ = false;
};

}  // namespace abrec
