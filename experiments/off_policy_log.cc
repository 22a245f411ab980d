#include "experiments/off_policy_log.h"

#include <nlohmann/json.hpp>

namespace abrec {

Result<OffPolicyLog> OffPolicyLog::Open(SqliteDb& db) {
  OffPolicyLog log(db);
  struct {
    SqliteStatement* stmt;
    const char* sql;
  } all[] = {
      {&log.insert_list_,
       "INSERT OR IGNORE INTO ope_lists (request_id, target, experiment, user_id) VALUES (?1, "
       "?2, ?3, ?4)"},
      {&log.add_list_,
       "INSERT INTO ope_sums (experiment, target, lists) VALUES (?1, ?2, ?3) ON CONFLICT "
       "(experiment, target) DO UPDATE SET lists = lists + excluded.lists"},
      {&log.exposure_of_,
       // "request_id <> ''" lets SQLite use the partial index events_by_request.
       "SELECT ts_us, items, experiment FROM events WHERE request_id = ?1 AND request_id <> '' "
       "AND type = 0 AND bucket = 'exploration' LIMIT 1"},
      {&log.list_of_,
       "SELECT clicks, binds, premium FROM ope_lists WHERE request_id = ?1 AND target = ?2"},
      {&log.update_list_,
       "UPDATE ope_lists SET clicks = ?3, binds = ?4, premium = ?5 WHERE request_id = ?1 AND "
       "target = ?2"},
      {&log.add_sums_,
       "UPDATE ope_sums SET lists = lists + ?3, clicks = clicks + ?4, clicks_sq = clicks_sq + "
       "?5, binds = binds + ?6, binds_sq = binds_sq + ?7, premium = premium + ?8, premium_sq = "
       "premium_sq + ?9 WHERE experiment = ?1 AND target = ?2"},
      {&log.user_lists_,
       "SELECT experiment, target, clicks, binds, premium FROM ope_lists WHERE user_id = ?1"},
      {&log.delete_user_lists_, "DELETE FROM ope_lists WHERE user_id = ?1"},
  };
  for (auto& [stmt, sql] : all) {
    auto s = db.Prepare(sql);
    if (!s) return std::unexpected(s.error());
    *stmt = std::move(*s);
  }
  return log;
}

Result<void> OffPolicyLog::OnExposure(const Event& e) {
  if (e.bucket != "exploration" || e.ope_targets.empty() || e.request_id.empty()) return {};
  for (const std::string& target : e.ope_targets) {
    insert_list_.BindStatic(1, e.request_id).BindStatic(2, target);
    insert_list_.BindStatic(3, e.experiment).BindStatic(4, e.user_id);
    if (auto ok = insert_list_.Run(); !ok) return ok;
    if (db_->Changes() == 0) continue;  // the same request logged twice
    add_list_.BindStatic(1, e.experiment).BindStatic(2, target).Bind(3, std::int64_t{1});
    if (auto ok = add_list_.Run(); !ok) return ok;
  }
  return {};
}

Result<void> OffPolicyLog::OnOutcome(const Event& e, std::int64_t window_us) {
  if (e.type == EventType::kExposure || e.request_id.empty() || e.product_id.empty()) return {};
  exposure_of_.BindStatic(1, e.request_id);
  auto row = exposure_of_.Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) {
    exposure_of_.Reset();
    return {};
  }
  const std::int64_t shown_at = exposure_of_.Int(0);
  const std::string items = exposure_of_.Text(1), experiment = exposure_of_.Text(2);
  exposure_of_.Reset();
  if (e.ts_us < shown_at || e.ts_us > shown_at + window_us) return {};
  const auto list = nlohmann::json::parse(items, nullptr, /*allow_exceptions=*/false);
  if (!list.is_array()) return {};
  for (const auto& item : list) {
    if (!item.is_object() || item.value("product_id", "") != e.product_id) continue;
    const double propensity = item.value("propensity", 1.0);
    if (!(propensity > 0) || !item.contains("in_lists")) return {};
    const double w = 1.0 / propensity;
    const double premium = static_cast<double>(e.premium_cents) / 100.0;
    for (const auto& target_json : item["in_lists"]) {
      if (!target_json.is_string()) continue;
      const std::string target = target_json.get<std::string>();
      list_of_.Bind(1, e.request_id).Bind(2, target);
      auto found = list_of_.Step();
      if (!found) return std::unexpected(found.error());
      if (!*found) {
        list_of_.Reset();
        continue;
      }
      const double old[3] = {list_of_.Real(0), list_of_.Real(1), list_of_.Real(2)};
      list_of_.Reset();
      const bool click = e.type == EventType::kClick;
      const double add[3] = {click ? w : 0, click ? 0 : w, click ? 0 : w * premium};
      auto ok = update_list_.Bind(1, e.request_id)
                    .Bind(2, target)
                    .Bind(3, old[0] + add[0])
                    .Bind(4, old[1] + add[1])
                    .Bind(5, old[2] + add[2])
                    .Run();
      if (!ok) return ok;
      // Σ Y² moves by (Y + d)² − Y² = 2·Y·d + d².
      add_sums_.Bind(1, experiment).Bind(2, target).Bind(3, std::int64_t{0});
      for (int m = 0; m < 3; ++m) {
        add_sums_.Bind(4 + 2 * m, add[m]).Bind(5 + 2 * m, 2 * old[m] * add[m] + add[m] * add[m]);
      }
      if (ok = add_sums_.Run(); !ok) return ok;
    }
    return {};
  }
  return {};
}

Result<void> OffPolicyLog::EraseUser(const std::string& user) {
  struct Row {
    std::string experiment, target;
    double y[3];
  };
  std::vector<Row> rows;
  user_lists_.Bind(1, user);
  auto ok = ForEachRow(user_lists_, [&](const SqliteStatement& r) {
    rows.push_back({r.Text(0), r.Text(1), {r.Real(2), r.Real(3), r.Real(4)}});
  });
  if (!ok) return ok;
  for (const Row& r : rows) {
    add_sums_.Bind(1, r.experiment).Bind(2, r.target).Bind(3, std::int64_t{-1});
    for (int m = 0; m < 3; ++m)
      add_sums_.Bind(4 + 2 * m, -r.y[m]).Bind(5 + 2 * m, -r.y[m] * r.y[m]);
    if (ok = add_sums_.Run(); !ok) return ok;
  }
  return delete_user_lists_.Bind(1, user).Run();
}

Result<OffPolicyByTarget> ReadOffPolicy(SqliteDb& db, const std::string& experiment) {
  auto stmt = db.Prepare(
      "SELECT target, lists, clicks, clicks_sq, binds, binds_sq, premium, premium_sq FROM "
      "ope_sums WHERE experiment = ?1");
  if (!stmt) return std::unexpected(stmt.error());
  stmt->Bind(1, experiment);
  OffPolicyByTarget out;
  auto ok = ForEachRow(*stmt, [&](const SqliteStatement& r) {
    out[r.Text(0)] =
        OffPolicySums{r.Int(1), r.Real(2), r.Real(3), r.Real(4), r.Real(5), r.Real(6), r.Real(7)};
  });
  if (!ok) return std::unexpected(ok.error());
  return out;
}

}  // namespace abrec
