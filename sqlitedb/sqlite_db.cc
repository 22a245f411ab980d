#include "sqlitedb/sqlite_db.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <sqlite3.h>

#include "base/atomic_file.h"

namespace abrec {

Error SqliteError(sqlite3* db, int rc, std::string_view what) {
  const int primary = rc & 0xFF;
  const bool transient = primary == SQLITE_FULL || primary == SQLITE_IOERR ||
                         primary == SQLITE_BUSY || primary == SQLITE_LOCKED ||
                         primary == SQLITE_CANTOPEN;
  return Error{transient ? ErrorCode::kUnavailable : ErrorCode::kInternal,
               fmt::format("{}: {} ({})", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
                           sqlite3_errstr(rc)),
               "storage"};
}

SqliteStatement::SqliteStatement(SqliteStatement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) {
  o.stmt_ = nullptr;
}

SqliteStatement& SqliteStatement::operator=(SqliteStatement&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(stmt_);
    db_ = o.db_;
    stmt_ = o.stmt_;
    o.stmt_ = nullptr;
  }
  return *this;
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

SqliteStatement& SqliteStatement::Bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
SqliteStatement& SqliteStatement::Bind(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}
SqliteStatement& SqliteStatement::Bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}
SqliteStatement& SqliteStatement::BindInt128(int index, Int128 value) {
  if (FitsInt64(value)) return Bind(index, static_cast<std::int64_t>(value));
  return Bind(index, std::string_view(Int128ToString(value)));
}
SqliteStatement& SqliteStatement::BindStatic(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  return *this;
}
SqliteStatement& SqliteStatement::BindBlob(int index, std::string_view bytes) {
  sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  return *this;
}
SqliteStatement& SqliteStatement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> SqliteStatement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error e = SqliteError(db_, rc, "sqlite step");
  sqlite3_reset(stmt_);
  return std::unexpected(std::move(e));
}

Result<void> SqliteStatement::Run() {
  for (;;) {
    auto r = Step();
    if (!r) return std::unexpected(r.error());
    if (!*r) break;
  }
  Reset();
  return {};
}

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t SqliteStatement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }
double SqliteStatement::Real(int column) const { return sqlite3_column_double(stmt_, column); }
bool SqliteStatement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}
Int128 SqliteStatement::Int128At(int column) const {
  if (sqlite3_column_type(stmt_, column) != SQLITE_TEXT) return Int(column);
  return ParseInt128(Text(column)).value_or(0);
}
std::string SqliteStatement::Text(int column) const {
  const auto* p = sqlite3_column_text(stmt_, column);
  if (!p) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::string SqliteStatement::Blob(int column) const {
  const void* p = sqlite3_column_blob(stmt_, column);
  if (!p) return {};
  return std::string(static_cast<const char*>(p),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

namespace {

// The database file created 0600 before SQLite opens it: it holds customer data, and SQLite
// creates its -wal and -shm files with the database file's mode. An existing file keeps its
// mode. ":memory:" and "" are not files.
Result<void> CreatePrivate(const std::string& path) {
  if (path.empty() || path == ":memory:") return {};
  auto fd = OpenPrivateFile(path, O_RDWR);
  if (!fd) return std::unexpected(fd.error());
  ::close(*fd);
  return {};
}

}  // namespace

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path, bool read_only) {
  if (!read_only) {
    if (auto ok = CreatePrivate(path); !ok) return std::unexpected(ok.error());
  }
  sqlite3* db = nullptr;
  const int flags =
      (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
      SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error e = SqliteError(db, rc, fmt::format("cannot open database {}", path));
    e.code = ErrorCode::kIo;
    sqlite3_close(db);
    return std::unexpected(std::move(e));
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  return std::unique_ptr<SqliteDb>(new SqliteDb(db));
}

SqliteDb::~SqliteDb() { sqlite3_close(db_); }

Result<void> SqliteDb::Exec(std::string_view sql) {
  char* msg = nullptr;
  const int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &msg);
  sqlite3_free(msg);
  if (rc != SQLITE_OK) return std::unexpected(SqliteError(db_, rc, "sqlite exec"));
  return {};
}

Result<SqliteDb::Checkpointed> SqliteDb::CheckpointPassive() {
  int log = 0;
  int copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
  if (rc == SQLITE_BUSY) return Checkpointed{.busy = true};
  if (rc != SQLITE_OK) return std::unexpected(SqliteError(db_, rc, "sqlite checkpoint"));
  return Checkpointed{.wal_frames = log, .copied_frames = copied};
}

Result<SqliteStatement> SqliteDb::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return std::unexpected(SqliteError(db_, rc, "sqlite prepare"));
  return SqliteStatement(db_, stmt);
}

std::int64_t SqliteDb::Changes() const { return sqlite3_changes64(db_); }
std::int64_t SqliteDb::LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }

int SqliteDb::LastErrorCode() const { return sqlite3_extended_errcode(db_); }

void SqliteDb::KeepWalOnClose() {
  sqlite3_db_config(db_, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
}

Result<void> SqliteDb::BackupTo(const std::string& path) {
  if (auto ok = CreatePrivate(path); !ok) return std::unexpected(ok.error());
  sqlite3* dest = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &dest, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    Error e = SqliteError(dest, rc, fmt::format("cannot open backup target {}", path));
    sqlite3_close(dest);
    return std::unexpected(std::move(e));
  }
  sqlite3_backup* b = sqlite3_backup_init(dest, "main", db_, "main");
  if (!b) {
    Error e = SqliteError(dest, sqlite3_errcode(dest), "cannot start the backup");
    sqlite3_close(dest);
    return std::unexpected(std::move(e));
  }
  // One step over one read transaction: in WAL mode it does not block the writer, while a
  // copy in several steps restarts whenever the writer commits in between, and under a
  // steady write load it would never finish.
  do {
    rc = sqlite3_backup_step(b, -1);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(5);
  } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
  sqlite3_backup_finish(b);
  const int final_rc = sqlite3_errcode(dest);
  sqlite3_close(dest);
  if (rc != SQLITE_DONE || final_rc != SQLITE_OK) {
    return std::unexpected(
        SqliteError(nullptr, rc == SQLITE_DONE ? final_rc : rc, "backup failed"));
  }
  return {};
}

}  // namespace abrec
