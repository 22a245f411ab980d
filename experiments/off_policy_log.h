// The off-policy log: what the exploration bucket says about policies it did not run.
//
// The exploration bucket shows k products drawn uniformly from the n eligible ones, so each
// product a is shown with a known probability p(a) = k/n (its propensity, logged). When the
// service serves such a list it also computes what each variant's policy would have shown
// that customer (ExposedItem::in_lists, Event::ope_targets). For a target policy π, each
// exploration list i then gives the item-level inverse-propensity estimate
//     Y_i(π) = Σ_{a shown in i and in π's list} r_{i,a} / p_i(a),
// unbiased for the expected reward of π's list when each item's reward does not depend on
// the rest of the list (Li, Kim and Zitouni, "Toward predicting the outcome of an A/B
// experiment for search relevance", WSDM 2015; Swaminathan et al., "Off-policy evaluation for
// slate recommendation", NeurIPS 2017, item-position model). r is the clicks, binds or bound
// premium (currency units) on product a that name the list's request_id.
//
// Stored per (request, target) in ope_lists, and per (experiment, target) as the number of
// lists and the sums of Y and Y² (ope_sums): the mean and its standard error follow. Writes
// go through the writer's connection inside its transaction, so they commit or roll back
// with the events. Not thread-safe: the store's writer thread owns it.
#pragma once

#include <map>
#include <string>

#include "base/error.h"
#include "experiments/event.h"
#include "experiments/sqlite_db.h"

namespace abrec {

// Per (experiment, target): the lists and the sums of their per-list estimates.
struct OffPolicySums {
  std::int64_t lists = 0;
  double clicks = 0, clicks_sq = 0;
  double binds = 0, binds_sq = 0;
  double premium = 0, premium_sq = 0;  // currency units
};

// target (a variant name) -> sums.
using OffPolicyByTarget = std::map<std::string, OffPolicySums>;

class OffPolicyLog {
 public:
  // Prepares its statements on the writer's connection (the schema must be migrated).
  static Result<OffPolicyLog> Open(SqliteDb& db);

  // An exposure: an exploration list with targets opens one row per target.
  Result<void> OnExposure(const Event& e);
  // A click or bind naming a request_id: credited to the exploration list it names when
  // that list showed the product, within `window_us` after the exposure.
  Result<void> OnOutcome(const Event& e, std::int64_t window_us);
  // Right to erasure: the user's lists leave the sums.
  Result<void> EraseUser(const std::string& user);

 private:
  explicit OffPolicyLog(SqliteDb& db) : db_(&db) {}
  SqliteDb* db_;
  SqliteStatement insert_list_, add_list_, exposure_of_, list_of_, update_list_, add_sums_,
      user_lists_, delete_user_lists_;
};

// The experiment's sums, every target.
Result<OffPolicyByTarget> ReadOffPolicy(SqliteDb& db, const std::string& experiment);

}  // namespace abrec
