// A thin RAII layer over SQLite's C API: a connection and prepared statements. The only
// code that calls sqlite3_*; errors come back as abrec::Error. Not thread-safe: one thread
// per connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/int128.h"

struct sqlite3;
struct sqlite3_stmt;

namespace abrec {

class SqliteStatement {
 public:
  SqliteStatement() = default;
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  SqliteStatement(SqliteStatement&& o) noexcept;
  SqliteStatement& operator=(SqliteStatement&& o) noexcept;
  ~SqliteStatement();

  // Binds are 1-based, as in SQLite. Text is copied.
  SqliteStatement& Bind(int index, std::int64_t value);
  SqliteStatement& Bind(int index, double value);
  SqliteStatement& Bind(int index, std::string_view text);
  // Text that stays valid and unchanged until the statement is stepped and reset: bound
  // without a copy (SQLITE_STATIC). For the writer's hot insert.
  SqliteStatement& BindStatic(int index, std::string_view text);
  SqliteStatement& BindNull(int index);
  // Bytes, copied, stored as a BLOB.
  SqliteStatement& BindBlob(int index, std::string_view bytes);
  // An exact 128-bit integer: an INTEGER when it fits in 64 bits, else its decimal TEXT
  // (bind only into columns without INTEGER affinity, which would make that TEXT a REAL).
  SqliteStatement& BindInt128(int index, Int128 value);

  // Steps once: true when a row is available, false when done. Errors carry SQLite's message.
  Result<bool> Step();
  // Steps to completion, then resets.
  Result<void> Run();
  void Reset();

  std::int64_t Int(int column) const;
  double Real(int column) const;
  std::string Text(int column) const;
  // A BLOB column's bytes (a TEXT column's too); empty for NULL.
  std::string Blob(int column) const;
  bool IsNull(int column) const;
  // The inverse of BindInt128; a TEXT that is not a 128-bit decimal reads as 0.
  Int128 Int128At(int column) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class SqliteDb {
 public:
  // Opens (creating) the database file. Errors: kIo.
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path, bool read_only = false);
  ~SqliteDb();

  Result<void> Exec(std::string_view sql);
  Result<SqliteStatement> Prepare(std::string_view sql);
  std::int64_t Changes() const;
  // The rowid of the last row inserted on this connection.
  std::int64_t LastInsertRowid() const;
  // The extended result code of the last failure (e.g. SQLITE_FULL), for error mapping.
  int LastErrorCode() const;
  // No checkpoint when this connection closes (SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE): the WAL
  // stays for the next open to recover from.
  void KeepWalOnClose();
  // One PASSIVE checkpoint (sqlite3_wal_checkpoint_v2): copies into the database file every
  // WAL frame no reader still needs, without waiting for readers or writers, and syncs the
  // file as this connection's synchronous setting says. `busy`: another connection was
  // checkpointing, nothing was done. Errors: as Exec (an I/O error may be a failed fsync).
  struct Checkpointed {
    std::int64_t wal_frames = 0;     // frames in the WAL
    std::int64_t copied_frames = 0;  // of them, now in the database file
    bool busy = false;
  };
  Result<Checkpointed> CheckpointPassive();
  // Online backup of the whole database into `path` (sqlite3_backup_*).
  Result<void> BackupTo(const std::string& path);

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// Runs `stmt` to completion, calling `visit` with it at each row, then resets it.
template <typename Visit>
Result<void> ForEachRow(SqliteStatement& stmt, Visit&& visit) {
  for (;;) {
    auto more = stmt.Step();
    if (!more) return std::unexpected(more.error());
    if (!*more) break;
    visit(stmt);
  }
  stmt.Reset();
  return {};
}

// A failed SQLite call as an Error: SQLITE_FULL and I/O errors are kUnavailable (retry
// later, nothing was committed), the rest kInternal.
Error SqliteError(sqlite3* db, int rc, std::string_view what);

}  // namespace abrec
