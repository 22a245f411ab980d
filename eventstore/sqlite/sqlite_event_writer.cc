#include "eventstore/sqlite/sqlite_event_writer.h"

#include <algorithm>
#include <ctime>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "eventstore/counter_keys.h"
#include "eventstore/latency_histogram.h"
#include "eventstore/sqlite/sqlite_schema.h"

namespace abrec {
namespace {

// "?3, ?4, ...": one placeholder per bucket sum, numbered from `first`.
std::string SumPlaceholders(int first) {
  std::string out;
  for (std::size_t i = 0; i < BucketTotals::kFieldCount; ++i) {
    out += fmt::format("{}?{}", out.empty() ? "" : ", ", first + static_cast<int>(i));
  }
  return out;
}

constexpr std::int64_t kDayUs = 86'400'000'000;

// "YYYY-MM-DD" of a day counted from 1970-01-01 (UTC).
std::string DayName(std::int32_t day) {
  const auto t = static_cast<std::time_t>(static_cast<std::int64_t>(day) * 86'400);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

std::int32_t DayNumber(std::int64_t micros) {
  return static_cast<std::int32_t>(micros >= 0 ? micros / kDayUs : (micros + 1) / kDayUs - 1);
}

// Whether a row's amount history needs a step written at this commit: the user has an amount
// or a stored step, and their amounts, bucket or covariates (what a step records) differ from
// the start of the transaction.
bool StepChanged(const ExperimentRow& r, const ExperimentRow* before) {
  const UserTotals& t = r.row.totals;
  if (r.amounts_id == 0 && t.premium_cents == 0 && t.revenue_cents == 0) return false;
  if (before == nullptr) return true;
  const UserTotals& b = before->row.totals;
  return t.premium_cents != b.premium_cents || t.revenue_cents != b.revenue_cents ||
         r.row.bucket != before->row.bucket || t.has_covariates != b.has_covariates ||
         t.premium_before_cents != b.premium_before_cents || t.products_held != b.products_held;
}

std::string ItemsJson(const std::vector<ExposedItem>& items) {
  if (items.empty()) return "[]";  // assignments log exposures without items
  nlohmann::json out = nlohmann::json::array();
  for (const auto& item : items) {
    nlohmann::json j{{"product_id", item.product_id},
                     {"position", item.position},
                     {"propensity", item.propensity}};
    if (!item.in_lists.empty()) j["in_lists"] = item.in_lists;
    out.push_back(std::move(j));
  }
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The columns EventFromRow reads, in its order.
constexpr std::string_view kEventColumns =
    "seq, event_id, type, user_id, ts_us, request_id, product_id, position, premium_cents, "
    "experiment, bucket, variant, counterfactual_variant, policy, model_version, items, features, "
    "source";

Event EventFromRow(const SqliteStatement& row) {
  Event e;
  e.event_id = row.Text(1);
  e.type = static_cast<EventType>(row.Int(2));
  e.user_id = row.Text(3);
  e.ts_us = row.Int(4);
  e.request_id = row.Text(5);
  e.product_id = row.Text(6);
  if (!row.IsNull(7)) e.position = static_cast<int>(row.Int(7));
  e.premium_cents = row.Int(8);
  e.experiment = row.Text(9);
  e.bucket = row.Text(10);
  e.variant = row.Text(11);
  e.counterfactual_variant = row.Text(12);
  e.policy = row.Text(13);
  e.model_version = row.Text(14);
  const std::string items = row.Text(15);
  if (!items.empty()) {
    const auto j = nlohmann::json::parse(items, nullptr, /*allow_exceptions=*/false);
    for (const auto& it : j.is_array() ? j : nlohmann::json::array()) {
      ExposedItem item{it.value("product_id", ""), it.value("position", 0),
                       it.value("propensity", 1.0)};
      if (const auto l = it.find("in_lists"); l != it.end() && l->is_array()) {
        for (const auto& name : *l) {
          if (name.is_string()) item.in_lists.push_back(name.get<std::string>());
        }
      }
      e.items.push_back(std::move(item));
    }
  }
  e.features_json = row.Text(16);
  if (!row.IsNull(17)) e.source = row.Text(17);
  return e;
}

// Returns the schema version the database had before. `today`: the UTC day the dated steps
// of a migration record.
Result<std::size_t> Migrate(SqliteDb& db, const std::string& today) {
  auto version_stmt = db.Prepare("PRAGMA user_version");
  if (!version_stmt) return std::unexpected(version_stmt.error());
  auto row = version_stmt->Step();
  if (!row) return std::unexpected(row.error());
  const auto version = static_cast<std::size_t>(version_stmt->Int(0));
  version_stmt->Reset();
  const auto migrations = SqliteMigrations();
  if (version > migrations.size()) {
    return std::unexpected(Error{ErrorCode::kFailedPrecondition,
                                 fmt::format("the database has schema version {}, newer than "
                                             "this abrec's {}: upgrade abrec",
                                             version, migrations.size()),
                                 "storage.path"});
  }
  for (std::size_t v = version; v < migrations.size(); ++v) {
    auto ok = db.Exec("BEGIN IMMEDIATE;" + std::string(migrations[v]));
    for (const std::string_view dated : SqliteDatedMigrationSteps(v + 1)) {
      if (!ok) break;
      auto stmt = db.Prepare(dated);
      ok = stmt ? stmt->Bind(1, today).Run() : Result<void>(std::unexpected(stmt.error()));
    }
    if (ok) ok = db.Exec(fmt::format("PRAGMA user_version = {};COMMIT;", v + 1));
    if (!ok) {
      (void)db.Exec("ROLLBACK");
      return std::unexpected(ok.error());
    }
    LogInfo("storage: migrated the schema to version {}", v + 1);
  }
  return version;
}

// Binds a bucket's sums from parameter `first` on, in Fields() order, and runs `stmt`.
Result<void> RunWithSums(SqliteStatement& stmt, int first, const BucketTotals& totals) {
  for (const Int128* f : totals.Fields()) stmt.BindInt128(first++, *f);
  return stmt.Run();
}

}  // namespace

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
  auto version_before = Migrate(*w->db_, DayName(DayNumber(clock.NowMicros())));
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

std::optional<std::int64_t> SqliteEventWriter::RevenueOf(std::string_view product_id,
                                                         std::int64_t premium_cents) const {
  const auto it = margins_.find(product_id);
  if (it == margins_.end()) return std::nullopt;
  return std::llround(static_cast<double>(premium_cents) * it->second);
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

Result<std::vector<WriteResult>> SqliteEventWriter::Commit(std::span<const WriteOp> ops) {
  if (auto ok = db_->Exec("BEGIN IMMEDIATE"); !ok) {
    last_failure_code_ = db_->LastErrorCode();
    return std::unexpected(ok.error());
  }
  state_.Begin();
  distinct_->Begin();
  StartDay();
  ids_added_.clear();
  ids_removed_.clear();
  latency_.clear();
  counters_.clear();
  counter_names_added_.clear();
  const std::int64_t seq_at_begin = next_seq_;
  std::vector<WriteResult> out;
  out.reserve(ops.size());
  for (const WriteOp& op : ops) {
    if (op.events) {
      WriteResult r;
      r.outcomes.reserve(op.events->size());
      for (const Event& e : *op.events) {
        auto outcome = Write(e);
        if (!outcome) {
          next_seq_ = seq_at_begin;
          return Abort(outcome.error());
        }
        r.outcomes.push_back(*outcome);
      }
      out.push_back(std::move(r));
      continue;
    }
    auto n = op.erase_user ? Erase(*op.erase_user) : SetCovariates(*op.covariates);
    if (!n) {
      next_seq_ = seq_at_begin;
      return Abort(n.error());
    }
    out.push_back(WriteResult{{}, *n});
  }
  auto ok = WriteChanges();
  if (ok) ok = db_->Exec("COMMIT");
  if (!ok) {
    next_seq_ = seq_at_begin;
    return Abort(ok.error());
  }
  state_.Commit();
  distinct_->Commit();
  return out;
}

void SqliteEventWriter::StartDay() {
  today_number_ = DayNumber(clock_.NowMicros());
  today_ = DayName(today_number_);
}

Result<std::vector<WriteResult>> SqliteEventWriter::Abort(Error e) {
  last_failure_code_ = db_->LastErrorCode();
  (void)db_->Exec("ROLLBACK");
  state_.Rollback();
  distinct_->Rollback();
  for (const auto& [exp, name] : counter_names_added_) counter_names_[exp].erase(name);
  // Removed entries first: an event added and then erased in this transaction is in both
  // lists, and must end up absent.
  for (const auto& [key, seq] : ids_removed_) ids_.Insert(key, seq);
  for (const auto& [key, seq] : ids_added_) ids_.Erase(key, seq);
  return std::unexpected(std::move(e));
}

Result<EventOutcome> SqliteEventWriter::Write(const Event& e) {
  if (retention_us_ > 0 && e.ts_us < clock_.NowMicros() - retention_us_) {
    return EventOutcome::kExpired;
  }
  const std::uint64_t key = EventIdIndex::KeyOf(e.event_id);
  std::optional<EventOutcome> seen;
  std::optional<Error> failed;
  ids_.FindIf(key, [&](std::int64_t seq) {
    id_of_.Bind(1, seq);
    auto row = id_of_.Step();
    if (!row) {
      failed = row.error();
      return true;
    }
    if (*row && id_of_.Text(0) == e.event_id) {
      seen = id_of_.Text(1) == e.payload_hash ? EventOutcome::kDuplicate : EventOutcome::kConflict;
    }
    id_of_.Reset();
    return seen.has_value();
  });
  if (failed) return std::unexpected(*failed);
  if (seen) return *seen;

  const std::int64_t seq = next_seq_++;
  // The event's strings outlive the step: bound without copies.
  insert_.Bind(1, seq).BindStatic(2, e.event_id).Bind(3, static_cast<std::int64_t>(e.type));
  insert_.BindStatic(4, e.user_id).Bind(5, e.ts_us).BindStatic(6, e.request_id);
  insert_.BindStatic(7, e.product_id);
  if (e.position) {
    insert_.Bind(8, static_cast<std::int64_t>(*e.position));
  } else {
    insert_.BindNull(8);
  }
  insert_.Bind(9, e.premium_cents);
  std::string items;
  if (e.type == EventType::kExposure) {
    items = ItemsJson(e.items);
    insert_.BindStatic(10, e.experiment).BindStatic(11, e.bucket).BindStatic(12, e.variant);
    insert_.BindStatic(13, e.counterfactual_variant).BindStatic(14, e.policy);
    insert_.BindStatic(15, e.model_version);
    insert_.Bind(16, static_cast<std::int64_t>(e.items.size())).BindStatic(17, items);
    insert_.BindStatic(18, e.features_json);
    if (e.source.empty()) {
      insert_.BindNull(22);
    } else {
      insert_.BindStatic(22, e.source);
    }
  } else {
    for (int i = 10; i <= 15; ++i) insert_.BindNull(i);
    insert_.Bind(16, std::int64_t{0}).BindNull(17).BindNull(18).BindNull(22);
  }
  insert_.BindStatic(19, e.payload_hash).Bind(20, clock_.NowMicros());
  std::optional<std::int64_t> revenue;
  if (e.type == EventType::kBind) revenue = RevenueOf(e.product_id, e.premium_cents);
  if (revenue) {
    insert_.Bind(21, *revenue);
  } else {
    insert_.BindNull(21);
  }
  if (auto ok = insert_.Run(); !ok) return std::unexpected(ok.error());
  ids_.Insert(key, seq);
  ids_added_.emplace_back(key, seq);
  if (auto ok = e.type == EventType::kExposure ? off_policy_->OnExposure(e)
                                               : off_policy_->OnOutcome(e, window_us_);
      !ok) {
    return std::unexpected(ok.error());
  }
  auto ok = state_.Add(
      e, seq, [this](std::span<const std::int64_t> seqs) { return ReadEvents(seqs); }, revenue);
  if (!ok) return std::unexpected(ok.error());
  if (e.type == EventType::kExposure && e.latency_us >= 0) {
    auto& cell = latency_[{e.experiment, e.bucket, LatencyHistogram::BinOf(e.latency_us)}];
    ++cell.first;
    cell.second += e.fallback ? 1 : 0;
  }
  if (e.type == EventType::kExposure) {
    for (const ExposedItem& item : e.items) {
      std::string name = counter_keys::Product(item.product_id);
      if (AdmitCounter(e.experiment, name)) ++counters_[{e.experiment, e.bucket, today_, name}];
    }
    Event trimmed;
    const Event& c = CountableExposure(e, trimmed);
    for (const std::string& name : c.counters) {
      if (!DistinctUserCounters::Distinct(name))
        ++counters_[{e.experiment, e.bucket, today_, name}];
    }
    first_counted_.clear();
    if (auto counted = distinct_->CountExposure(c, today_number_, first_counted_); !counted) {
      return std::unexpected(counted.error());
    }
    for (const std::string* name : first_counted_) {
      ++counters_[{e.experiment, e.bucket, today_, *name}];
    }
  }
  return EventOutcome::kAccepted;
}

bool SqliteEventWriter::AdmitCounter(const std::string& experiment, const std::string& name) {
  auto& names = counter_names_[experiment];
  if (names.contains(name)) return true;
  if (names.size() >= max_counters_) {
    if (counter_cap_warned_.insert(experiment).second) {
      LogWarning(
          "storage: experiment {} has {} exposure counter names, the most allowed "
          "(max_counters_per_experiment); new names are not counted",
          experiment, names.size());
    }
    return false;
  }
  names.insert(name);
  counter_names_added_.emplace_back(experiment, name);
  return true;
}

const Event& SqliteEventWriter::CountableExposure(const Event& e, Event& trimmed) {
  bool all = true;
  for (const std::string& name : e.counters) all = AdmitCounter(e.experiment, name) && all;
  if (all) return e;
  trimmed = e;
  std::erase_if(trimmed.counters, [&](const std::string& name) {
    return !counter_names_[e.experiment].contains(name);
  });
  return trimmed;
}

Result<std::vector<StoredEvent>> SqliteEventWriter::ReadEvents(std::span<const std::int64_t> seqs) {
  std::vector<StoredEvent> out;
  out.reserve(seqs.size());
  for (const std::int64_t seq : seqs) {
    stored_event_.Bind(1, seq);
    auto ok = ForEachRow(stored_event_, [&](const SqliteStatement& r) {
      out.push_back(StoredEvent{r.Int(0), static_cast<EventType>(r.Int(1)), r.Int(2), r.Text(3),
                                r.Text(4), r.Int(5), r.Int(6),
                                r.IsNull(7) ? std::nullopt : std::optional(r.Int(7))});
    });
    if (!ok) return std::unexpected(ok.error());
  }
  return out;
}

Result<std::int64_t> SqliteEventWriter::Erase(const std::string& user) {
  std::int64_t removed = 0;
  if (auto ok = off_policy_->EraseUser(user); !ok) return std::unexpected(ok.error());
  auto uncounts = distinct_->EraseUser(user);
  if (!uncounts) return std::unexpected(uncounts.error());
  for (const auto& u : *uncounts) --counters_[{u.experiment, u.bucket, DayName(u.day), u.name}];
  const AggregateState::Erased erased = state_.EraseUser(user);
  for (const std::int64_t id : erased.row_ids) {
    if (auto ok = delete_user_row_.Bind(1, id).Run(); !ok) return std::unexpected(ok.error());
  }
  for (const auto& [experiment, latest] : erased.amount_steps) {
    // The user's steps in this experiment, newest to oldest along `prev`.
    for (std::int64_t id = latest; id != 0;) {
      std::int64_t prev = 0;
      delete_amount_step_.Bind(1, experiment).Bind(2, id);
      auto ok = ForEachRow(delete_amount_step_, [&](const SqliteStatement& r) { prev = r.Int(0); });
      if (!ok) return std::unexpected(ok.error());
      id = prev;
    }
  }
  for (const std::int64_t seq : erased.seqs) {
    delete_event_.Bind(1, seq);
    auto ok = ForEachRow(delete_event_, [&](const SqliteStatement& r) {
      const std::uint64_t key = EventIdIndex::KeyOf(r.Text(0));
      ids_.Erase(key, seq);
      ids_removed_.emplace_back(key, seq);
      ++removed;
    });
    if (!ok) return std::unexpected(ok.error());
  }
  if (auto ok = delete_user_covariates_.Bind(1, user).Run(); !ok) {
    return std::unexpected(ok.error());
  }
  return removed;
}

Result<std::int64_t> SqliteEventWriter::SetCovariates(const std::vector<Covariates>& list) {
  for (const Covariates& c : list) {
    auto ok = upsert_covariates_.Bind(1, c.user_id)
                  .Bind(2, c.premium_before_cents)
                  .Bind(3, c.products_held)
                  .Run();
    if (!ok) return std::unexpected(ok.error());
    state_.SetCovariates(c);
  }
  return static_cast<std::int64_t>(list.size());
}

Result<void> SqliteEventWriter::WriteAmountStep(const std::string& user, ExperimentRow& r,
                                                const std::string& day, std::int64_t day_number) {
  // Today's step is updated in place; on another day a new step is chained to the latest.
  const bool today = r.amounts_id != 0 && r.amounts_day == day_number;
  const std::int64_t id = today ? r.amounts_id : next_amount_id_;
  const UserTotals& t = r.row.totals;
  auto ok = upsert_amount_.Bind(1, r.experiment)
                .Bind(2, id)
                .Bind(3, user)
                .Bind(4, day)
                .Bind(5, t.premium_cents)
                .Bind(6, t.revenue_cents)
                .Bind(7, r.row.bucket)
                .Bind(8, std::int64_t{t.has_covariates ? 1 : 0})
                .Bind(9, t.premium_before_cents)
                .Bind(10, t.products_held)
                .Bind(11, r.amounts_id)
                .Run();
  if (!ok || today) return ok;
  // An id of a transaction that rolls back is not reused: ids only need to be unique and to
  // increase.
  ++next_amount_id_;
  r.amounts_id = id;
  r.amounts_day = day_number;
  return {};
}

Result<void> SqliteEventWriter::WriteChanges() {
  Result<void> status;
  // Today (StartDay): the day of the amount steps, the bucket snapshots and the counters.
  const std::string& day = today_;
  const std::int64_t day_number = today_number_;
  state_.ForEachChangedRow(
      [&](const std::string& user, ExperimentRow& r, const ExperimentRow* before) {
        if (!status) return;
        const UserTotals& t = r.row.totals;
        if (r.row_id == 0) {
          upsert_user_.BindNull(1);  // a new row: appended, its rowid kept in memory
        } else {
          upsert_user_.Bind(1, r.row_id);
        }
        status = upsert_user_.Bind(2, r.experiment)
                     .Bind(3, user)
                     .Bind(4, r.row.bucket)
                     .Bind(5, r.row.first_ts)
                     .Bind(6, r.row.first_seq)
                     .Bind(7, t.exposures)
                     .Bind(8, t.impressions)
                     .Bind(9, t.clicks)
                     .Bind(10, t.binds)
                     .Bind(11, t.premium_cents)
                     .Bind(12, std::int64_t{t.has_covariates ? 1 : 0})
                     .Bind(13, t.premium_before_cents)
                     .Bind(14, t.products_held)
                     .Bind(15, t.revenue_cents)
                     .Bind(16, t.unpriced_binds)
                     .Run();
        if (status && r.row_id == 0) r.row_id = db_->LastInsertRowid();
        if (status && StepChanged(r, before)) status = WriteAmountStep(user, r, day, day_number);
      });
  if (status) status = distinct_->WriteChanges();
  // Each changed bucket's totals, and the same figures as today's snapshot: at the end of
  // a UTC day its row holds that day's closing totals.
  state_.ForEachChangedBucket(
      [&](const std::string& exp, const std::string& bucket, const BucketTotals& totals) {
        if (!status) return;
        upsert_bucket_.Bind(1, exp).Bind(2, bucket);
        status = RunWithSums(upsert_bucket_, 3, totals);
        if (!status) return;
        upsert_daily_.Bind(1, exp).Bind(2, bucket).Bind(3, day);
        status = RunWithSums(upsert_daily_, 4, totals);
      });
  for (const auto& [key, n] : latency_) {
    if (!status) break;
    const auto& [exp, bucket, bin] = key;
    status = upsert_latency_.Bind(1, exp)
                 .Bind(2, bucket)
                 .Bind(3, day)
                 .Bind(4, static_cast<std::int64_t>(bin))
                 .Bind(5, n.first)
                 .Bind(6, n.second)
                 .Run();
  }
  for (const auto& [key, n] : counters_) {
    if (!status) break;
    if (n == 0) continue;
    const auto& [exp, bucket, counter_day, name] = key;
    SqliteStatement& add = n > 0 ? upsert_counter_ : take_counter_;
    status = add.BindStatic(1, exp)
                 .BindStatic(2, bucket)
                 .BindStatic(3, counter_day)
                 .BindStatic(4, name)
                 .Bind(5, n > 0 ? n : -n)
                 .Run();
    if (status && n < 0) {
      // Erased users' counts: a row they were the last of goes.
      status = delete_zero_counter_.BindStatic(1, exp)
                   .BindStatic(2, bucket)
                   .BindStatic(3, counter_day)
                   .BindStatic(4, name)
                   .Run();
    }
  }
  return status;
}

Result<std::int64_t> SqliteEventWriter::Purge(std::int64_t cutoff_us) {
  std::int64_t total = 0;
  for (;;) {
    struct Purged {
      std::int64_t seq;
      std::string event_id, user;
    };
    std::vector<Purged> rows;
    if (auto ok = db_->Exec("BEGIN IMMEDIATE"); !ok) return std::unexpected(ok.error());
    purge_select_.Bind(1, cutoff_us);
    auto ok = ForEachRow(purge_select_, [&](const SqliteStatement& r) {
      rows.push_back(Purged{r.Int(0), r.Text(1), r.Text(2)});
    });
    for (std::size_t i = 0; ok && i < rows.size(); ++i) {
      delete_event_.Bind(1, rows[i].seq);
      ok = ForEachRow(delete_event_, [](const SqliteStatement&) {});
    }
    if (ok) ok = db_->Exec("COMMIT");
    if (!ok) {
      (void)db_->Exec("ROLLBACK");
      return std::unexpected(ok.error());
    }
    // Committed: now the in-memory indexes forget the rows too.
    std::map<std::string, std::vector<std::int64_t>> by_user;
    for (const Purged& p : rows) {
      ids_.Erase(EventIdIndex::KeyOf(p.event_id), p.seq);
      by_user[p.user].push_back(p.seq);
    }
    for (auto& [user, seqs] : by_user) {
      std::sort(seqs.begin(), seqs.end());
      state_.ForgetEvents(user, seqs);
    }
    total += static_cast<std::int64_t>(rows.size());
    if (rows.empty()) return total;
  }
}

Result<std::vector<Event>> ReadEventsOfRequest(SqliteDb& db, const std::string& request_id) {
  auto stmt = db.Prepare(
      fmt::format("SELECT {} FROM events WHERE request_id = ?1 AND request_id <> '' ORDER BY seq",
                  kEventColumns));
  if (!stmt) return std::unexpected(stmt.error());
  stmt->Bind(1, request_id);
  std::vector<Event> out;
  auto ok = ForEachRow(*stmt, [&](const SqliteStatement& r) { out.push_back(EventFromRow(r)); });
  if (!ok) return std::unexpected(ok.error());
  return out;
}

void SqliteEventWriter::Checkpoint() { (void)db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)"); }

Result<SqliteDb::Checkpointed> SqliteEventWriter::CheckpointPassive() {
  auto done = db_->CheckpointPassive();
  if (!done) last_failure_code_ = db_->LastErrorCode();
  return done;
}

void SqliteEventWriter::KeepWalOnClose() { db_->KeepWalOnClose(); }

SqliteEventWriter::Stats SqliteEventWriter::stats() const {
  return Stats{state_.EventCount(), state_.UserCount(), ids_.size(), ids_.MemoryBytes()};
}

}  // namespace abrec
