#include "eventstore/sqlite/sqlite_event_store.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <sqlite3.h>

#include "base/log.h"
#include "eventstore/sqlite/sqlite_event_writer.h"
#include "eventstore/sqlite/sqlite_schema.h"

namespace abrec {

int SqliteEventStore::SchemaVersion() { return static_cast<int>(SqliteMigrations().size()); }

SqliteEventStore::SqliteEventStore(EventStoreOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

Result<std::unique_ptr<SqliteEventStore>> SqliteEventStore::Open(EventStoreOptions options,
                                                                 const Clock& clock) {
  std::unique_ptr<SqliteEventStore> s(new SqliteEventStore(std::move(options), clock));
  const auto started = std::chrono::steady_clock::now();
  EventStoreOptions writer_options = s->options_;
  s->external_sync_ = s->options_.synchronous == "FULL" || s->options_.synchronous == "EXTRA";
  if (s->external_sync_) writer_options.synchronous = "NORMAL";  // the syncer fsyncs instead
  auto writer = SqliteEventWriter::Open(writer_options, clock);
  if (!writer) return std::unexpected(writer.error());
  s->writer_ = std::move(*writer);
  s->PublishStats();
  const auto stats = s->writer_->stats();
  LogInfo("storage: {} events of {} users indexed in {} ms", stats.events, stats.users,
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                started)
              .count());
  auto reader = SqliteDb::Open(s->options_.path, /*read_only=*/true);
  if (!reader) return std::unexpected(reader.error());
  s->reader_ = std::move(*reader);
  auto checkpointer = SqliteDb::Open(s->options_.path);
  if (!checkpointer) return std::unexpected(checkpointer.error());
  s->checkpointer_db_ = std::move(*checkpointer);
  // synchronous FULL on this connection too: a checkpoint fsyncs the database file before
  // the WAL may be reused.
  if (auto ok = s->checkpointer_db_->Exec("PRAGMA synchronous=FULL"); !ok) {
    return std::unexpected(ok.error());
  }
  if (auto page = s->checkpointer_db_->Prepare("PRAGMA page_size"); page && *page->Step()) {
    s->page_size_ = page->Int(0);
  }
  s->thread_ = std::thread([p = s.get()] {
    pthread_setname_np(pthread_self(), "abrec-writer");  // names show in top -H and perf
    p->WriterLoop();
  });
  s->checkpointer_ = std::thread([p = s.get()] {
    pthread_setname_np(pthread_self(), "abrec-ckpt");
    p->CheckpointLoop();
  });
  if (s->external_sync_) {
    s->syncer_ = std::thread([p = s.get()] {
      pthread_setname_np(pthread_self(), "abrec-sync");
      p->SyncLoop();
    });
  }
  return s;
}

SqliteEventStore::~SqliteEventStore() { Close(); }

void SqliteEventStore::Close() {
  std::lock_guard closing(close_mu_);
  if (closed_) return;
  closed_ = true;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  checkpoint_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  if (thread_.joinable()) thread_.join();  // everything queued is committed
  {
    std::lock_guard lock(sync_mu_);
    sync_stopping_ = true;
  }
  sync_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();  // and synced, and acknowledged
  if (wal_fd_ >= 0) ::close(wal_fd_);
  if (Failed()) {
    // A checkpoint now could fsync "successfully" over lost pages and then reset the WAL
    // that still holds them: leave the WAL for the next open to recover from.
    if (writer_) writer_->KeepWalOnClose();
    if (checkpointer_db_) checkpointer_db_->KeepWalOnClose();
    return;
  }
  if (writer_) writer_->Checkpoint();
}

void SqliteEventStore::Fail(std::string reason) {
  std::lock_guard lock(mu_);
  if (failed_) return;
  failed_ = Error{ErrorCode::kUnavailable,
                  fmt::format("the event store stopped acknowledging writes: {}; nothing is "
                              "acknowledged until the service restarts and recovers the "
                              "database from its WAL",
                              reason),
                  "storage"};
  LogError("storage: {}", failed_->message);
}

std::optional<Error> SqliteEventStore::Failed() {
  std::lock_guard lock(mu_);
  return failed_;
}

Result<void> SqliteEventStore::Submit(std::vector<Event> events, Done done) {
  Batch b;
  b.events = std::move(events);
  b.done = std::move(done);
  return Enqueue(std::move(b));
}

Result<void> SqliteEventStore::EraseUser(std::string user_id,
                                         std::function<void(Result<std::int64_t>)> done) {
  Batch b;
  b.kind = Batch::Kind::kErase;
  b.key = std::move(user_id);
  b.count_done = std::move(done);
  return Enqueue(std::move(b));
}

Result<void> SqliteEventStore::SetCovariates(std::vector<Covariates> covariates,
                                             std::function<void(Result<std::int64_t>)> done) {
  if (covariates.empty()) {
    done(std::int64_t{0});
    return {};
  }
  Batch b;
  b.kind = Batch::Kind::kCovariates;
  b.covariates = std::move(covariates);
  b.count_done = std::move(done);
  return Enqueue(std::move(b));
}

Result<void> SqliteEventStore::Enqueue(Batch batch) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      return std::unexpected(
          Error{ErrorCode::kUnavailable, "the event store is stopping", "storage"});
    }
    if (failed_) return std::unexpected(*failed_);
    if (queued_events_ + batch.events.size() > options_.queue_capacity) {
      return std::unexpected(Error{ErrorCode::kUnavailable,
                                   fmt::format("the write queue is full ({} events waiting); "
                                               "retry shortly",
                                               queued_events_),
                                   "storage"});
    }
    queued_events_ += batch.events.size();
    queue_.push_back(std::move(batch));
  }
  cv_.notify_one();
  return {};
}

