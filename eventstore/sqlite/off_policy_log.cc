#include "eventstore/sqlite/off_policy_log.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace abrec {
namespace {

constexpr std::size_t kMetrics = kOffPolicyMetrics.size();

// One list's values, or a user's totals over their lists (the header's y, v and z − y).
struct Totals {
  std::int64_t lists = 0;
  std::array<double, kMetrics> y{};
  double v = 0;
  std::array<double, kMetrics> model{};

  Totals& operator+=(const Totals& o) {
    lists += o.lists;
    v += o.v;
    for (std::size_t m = 0; m < kMetrics; ++m) {
      y[m] += o.y[m];
      model[m] += o.model[m];
    }
    return *this;
  }
};

// What a list's row says of how it was logged (0 or 1 each).
struct Flags {
  std::int64_t weighted = 0, modelled = 0, unsupported = 0;
};

stats::OpeTerms TermsOf(const Totals& t, std::size_t m) {
  return {t.y[m], t.v, t.y[m] + t.model[m]};
}

void AddList(OffPolicySums& s, const Totals& list, const Flags& f, int sign) {
  for (std::size_t m = 0; m < kMetrics; ++m) s.metrics[m].AddUnit(TermsOf(list, m), sign);
  s.weighted_lists += sign * f.weighted;
  s.modelled_lists += sign * f.modelled;
  s.unsupported_lists += sign * f.unsupported;
}

void AddUser(OffPolicySums& s, const Totals& user, int sign) {
  for (std::size_t m = 0; m < kMetrics; ++m) {
    s.metrics[m].AddCluster(user.lists, TermsOf(user, m), sign);
  }
}

// A user's totals change from `before` to `after`: the sums follow by delta.
void ChangeUser(OffPolicySums& s, const Totals& before, const Totals& after) {
  AddUser(s, before, -1);
  AddUser(s, after, +1);
}

bool ValidPropensity(double p) { return p > 0 && p <= 1; }

bool Valid(const RewardPrediction& r) {
  return std::isfinite(r.clicks) && std::isfinite(r.binds) && std::isfinite(r.premium) &&
         r.clicks >= 0 && r.binds >= 0 && r.premium >= 0;
}

// The list's weight v and model part z − y for one target, from what the exposure logged.
std::pair<Totals, Flags> ListOf(const Event& e, const OpeTarget& t) {
  Totals list{.lists = 1, .v = 1};
  Flags flags;
  double weight = 0;
  std::array<double, kMetrics> shown{};  // Σ_{a in S∩L} q̂(a) / p(a)
  bool weights_ok = true;
  bool model_ok = t.predicted && Valid(*t.predicted);
  for (const ExposedItem& item : e.items) {
    if (std::find(item.in_lists.begin(), item.in_lists.end(), t.variant) == item.in_lists.end()) {
      continue;
    }
    if (!ValidPropensity(item.propensity)) {
      weights_ok = model_ok = false;
      continue;
    }
    const double w = 1 / item.propensity;
    weight += w;
    if (item.predicted && Valid(*item.predicted)) {
      shown[0] += w * item.predicted->clicks;
      shown[1] += w * item.predicted->binds;
      shown[2] += w * item.predicted->premium;
    } else {
      model_ok = false;
    }
  }
  const bool support_known = t.in_support >= 0 && (t.products < 0 || t.in_support <= t.products);
  // With nothing of L in the support no product can match: Σ 1/p must be 0.
  if (weights_ok && support_known && (t.in_support > 0 || weight == 0)) {
    flags.weighted = 1;
    if (t.in_support > 0) list.v = weight / t.in_support;
  }
  flags.unsupported = support_known && t.products >= 0 && t.in_support < t.products ? 1 : 0;
  if (model_ok) {
    flags.modelled = 1;
    list.model = {t.predicted->clicks - shown[0], t.predicted->binds - shown[1],
                  t.predicted->premium - shown[2]};
  }
  return {list, flags};
}

// Calls f(column name, value) for each column of ope_sums after (experiment, target), in
// their order; the units, clusters, v, v_sq, nn and vv shared by the metrics are metric 0's.
template <typename Sums, typename F>
void ForEachColumn(Sums& s, F&& f) {
  auto& shared = s.metrics[0];
  f("lists", shared.units);
  f("users", shared.clusters);
  f("weighted_lists", s.weighted_lists);
  f("modelled_lists", s.modelled_lists);
  f("unsupported_lists", s.unsupported_lists);
  f("weight", shared.v);
  f("weight_sq", shared.v_sq);
  f("nn", shared.nn);
  f("ww", shared.vv);
  for (std::size_t m = 0; m < kMetrics; ++m) {
    const std::string p(kOffPolicyMetrics[m]);
    auto& x = s.metrics[m];
    f(p, x.y);
    f(p + "_dr", x.z);
    f(p + "_yy", x.yy);
    f(p + "_ny", x.ny);
    f(p + "_yw", x.yv);
    f(p + "_zz", x.zz);
    f(p + "_nz", x.nz);
  }
}

// The totals in columns y (one per metric), v, model (one per metric) from `first` on.
Totals TotalsAt(const SqliteStatement& r, int first, std::int64_t lists) {
  Totals t{.lists = lists};
  for (std::size_t m = 0; m < kMetrics; ++m) t.y[m] = r.Real(first + static_cast<int>(m));
  t.v = r.Real(first + static_cast<int>(kMetrics));
  for (std::size_t m = 0; m < kMetrics; ++m) {
    t.model[m] = r.Real(first + static_cast<int>(kMetrics + 1 + m));
  }
  return t;
}

Flags FlagsAt(const SqliteStatement& r, int first) {
  return {r.Int(first), r.Int(first + 1), r.Int(first + 2)};
}

// The user's totals for (experiment, target); zero when the user has no list there yet.
Result<Totals> ReadUser(SqliteStatement& user_of, const std::string& user,
                        const std::string& experiment, const std::string& target) {
  Totals t;
  user_of.Bind(1, user).Bind(2, experiment).Bind(3, target);
  auto ok = ForEachRow(user_of, [&](const SqliteStatement& r) { t = TotalsAt(r, 1, r.Int(0)); });
  if (!ok) return std::unexpected(ok.error());
  return t;
}

Result<void> PutUser(SqliteStatement& put, const std::string& user, const std::string& experiment,
                     const std::string& target, const Totals& t) {
  put.Bind(1, user).Bind(2, experiment).Bind(3, target).Bind(4, t.lists);
  for (std::size_t m = 0; m < kMetrics; ++m) put.Bind(5 + static_cast<int>(m), t.y[m]);
  put.Bind(8, t.v);
  for (std::size_t m = 0; m < kMetrics; ++m) put.Bind(9 + static_cast<int>(m), t.model[m]);
  return put.Run();
}

Result<void> AddSums(SqliteStatement& add, const std::string& experiment, const std::string& target,
                     const OffPolicySums& delta) {
  add.Bind(1, experiment).Bind(2, target);
  int i = 3;
  ForEachColumn(delta, [&](const std::string&, const auto& value) { add.Bind(i++, value); });
  return add.Run();
}

}  // namespace

