#include "eventstore/sqlite/sqlite_aggregate_reader.h"

#include <algorithm>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "eventstore/sqlite/sqlite_row_codec.h"

namespace abrec {

Result<BucketTotalsMap> ReadBucketTotals(SqliteDb& db, const std::string& experiment) {
  auto stmt = db.Prepare(fmt::format("SELECT bucket, {} FROM bucket_totals WHERE experiment = ?1",
                                     BucketSumColumns()));
  if (!stmt) return std::unexpected(stmt.error());
  stmt->Bind(1, experiment);
  BucketTotalsMap out;
  auto ok =
      ForEachRow(*stmt, [&](const SqliteStatement& r) { ReadBucketSums(r, 1, out[r.Text(0)]); });
  if (!ok) return std::unexpected(ok.error());
  return out;
}

Result<std::vector<DailyTotals>> ReadDailyTotals(SqliteDb& db, const std::string& experiment) {
  auto stmt = db.Prepare(
      fmt::format("SELECT day, bucket, {} FROM bucket_daily WHERE experiment = ?1 ORDER BY day",
                  BucketSumColumns()));
  if (!stmt) return std::unexpected(stmt.error());
  stmt->Bind(1, experiment);
  std::vector<DailyTotals> out;
  auto ok = ForEachRow(*stmt, [&](const SqliteStatement& r) {
    std::string day = r.Text(0);
    if (out.empty() || out.back().day != day) {
      // A new day starts from the previous day's totals: quiet buckets carry forward.
      DailyTotals next{std::move(day), out.empty() ? BucketTotalsMap{} : out.back().buckets};
      out.push_back(std::move(next));
    }
    ReadBucketSums(r, 2, out.back().buckets[r.Text(1)]);
  });
  if (!ok) return std::unexpected(ok.error());
  return out;
}

Result<LatencyByBucket> ReadLatency(SqliteDb& db, const std::string& experiment,
                                    const std::string& since_day) {
  auto stmt = db.Prepare(
      "SELECT bucket, bin, SUM(exposures), SUM(fallbacks) FROM exposure_latency WHERE "
      "experiment = ?1 AND day >= ?2 GROUP BY bucket, bin");
  if (!stmt) return std::unexpected(stmt.error());
  stmt->Bind(1, experiment).Bind(2, since_day);
  LatencyByBucket out;
  auto ok = ForEachRow(*stmt, [&](const SqliteStatement& r) {
    out[r.Text(0)].Add(static_cast<int>(r.Int(1)), r.Int(2), r.Int(3));
  });
  if (!ok) return std::unexpected(ok.error());
  return out;
}

Result<ExposureCounters> ReadExposureCounters(SqliteDb& db, const std::string& experiment) {
  auto stmt =
      db.Prepare("SELECT bucket, day, name, count FROM exposure_counters WHERE experiment = ?1");
  if (!stmt) return std::unexpected(stmt.error());
  stmt->Bind(1, experiment);
  ExposureCounters out;
  auto ok = ForEachRow(
      *stmt, [&](const SqliteStatement& r) { out[r.Text(0)][r.Text(1)][r.Text(2)] = r.Int(3); });
  if (!ok) return std::unexpected(ok.error());
  return out;
}

Result<AmountHistory> ReadAmountHistory(SqliteDb& db, const std::string& experiment) {
  // One read transaction: since_day and the steps from one snapshot.
  if (auto ok = db.Exec("BEGIN"); !ok) return std::unexpected(ok.error());
  auto read = [&]() -> Result<AmountHistory> {
    AmountHistory out;
    auto since = db.Prepare("SELECT since_day FROM amount_history");
    if (!since) return std::unexpected(since.error());
    auto row = since->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) {
      return std::unexpected(Error{ErrorCode::kInternal,
                                   "the database has no amount_history row (its schema v12 "
                                   "migration did not record its day)",
                                   "storage.path"});
    }
    out.since_day = since->Text(0);
    since->Reset();
    // In id order, a user's steps come oldest first: a step with prev = 0 is a user's first,
    // any other follows the step `prev`, read before it. Grouping along that chain needs no
    // look-up by user id (a hash map of 100,000 users took most of the read).
    auto steps = db.Prepare(
        "SELECT id, prev, day, premium_cents, revenue_cents, bucket, has_covariates, "
        "premium_before_cents, products_held, user_id FROM user_amounts WHERE experiment = ?1 "
        "ORDER BY id");
    if (!steps) return std::unexpected(steps.error());
    steps->Bind(1, experiment);
    std::vector<std::pair<std::int64_t, std::size_t>> user_of;  // (step id, user), ascending
    std::optional<Error> broken;
    auto ok = ForEachRow(*steps, [&](const SqliteStatement& r) {
      if (broken) return;
      const std::int64_t id = r.Int(0), prev = r.Int(1);
      std::size_t user = out.users.size();
      if (prev == 0) {
        out.users.emplace_back().user_id = r.Text(9);
      } else {
        const auto it = std::lower_bound(user_of.begin(), user_of.end(), std::pair{prev, 0UZ});
        if (it == user_of.end() || it->first != prev) {
          broken = Error{ErrorCode::kInternal,
                         fmt::format("user_amounts of {}: step {} follows step {}, which is not "
                                     "there",
                                     experiment, id, prev),
                         "storage.path"};
          return;
        }
        user = it->second;
      }
      user_of.emplace_back(id, user);
      UserAmounts& u = out.users[user];
      // The latest step comes last and says the user's bucket and covariates.
      u.bucket = r.Text(5);
      u.has_covariates = r.Int(6) != 0;
      u.premium_before_cents = r.Int(7);
      u.products_held = r.Int(8);
      UserAmountStep step{r.Text(2), r.Int(3), r.Int(4)};
      // Steps come in day order unless the store's clock went back: then keep the days
      // ascending, the later step winning a day.
      auto at = std::upper_bound(
          u.steps.begin(), u.steps.end(), step.day,
          [](const std::string& day, const UserAmountStep& s) { return day < s.day; });
      if (at != u.steps.begin() && std::prev(at)->day == step.day) {
        *std::prev(at) = std::move(step);
      } else {
        u.steps.insert(at, std::move(step));
      }
    });
    if (ok && broken) ok = std::unexpected(*broken);
    if (!ok) return std::unexpected(ok.error());
    return out;
  };
  auto out = read();
  (void)db.Exec("COMMIT");
  return out;
}

}  // namespace abrec