void SqliteEventStore::WriterLoop() {
  // Retention runs on this thread too, between transactions: at start, then every 10 min.
  constexpr auto kPurgeEvery = std::chrono::minutes(10);
  // Without retention there is nothing to purge: wait for work only.
  auto next_purge = options_.retention_us > 0 ? std::chrono::steady_clock::now()
                                              : std::chrono::steady_clock::time_point::max();
  for (;;) {
    if (options_.retention_us > 0 && std::chrono::steady_clock::now() >= next_purge) {
      next_purge = std::chrono::steady_clock::now() + kPurgeEvery;
      const auto purged = writer_->Purge(clock_.NowMicros() - options_.retention_us);
      if (!purged) {
        LogError("storage: retention purge failed: {}", purged.error().message);
      } else if (*purged > 0) {
        LogInfo("storage: purged {} events past the retention period", *purged);
        PublishStats();
      }
    }
    std::vector<Batch> group;
    {
      std::unique_lock lock(mu_);
      if (queue_.empty()) HoldReaders(false);  // never while idle: a reset needs a commit
      cv_.wait_until(lock, next_purge, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        if (stopping_) return;  // everything is written
        continue;               // time to purge
      }
      // Group commit: whatever has queued while the last transaction committed goes into
      // the next one, up to max_transaction_events.
      std::size_t n = 0;
      while (!queue_.empty() && (group.empty() || n + queue_.front().events.size() <=
                                                      options_.max_transaction_events)) {
        n += queue_.front().events.size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_events_ -= n;
    }
    if (wal_reset_wanted_) {
      // New reads wait (HoldReaders) until the read in progress ends; then the reader
      // connection is idle and the reset can complete. Until then this transaction and the
      // next ones commit as usual.
      HoldReaders(true);
      std::unique_lock readers(reader_mu_, std::try_to_lock);
      if (readers.owns_lock()) {
        ResetWal();
        Completions done = RunGroup(group);  // its first frame restarts the WAL
        wal_reset_wanted_ = false;
        readers.unlock();  // before any completion runs here: one may read
        HoldReaders(false);
        if (done) Complete(std::move(done), std::nullopt);
        continue;
      }
    }
    if (Completions done = RunGroup(group)) Complete(std::move(done), std::nullopt);
  }
}

SqliteEventStore::Completions SqliteEventStore::RunGroup(std::vector<Batch>& group) {
  std::vector<WriteOp> ops;
  for (Batch& b : group) {
    switch (b.kind) {
      case Batch::Kind::kEvents: ops.push_back(WriteOp{&b.events, nullptr, nullptr}); break;
      case Batch::Kind::kErase: ops.push_back(WriteOp{nullptr, &b.key, nullptr}); break;
      case Batch::Kind::kCovariates: ops.push_back(WriteOp{nullptr, nullptr, &b.covariates}); break;
    }
  }
  // Batches queued before the store failed are refused too, without writing.
  const std::optional<Error> failed = Failed();
  Result<std::vector<WriteResult>> result =
      failed ? std::unexpected(*failed) : writer_->Commit(ops);
  if (result) {
    full_at_us_ = 0;
  } else if (!failed) {
    const int primary = writer_->last_failure_code() & 0xFF;
    if (primary == SQLITE_FULL) full_at_us_ = std::max<std::int64_t>(clock_.NowMicros(), 1);
    if (primary == SQLITE_IOERR) {
      // A failed write of the WAL: the page cache may hold frames the file does not.
      Fail(fmt::format("a transaction failed to write: {}", result.error().message));
    } else {
      LogError("storage: transaction failed, nothing of it was kept: {}", result.error().message);
    }
  }
  PublishStats();
  auto completions = std::make_shared<std::vector<Completion>>();
  completions->reserve(group.size());
  for (std::size_t i = 0; i < group.size(); ++i) {
    Batch& b = group[i];
    Completion c{std::move(b.done), std::move(b.count_done), std::vector<EventOutcome>{},
                 std::int64_t{0}};
    if (!result) {
      c.outcomes = std::unexpected(result.error());
      c.count = std::unexpected(result.error());
    } else if (b.kind == Batch::Kind::kEvents) {
      c.outcomes = std::move((*result)[i].outcomes);
    } else {
      c.count = (*result)[i].count;
    }
    completions->push_back(std::move(c));
  }
  if (result && external_sync_) {
    {
      std::lock_guard lock(sync_mu_);
      sync_queue_.push_back(std::move(completions));
    }
    sync_cv_.notify_one();
    return nullptr;
  }
  return completions;
}

void SqliteEventStore::Complete(Completions completions, const std::optional<Error>& failure) {
  if (failure) {
    for (Completion& c : *completions) {
      c.outcomes = std::unexpected(*failure);
      c.count = std::unexpected(*failure);
    }
  }
  auto complete = [completions] {
    for (Completion& c : *completions) {
      if (c.done) {
        c.done(std::move(c.outcomes));
      } else {
        c.count_done(std::move(c.count));
      }
    }
  };
  std::lock_guard lock(executor_mu_);
  if (executor_) {
    executor_(std::move(complete));
  } else {
    complete();
  }
}

void SqliteEventStore::SetCompletionExecutor(Executor run) {
  std::lock_guard lock(executor_mu_);
  executor_ = std::move(run);
}

void SqliteEventStore::PublishStats() {
  const auto stats = writer_->stats();
  stored_events_ = stats.events;
  users_ = stats.users;
  index_bytes_ = stats.id_index_bytes;
  commits_.fetch_add(1, std::memory_order_release);
}

std::optional<Error> SqliteEventStore::WriteHealth() {
  if (auto failed = Failed()) return failed;
  // Held for a while rather than until a write succeeds: a load balancer that takes the
  // service out of rotation sends no writes that could show the disk has room again.
  constexpr std::int64_t kFullHoldUs = 10'000'000;
  if (const std::int64_t full_at = full_at_us_;
      full_at != 0 && clock_.NowMicros() - full_at < kFullHoldUs) {
    return Error{ErrorCode::kUnavailable,
                 "the disk (or storage.max_size_mb) is full: a transaction failed for want of "
                 "space in the last 10 s, and none has succeeded since",
                 "storage"};
  }
  std::lock_guard lock(mu_);
  if (queued_events_ >= options_.queue_capacity) {
    return Error{ErrorCode::kUnavailable,
                 fmt::format("the write queue is full ({} events waiting, "
                             "storage.queue_capacity {})",
                             queued_events_, options_.queue_capacity),
                 "storage"};
  }
  return std::nullopt;
}

std::size_t SqliteEventStore::QueuedEvents() {
  std::lock_guard lock(mu_);
  return queued_events_;
}

EventStore::Stats SqliteEventStore::stats() {
  return Stats{stored_events_.load(), users_.load(),
               index_bytes_.load(),   commits_.load(std::memory_order_acquire),
               wal_bytes_.load(),     wal_restarts_.load()};
}

}  // namespace abrec