Result<OffPolicyLog> OffPolicyLog::Open(SqliteDb& db) {
  OffPolicyLog log(db);
  std::string names, values, updates;
  int i = 3;
  const OffPolicySums columns;
  ForEachColumn(columns, [&](const std::string& name, const auto&) {
    names += ", " + name;
    values += fmt::format(", ?{}", i++);
    updates +=
        fmt::format("{}{} = {} + excluded.{}", updates.empty() ? "" : ", ", name, name, name);
  });
  const std::string add_sums = fmt::format(
      "INSERT INTO ope_sums (experiment, target{}) VALUES (?1, ?2{}) ON CONFLICT "
      "(experiment, target) DO UPDATE SET {}",
      names, values, updates);
  struct {
    SqliteStatement* stmt;
    std::string_view sql;
  } all[] = {
      {&log.insert_list_,
       "INSERT OR IGNORE INTO ope_lists (request_id, target, experiment, user_id, weight, "
       "clicks_model, binds_model, premium_model, weighted, modelled, unsupported) VALUES (?1, "
       "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"},
      {&log.exposure_of_,
       // "request_id <> ''" lets SQLite use the partial index events_by_request.
       "SELECT ts_us, items, experiment FROM events WHERE request_id = ?1 AND request_id <> '' "
       "AND type = 0 AND bucket = 'exploration' LIMIT 1"},
      {&log.list_of_,
       "SELECT user_id, clicks, binds, premium, weight, clicks_model, binds_model, "
       "premium_model, weighted, modelled, unsupported FROM ope_lists WHERE request_id = ?1 AND "
       "target = ?2"},
      {&log.update_list_,
       "UPDATE ope_lists SET clicks = ?3, binds = ?4, premium = ?5 WHERE request_id = ?1 AND "
       "target = ?2"},
      {&log.user_of_,
       "SELECT lists, clicks, binds, premium, weight, clicks_model, binds_model, premium_model "
       "FROM ope_users WHERE user_id = ?1 AND experiment = ?2 AND target = ?3"},
      {&log.put_user_,
       "INSERT OR REPLACE INTO ope_users (user_id, experiment, target, lists, clicks, binds, "
       "premium, weight, clicks_model, binds_model, premium_model) VALUES (?1, ?2, ?3, ?4, ?5, "
       "?6, ?7, ?8, ?9, ?10, ?11)"},
      {&log.add_sums_, add_sums},
      {&log.user_lists_,
       "SELECT experiment, target, clicks, binds, premium, weight, clicks_model, binds_model, "
       "premium_model, weighted, modelled, unsupported FROM ope_lists WHERE user_id = ?1"},
      {&log.user_rows_,
       "SELECT experiment, target, lists, clicks, binds, premium, weight, clicks_model, "
       "binds_model, premium_model FROM ope_users WHERE user_id = ?1"},
      {&log.delete_user_lists_, "DELETE FROM ope_lists WHERE user_id = ?1"},
      {&log.delete_user_rows_, "DELETE FROM ope_users WHERE user_id = ?1"},
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
  for (const OpeTarget& target : e.ope_targets) {
    const auto [list, flags] = ListOf(e, target);
    insert_list_.BindStatic(1, e.request_id).BindStatic(2, target.variant);
    insert_list_.BindStatic(3, e.experiment).BindStatic(4, e.user_id).Bind(5, list.v);
    for (std::size_t m = 0; m < kMetrics; ++m)
      insert_list_.Bind(6 + static_cast<int>(m), list.model[m]);
    insert_list_.Bind(9, flags.weighted).Bind(10, flags.modelled).Bind(11, flags.unsupported);
    if (auto ok = insert_list_.Run(); !ok) return ok;
    if (db_->Changes() == 0) continue;  // the same request logged twice
    auto before = ReadUser(user_of_, e.user_id, e.experiment, target.variant);
    if (!before) return std::unexpected(before.error());
    Totals after = *before;
    after += list;
    OffPolicySums delta;
    AddList(delta, list, flags, +1);
    ChangeUser(delta, *before, after);
    if (auto ok = PutUser(put_user_, e.user_id, e.experiment, target.variant, after); !ok) {
      return ok;
    }
    if (auto ok = AddSums(add_sums_, e.experiment, target.variant, delta); !ok) return ok;
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
    const auto propensity = item.find("propensity");
    if (propensity == item.end() || !propensity->is_number() ||
        !ValidPropensity(propensity->get<double>()) || !item.contains("in_lists") ||
        !item["in_lists"].is_array()) {
      return {};
    }
    const double w = 1 / propensity->get<double>();
    const double premium = static_cast<double>(e.premium_cents) / 100.0;
    const bool click = e.type == EventType::kClick;
    const std::array<double, kMetrics> add = {click ? w : 0, click ? 0 : w,
                                              click ? 0 : w * premium};
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
      const std::string user = list_of_.Text(0);
      const Totals old_list = TotalsAt(list_of_, 1, 1);
      const Flags flags = FlagsAt(list_of_, 8);
      list_of_.Reset();
      Totals new_list = old_list;
      for (std::size_t m = 0; m < kMetrics; ++m) new_list.y[m] += add[m];
      auto ok = update_list_.Bind(1, e.request_id)
                    .Bind(2, target)
                    .Bind(3, new_list.y[0])
                    .Bind(4, new_list.y[1])
                    .Bind(5, new_list.y[2])
                    .Run();
      if (!ok) return ok;
      auto before = ReadUser(user_of_, user, experiment, target);
      if (!before) return std::unexpected(before.error());
      Totals after = *before;
      for (std::size_t m = 0; m < kMetrics; ++m) after.y[m] += add[m];
      OffPolicySums delta;
      AddList(delta, old_list, flags, -1);
      AddList(delta, new_list, flags, +1);
      ChangeUser(delta, *before, after);
      if (ok = PutUser(put_user_, user, experiment, target, after); !ok) return ok;
      if (ok = AddSums(add_sums_, experiment, target, delta); !ok) return ok;
    }
    return {};
  }
  return {};
}

