// Exposure counters of distinct users. A counter named with counter_keys::kUserPrefix (counter_keys.h,
// "users|…") counts users, not exposures: the writer counts it at most once per (experiment,
// bucket, user), in exposure_counters' row of the UTC day it first sees that user with that
// name. A bucket's rows summed over the days up to D are then the users counted by D's close.
//
// What each user was counted for, and on which day, is kept as (name id, day) pairs per
// (experiment, bucket, user): in memory, so that the write path decides without reading
// SQLite, and in user_counted (schema v11), whose rows each hold the pairs one transaction
// added for one (experiment, bucket, user), as LEB128 varints in a BLOB, the names interned
// once in counter_names. Rows are appended, never updated: a transaction's rows share the
// table's last pages, where one row per (user, name) or a row per user rewritten in place
// would dirty a page per user at random places of a B-tree (bench/README.md, "distinct
// users", has the figures). A user gains rows only in the transactions where a name counts
// for the first time, a handful over their life. An erasure deletes the user's rows and hands
// back each of their counts with its day, so that exactly those leave exposure_counters.
//
// Transactions as in AggregateState: Rollback() restores the state of Begin(). Writes go
// through the writer's connection, inside its transaction, so they commit or roll back with
// the events. Not thread-safe: the store's writer thread owns it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/sharded_map.h"
#include "eventstore/counter_keys.h"
#include "eventstore/event.h"
#include "sqlitedb/sqlite_db.h"

namespace abrec {

class DistinctUserCounters {
 public:
  // Prepares its statements on the writer's connection (schema v11 or later) and loads what
  // the database holds. kInternal when a stored list is malformed or names a counter that
  // counter_names lacks (the message names the row).
  static Result<DistinctUserCounters> Open(SqliteDb& db);

  static bool Distinct(std::string_view name) { return counter_keys::IsPerUser(name); }

  void Begin();
  void Commit();
  void Rollback();

  // Within a transaction: counts each of exposure `e`'s counters that is Distinct() for its
  // user in its (experiment, bucket) on `day` (days since 1970-01-01, UTC), unless counted there
  // before, and appends to `first` those that count now (pointers into e.counters, each name
  // once). Fails only when SQLite fails.
  Result<void> CountExposure(const Event& e, std::int32_t day,
                             std::vector<const std::string*>& first);

  // One count to take back out of exposure_counters.
  struct Uncount {
    std::string experiment, bucket, name;
    std::int32_t day = 0;
  };
  // Within a transaction: forgets the user (their rows are deleted) and returns their counts.
  Result<std::vector<Uncount>> EraseUser(const std::string& user);

  // Within a transaction, before its COMMIT: appends the counts added since Begin().
  Result<void> WriteChanges();

  std::size_t UserCount() const { return users_.size(); }

 private:
  struct Entry {
    std::uint32_t name = 0;  // id in counter_names
    std::int32_t day = 0;
  };
  struct Set {
    std::uint32_t scope = 0;       // the (experiment, bucket) in scopes_
    std::vector<Entry> entries{};  // ascending by name
  };
  struct UserSets {
    std::vector<Set> sets{};
    std::vector<std::int64_t> rows{};  // the user's rowids in user_counted
  };
  // This transaction's changes, in order: a count added, a row appended, a user erased (with
  // the state before). Rollback undoes them newest first; WriteChanges writes the counts.
  struct Step {
    enum class Kind { kCount, kRow, kErase } kind = Kind::kCount;
    std::string user;
    std::uint32_t scope = 0;
    Entry entry{};
    std::optional<UserSets> before{};
  };

  explicit DistinctUserCounters(SqliteDb& db) : db_(&db) {}
  Result<void> Load();
  std::uint32_t ScopeOf(const std::string& experiment, const std::string& bucket);
  static const Entry* Find(const Set& set, std::uint32_t name);
  static void Insert(Set& set, Entry entry);

  SqliteDb* db_;
  SqliteStatement insert_name_, insert_row_, delete_row_;
  ShardedMap<UserSets> users_;      // sharded: no commit waits for a rehash of every user
  std::vector<std::string> names_;  // by id; "" where no name has that id
  std::unordered_map<std::string, std::uint32_t> name_ids_;
  // (experiment, bucket) pairs, interned in memory only: rows store the two strings.
  std::vector<std::pair<std::string, std::string>> scopes_;
  std::map<std::pair<std::string, std::string>, std::uint32_t> scope_ids_;
  std::uint32_t last_scope_ = 0;

  bool in_txn_ = false;
  std::size_t names_at_begin_ = 0;
  std::vector<Step> steps_;
};

}  // namespace abrec
