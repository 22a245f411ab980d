#include "experiments/sqlite_aggregate_reader.h"

#include <fmt/format.h>

#include "experiments/sqlite_schema.h"

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

}  // namespace abrec
