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

}  // namespace abrec
