// The off-policy log: keeps the off-policy sums (eventstore/off_policy_sums.h, which says
// what they estimate) as exposures and outcomes arrive.
//
// Stored per (request, target) in ope_lists, per (user, experiment, target) in ope_users
// (the user's totals over their lists, the cluster of the clustered standard errors), and
// per (experiment, target) in ope_sums (stats::OpeSums for each metric, kept by delta: a list
// or user that changes leaves the sums with its old totals and enters with the new ones).
// Writes go through the writer's connection inside its transaction, so they commit or roll
// back with the events. Not thread-safe: the store's writer thread owns it.
#pragma once

#include <cstdint>
#include <string>

#include "base/error.h"
#include "eventstore/event.h"
#include "eventstore/off_policy_sums.h"
#include "sqlitedb/sqlite_db.h"

namespace abrec {

class OffPolicyLog {
 public:
  // Prepares its statements on the writer's connection (the schema must be migrated).
  static Result<OffPolicyLog> Open(SqliteDb& db);

  // An exposure: an exploration list with targets opens one row per target.
  Result<void> OnExposure(const Event& e);
  // A click or bind naming a request_id: credited to the exploration list it names when
  // that list showed the product, within `window_us` after the exposure.
  Result<void> OnOutcome(const Event& e, std::int64_t window_us);
  // Right to erasure: the user's lists and totals leave the sums.
  Result<void> EraseUser(const std::string& user);

 private:
  explicit OffPolicyLog(SqliteDb& db) : db_(&db) {}
  SqliteDb* db_;
  SqliteStatement insert_list_, exposure_of_, list_of_, update_list_, user_of_, put_user_,
      add_sums_, user_lists_, user_rows_, delete_user_lists_, delete_user_rows_;
};

// The experiment's sums, every target.
Result<OffPolicyByTarget> ReadOffPolicy(SqliteDb& db, const std::string& experiment);

}  // namespace abrec
