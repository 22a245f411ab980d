// SqliteEventStore's WAL: the fsync of each commit's frames before its batches are
// acknowledged (SyncLoop), the PASSIVE checkpoints on their own connection (CheckpointLoop),
// and the reset that restarts a WAL past wal_limit_bytes (ResetWal, with the gate that holds
// new reads back until it has run).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>
#include <sqlite3.h>

#include "base/log.h"
#include "eventstore/sqlite/sqlite_event_store.h"
#include "eventstore/sqlite/sqlite_event_writer.h"

namespace abrec {

void SqliteEventStore::SyncLoop() {
  for (;;) {
    std::deque<Completions> ready;
    {
      std::unique_lock lock(sync_mu_);
      sync_cv_.wait(lock, [this] { return sync_stopping_ || !sync_queue_.empty(); });
      if (sync_queue_.empty()) return;  // stopping, and everything is acknowledged
      ready.swap(sync_queue_);
    }
    // One fdatasync covers every commit whose frames were written before it started. After
    // a failure the file is never synced again (see Submit in event_store.h).
    std::optional<Error> failure = Failed();
    if (!failure) {
      if (wal_fd_ < 0) wal_fd_ = ::open((options_.path + "-wal").c_str(), O_RDONLY | O_CLOEXEC);
      if (wal_fd_ < 0 ||
          (options_.file_sync ? options_.file_sync(wal_fd_) : ::fdatasync(wal_fd_)) != 0) {
        Fail(fmt::format("cannot sync {}-wal to disk: {}", options_.path, std::strerror(errno)));
        failure = Failed();
      }
    }
    for (Completions& c : ready) Complete(std::move(c), failure);
  }
}

void SqliteEventStore::CheckpointLoop() {
  // Every 250 ms: at 100,000 events/s the WAL grows by about 5 MB in that time.
  constexpr auto kEvery = std::chrono::milliseconds(250);
  std::unique_lock lock(mu_);
  while (!checkpoint_cv_.wait_for(lock, kEvery, [this] { return stopping_; })) {
    if (failed_) continue;  // no more syncs of these files
    lock.unlock();
    auto done = checkpointer_db_->CheckpointPassive();
    bool want_reset = false;
    if (!done) {
      // An I/O error may be a failed fsync of the database file: a later checkpoint that
      // succeeded would reset the WAL over pages the kernel dropped.
      if ((checkpointer_db_->LastErrorCode() & 0xFF) == SQLITE_IOERR) {
        Fail(fmt::format("a WAL checkpoint failed: {}", done.error().message));
      } else {
        LogError("storage: WAL checkpoint failed: {}", done.error().message);
      }
    } else if (!done->busy) {
      // A WAL frame is a 24-byte header and a page.
      const std::int64_t bytes = done->wal_frames * (page_size_ + 24);
      if (bytes < wal_bytes_.exchange(bytes)) wal_restarts_.fetch_add(1);
      want_reset = bytes > options_.wal_limit_bytes;
    }
    lock.lock();
    if (want_reset) wal_reset_wanted_ = true;
  }
}

void SqliteEventStore::ResetWal() {
  if (Failed()) return;  // no more syncs of these files
  auto done = writer_->CheckpointPassive();
  if (!done && (writer_->last_failure_code() & 0xFF) == SQLITE_IOERR) {
    Fail(fmt::format("a WAL checkpoint failed: {}", done.error().message));
  } else if (!done) {
    LogError("storage: WAL checkpoint failed: {}", done.error().message);
  }
}

std::unique_lock<std::mutex> SqliteEventStore::LockReader() {
  {
    // Bounded: should the writer not get to the reset, reads go on after this long.
    constexpr auto kMaxHold = std::chrono::milliseconds(50);
    std::unique_lock gate(gate_mu_);
    gate_cv_.wait_for(gate, kMaxHold, [this] { return !readers_held_; });
  }
  return std::unique_lock(reader_mu_);
}

void SqliteEventStore::HoldReaders(bool hold) {
  {
    std::lock_guard gate(gate_mu_);
    if (readers_held_ == hold) return;
    readers_held_ = hold;
  }
  if (!hold) gate_cv_.notify_all();
}

}  // namespace abrec