Result<void> OffPolicyLog::EraseUser(const std::string& user) {
  std::map<std::pair<std::string, std::string>, OffPolicySums> deltas;  // (experiment, target)
  user_lists_.Bind(1, user);
  auto ok = ForEachRow(user_lists_, [&](const SqliteStatement& r) {
    AddList(deltas[{r.Text(0), r.Text(1)}], TotalsAt(r, 2, 1), FlagsAt(r, 9), -1);
  });
  if (!ok) return ok;
  user_rows_.Bind(1, user);
  ok = ForEachRow(user_rows_, [&](const SqliteStatement& r) {
    AddUser(deltas[{r.Text(0), r.Text(1)}], TotalsAt(r, 3, r.Int(2)), -1);
  });
  if (!ok) return ok;
  for (const auto& [key, delta] : deltas) {
    if (ok = AddSums(add_sums_, key.first, key.second, delta); !ok) return ok;
  }
  if (ok = delete_user_lists_.Bind(1, user).Run(); !ok) return ok;
  return delete_user_rows_.Bind(1, user).Run();
}

Result<OffPolicyByTarget> ReadOffPolicy(SqliteDb& db, const std::string& experiment) {
  std::string names;
  const OffPolicySums columns;
  ForEachColumn(columns, [&](const std::string& name, const auto&) { names += ", " + name; });
  auto stmt = db.Prepare(fmt::format("SELECT target{} FROM ope_sums WHERE experiment = ?1", names));
  if (!stmt) return std::unexpected(stmt.error());
  stmt->Bind(1, experiment);
  OffPolicyByTarget out;
  auto ok = ForEachRow(*stmt, [&](const SqliteStatement& r) {
    OffPolicySums s;
    int i = 1;
    ForEachColumn(s, [&](const std::string&, auto& value) {
      if constexpr (std::is_same_v<std::decay_t<decltype(value)>, double>) {
        value = r.Real(i++);
      } else {
        value = r.Int(i++);
      }
    });
    for (std::size_t m = 1; m < kMetrics; ++m) {
      stats::OpeSums& x = s.metrics[m];
      const stats::OpeSums& shared = s.metrics[0];
      x.units = shared.units;
      x.clusters = shared.clusters;
      x.v = shared.v;
      x.v_sq = shared.v_sq;
      x.nn = shared.nn;
      x.vv = shared.vv;
    }
    out[r.Text(0)] = s;
  });
  if (!ok) return std::unexpected(ok.error());
  return out;
}

}  // namespace abrec
