// SqliteEventWriter's open: the connection's settings, the schema migrated, the statements
// prepared, and the in-memory indexes loaded from the tables (with the one-time pricing of
// binds stored before schema v9).
#include <algorithm>

#include <fmt/format.h>

#include "base/log.h"
#include "eventstore/sqlite/sqlite_event_writer.h"
#include "eventstore/sqlite/sqlite_row_codec.h"
#include "eventstore/sqlite/sqlite_schema.h"

namespace abrec {

Result<std::unique_ptr<SqliteEventWriter>> SqliteEventWriter::Open(const EventStoreOptions& o,
                                                                   const Clock& clock) {
  auto db = SqliteDb::Open(o.path);
  if (!db) return std::unexpected(db.error());
  std::unique_ptr<SqliteEventWriter> w(new SqliteEventWriter(std::move(*db), o, clock));
  for (const auto& sql :
       {std::string("PRAGMA journal_mode=WAL"), "PRAGMA synchronous=" + o.synchronous,
        std::string("PRAGMA foreign_keys=ON"),
        // 64 MiB of page cache: the hot pages (the tables' last pages, user_totals) stay
        // resident.
        std::string("PRAGMA cache_size=-65536"),
        // No checkpoint on the commit path: SqliteEventStore's checkpointer thread runs them.
        // A WAL file left larger than the limit by a burst is truncated when it restarts.
        std::string("PRAGMA wal_autocheckpoint=0"),
        fmt::format("PRAGMA journal_size_limit={}", o.wal_limit_bytes)}) {
    if (auto ok = w->db_->Exec(sql); !ok) return std::unexpected(ok.error());
  }
  auto version_before = MigrateSchema(*w->db_, DayName(DayNumber(clock.NowMicros())));
  if (!version_before) return std::unexpected(version_before.error());
  if (o.max_size_bytes > 0) {
    auto page = w->db_->Prepare("PRAGMA page_size");
    if (!page) return std::unexpected(page.error());
    (void)page->Step();
    const std::int64_t pages = std::max<std::int64_t>(1, o.max_size_bytes / page->Int(0));
    if (auto ok = w->db_->Exec(fmt::format("PRAGMA max_page_count = {}", pages)); !ok) {
      return std::unexpected(ok.error());
    }
  }
  if (auto ok = w->PrepareAll(); !ok) return std::unexpected(ok.error());
  if (auto ok = w->Load(); !ok) return std::unexpected(ok.error());
  constexpr std::size_t kRevenueSchema = 9;
  if (*version_before > 0 && *version_before < kRevenueSchema) {
    if (auto ok = w->PriceOldBinds(); !ok) return std::unexpected(ok.error());
  }
  return w;
}

Result<void> SqliteEventWriter::PrepareAll() {
  const std::string sums = BucketSumColumns();
  struct {
    SqliteStatement* stmt;
    std::string sql;
  } all[] = {
      {&insert_,
       "INSERT INTO events (seq, event_id, type, user_id, ts_us, request_id, product_id, "
       "position, premium_cents, experiment, bucket, variant, counterfactual_variant, policy, "
       "model_version, n_items, items, features, payload_hash, ingested_us, revenue_cents, "
       "source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
       "?17, ?18, ?19, ?20, ?21, ?22)"},
      {&id_of_, "SELECT event_id, payload_hash FROM events WHERE seq = ?1"},
      {&stored_event_,
       "SELECT seq, type, ts_us, experiment, bucket, n_items, premium_cents, revenue_cents FROM "
       "events WHERE seq = ?1"},
      {&delete_event_, "DELETE FROM events WHERE seq = ?1 RETURNING event_id"},
      {&delete_user_row_, "DELETE FROM user_totals WHERE id = ?1"},
      {&delete_user_covariates_, "DELETE FROM user_covariates WHERE user_id = ?1"},
      {&upsert_covariates_,
       "INSERT OR REPLACE INTO user_covariates (user_id, premium_before_cents, products_held) "
       "VALUES (?1, ?2, ?3)"},
      {&upsert_user_,
       "INSERT OR REPLACE INTO user_totals (id, experiment, user_id, bucket, first_ts_us, "
       "first_seq, exposures, impressions, clicks, binds, premium_cents, has_covariates, "
       "premium_before_cents, products_held, revenue_cents, unpriced_binds) VALUES "
       "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"},
      {&upsert_bucket_,
       fmt::format("INSERT OR REPLACE INTO bucket_totals (experiment, bucket, {}) VALUES "
                   "(?1, ?2, {})",
                   sums, SumPlaceholders(3))},
      {&upsert_daily_,
       fmt::format("INSERT OR REPLACE INTO bucket_daily (experiment, bucket, day, {}) VALUES "
                   "(?1, ?2, ?3, {})",
                   sums, SumPlaceholders(4))},
      {&upsert_latency_,
       "INSERT INTO exposure_latency (experiment, bucket, day, bin, exposures, fallbacks) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (experiment, bucket, day, bin) DO UPDATE SET "
       "exposures = exposures + excluded.exposures, fallbacks = fallbacks + excluded.fallbacks"},
      {&upsert_counter_,
       "INSERT INTO exposure_counters (experiment, bucket, day, name, count) VALUES (?1, ?2, ?3, "
       "?4, ?5) ON CONFLICT (experiment, bucket, day, name) DO UPDATE SET count = count + "
       "excluded.count"},
      {&take_counter_,
       "UPDATE exposure_counters SET count = MAX(0, count - ?5) WHERE experiment = ?1 AND bucket "
       "= ?2 AND day = ?3 AND name = ?4"},
      {&delete_zero_counter_,
       "DELETE FROM exposure_counters WHERE experiment = ?1 AND bucket = ?2 AND day = ?3 AND "
       "name = ?4 AND count = 0"},
      {&upsert_amount_,
       "INSERT INTO user_amounts (experiment, id, user_id, day, premium_cents, revenue_cents, "
       "bucket, has_covariates, premium_before_cents, products_held, prev) VALUES (?1, ?2, ?3, "
       "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (experiment, id) DO UPDATE SET "
       "premium_cents = excluded.premium_cents, revenue_cents = excluded.revenue_cents, bucket = "
       "excluded.bucket, has_covariates = excluded.has_covariates, premium_before_cents = "
       "excluded.premium_before_cents, products_held = excluded.products_held"},
      {&delete_amount_step_,
       "DELETE FROM user_amounts WHERE experiment = ?1 AND id = ?2 RETURNING prev"},
      {&purge_select_,
       "SELECT seq, event_id, user_id FROM events WHERE ts_us < ?1 ORDER BY ts_us LIMIT 10000"},
  };
  for (auto& [stmt, sql] : all) {
    auto s = db_->Prepare(sql);
    if (!s) return std::unexpected(s.error());
    *stmt = std::move(*s);
  }
  auto off_policy = OffPolicyLog::Open(*db_);
  if (!off_policy) return std::unexpected(off_policy.error());
  off_policy_.emplace(std::move(*off_policy));
  auto distinct = DistinctUserCounters::Open(*db_);
  if (!distinct) return std::unexpected(distinct.error());
  distinct_.emplace(std::move(*distinct));
  return {};
}

Result<void> SqliteEventWriter::Load() {
  auto events = db_->Prepare("SELECT seq, event_id, user_id, type, ts_us FROM events ORDER BY seq");
  if (!events) return std::unexpected(events.error());
  auto ok = ForEachRow(*events, [&](const SqliteStatement& r) {
    const std::int64_t seq = r.Int(0);
    ids_.Insert(EventIdIndex::KeyOf(r.Text(1)), seq);
    state_.LoadEvent(r.Text(2), seq, static_cast<EventType>(r.Int(3)), r.Int(4));
    next_seq_ = seq + 1;
  });
  if (!ok) return ok;
  auto rows = db_->Prepare(
      "SELECT user_id, experiment, bucket, first_ts_us, first_seq, exposures, impressions, "
      "clicks, binds, premium_cents, has_covariates, premium_before_cents, products_held, id, "
      "revenue_cents, unpriced_binds FROM user_totals");
  if (!rows) return std::unexpected(rows.error());
  ok = ForEachRow(*rows, [&](const SqliteStatement& r) {
    const UserTotals totals{.exposures = r.Int(5),
                            .impressions = r.Int(6),
                            .clicks = r.Int(7),
                            .binds = r.Int(8),
                            .premium_cents = r.Int(9),
                            .revenue_cents = r.Int(14),
                            .unpriced_binds = r.Int(15),
                            .has_covariates = r.Int(10) != 0,
                            .premium_before_cents = r.Int(11),
                            .products_held = r.Int(12)};
    state_.LoadRow(
        r.Text(0),
        ExperimentRow{r.Text(1), UserRow{r.Text(2), r.Int(3), r.Int(4), totals}, r.Int(13)});
  });
  if (!ok) return ok;
  // The latest step of each row's amount history. Only whether it is today's matters to the
  // writer (a later change today updates it; on another day a new step is added).
  auto steps = db_->Prepare("SELECT experiment, id, user_id, day FROM user_amounts");
  if (!steps) return std::unexpected(steps.error());
  const std::int64_t now = clock_.NowMicros();
  const std::string today = DayName(DayNumber(now));
  ok = ForEachRow(*steps, [&](const SqliteStatement& r) {
    const std::int64_t id = r.Int(1);
    state_.LoadAmountStep(r.Text(2), r.Text(0), id,
                          r.Text(3) == today ? DayNumber(now) : INT64_MIN);
    next_amount_id_ = std::max(next_amount_id_, id + 1);
  });
  if (!ok) return ok;
  auto names = db_->Prepare("SELECT DISTINCT experiment, name FROM exposure_counters");
  if (!names) return std::unexpected(names.error());
  ok = ForEachRow(*names,
                  [&](const SqliteStatement& r) { counter_names_[r.Text(0)].insert(r.Text(1)); });
  if (!ok) return ok;
  auto covariates =
      db_->Prepare("SELECT user_id, premium_before_cents, products_held FROM user_covariates");
  if (!covariates) return std::unexpected(covariates.error());
  ok = ForEachRow(*covariates, [&](const SqliteStatement& r) {
    state_.LoadCovariates(Covariates{r.Text(0), r.Int(1), r.Int(2)});
  });
  if (!ok) return ok;
  auto buckets = db_->Prepare(
      fmt::format("SELECT experiment, bucket, {} FROM bucket_totals", BucketSumColumns()));
  if (!buckets) return std::unexpected(buckets.error());
  ok = ForEachRow(*buckets, [&](const SqliteStatement& r) {
    BucketTotals t;
    ReadBucketSums(r, 2, t);
    state_.LoadBucket(r.Text(0), r.Text(1), t);
  });
  if (!ok) return ok;
  const auto replaced = state_.ReconcileBuckets();
  if (replaced.empty()) return {};
  // Stored sums that are not the sums of the stored rows: rewrite them.
  if (auto begun = db_->Exec("BEGIN IMMEDIATE"); !begun) return begun;
  for (const auto& [exp, bucket] : replaced) {
    LogWarning(
        "storage: bucket_totals of {}/{} were not the sum of its user_totals rows (an older "
        "schema's 64-bit overflow?); rewritten from the rows",
        exp, bucket);
    upsert_bucket_.Bind(1, exp).Bind(2, bucket);
    if (ok = RunWithSums(upsert_bucket_, 3, *state_.Bucket(exp, bucket)); !ok) {
      (void)db_->Exec("ROLLBACK");
      return ok;
    }
  }
  return db_->Exec("COMMIT");
}

Result<void> SqliteEventWriter::PriceOldBinds() {
  if (auto ok = db_->Exec("BEGIN IMMEDIATE"); !ok) return ok;
  state_.Begin();
  StartDay();
  auto fail = [this](Error e) -> Result<void> {
    (void)db_->Exec("ROLLBACK");
    state_.Rollback();
    return std::unexpected(std::move(e));
  };
  auto binds = db_->Prepare(
      "SELECT seq, user_id, ts_us, product_id, premium_cents FROM events WHERE type = 2 AND "
      "revenue_cents IS NULL ORDER BY seq");
  auto price = db_->Prepare("UPDATE events SET revenue_cents = ?2 WHERE seq = ?1");
  if (!binds) return fail(binds.error());
  if (!price) return fail(price.error());
  std::vector<std::pair<std::int64_t, std::int64_t>> revenue_of;  // (seq, revenue), then written
  std::int64_t unpriced = 0;
  auto ok = ForEachRow(*binds, [&](const SqliteStatement& r) {
    const auto revenue = RevenueOf(r.Text(3), r.Int(4));
    state_.AddBindRevenue(r.Text(1), r.Int(2), revenue);
    if (revenue) {
      revenue_of.emplace_back(r.Int(0), *revenue);
    } else {
      ++unpriced;
    }
  });
  if (!ok) return fail(ok.error());
  for (const auto& [seq, revenue] : revenue_of) {
    if (ok = price->Bind(1, seq).Bind(2, revenue).Run(); !ok) return fail(ok.error());
  }
  const auto priced = static_cast<std::int64_t>(revenue_of.size());
  if (ok = WriteChanges(); !ok) return fail(ok.error());
  if (ok = db_->Exec("COMMIT"); !ok) return fail(ok.error());
  state_.Commit();
  if (priced + unpriced == 0) return {};
  LogWarning(
      "storage: {} binds stored before schema v9 now carry revenue from the catalog's margins, "
      "{} more are unpriced (their product is not in the catalog); binds already purged and "
      "the daily snapshots of earlier days carry no revenue",
      priced, unpriced);
  return {};
}

}  // namespace abrec
