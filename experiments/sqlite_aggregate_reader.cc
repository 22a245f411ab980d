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
  for (;;) {
    auto more = stmt->Step();
    if (!more) return std::unexpected(more.error());
    if (!*more) break;
    BucketTotals& t = out[stmt->Text(0)];
    int i = 1;
    for (Int128* f : t.Fields()) *f = stmt->Int128At(i++);
  }
  return out;
}

Result<std::vector<DailyTotals>> ReadDailyTotals(SqliteDb& db, const std::string& experiment) {
  auto stmt = db.Prepare(
      fmt::format("SELECT day, bucket, {} FROM bucket_daily WHERE experiment = ?1 ORDER BY day",
                  BucketSumColumns()));
  if (!stmt) return std::unexpected(stmt.error());
  stmt->Bind(1, experiment);
  std::vector<DailyTotals> out;
  for (;;) {
    auto more = stmt->Step();
    if (!more) return std::unexpected(more.error());
    if (!*more) break;
    std::string day = stmt->Text(0);
    if (out.empty() || out.back().day != day) {
      // A new day starts from the previous day's totals: quiet buckets carry forward.
      DailyTotals next{std::move(day), out.empty() ? BucketTotalsMap{} : out.back().buckets};
      out.push_back(std::move(next));
    }
    BucketTotals& t = out.back().buckets[stmt->Text(1)];
    int i = 2;
    for (Int128* f : t.Fields()) *f = stmt->Int128At(i++);
  }
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
  for (;;) {
    auto more = stmt->Step();
    if (!more) return std::unexpected(more.error());
    if (!*more) break;
    out[stmt->Text(0)].Add(static_cast<int>(stmt->Int(1)), stmt->Int(2), stmt->Int(3));
  }
  return out;
}

Result<ExposureCounters> ReadExposureCounters(SqliteDb& db, const std::string& experiment) {
  auto stmt =
      db.Prepare("SELECT bucket, day, name, count FROM exposure_counters WHERE experiment = ?1");
  if (!stmt) return std::unexpected(stmt.error());
  stmt->Bind(1, experiment);
  ExposureCounters out;
  for (;;) {
    auto more = stmt->Step();
    if (!more) return std::unexpected(more.error());
    if (!*more) break;
    out[stmt->Text(0)][stmt->Text(1)][stmt->Text(2)] = stmt->Int(3);
  }
  return out;
}

}  // namespace abrec
