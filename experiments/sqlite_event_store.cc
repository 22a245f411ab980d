#include "experiments/sqlite_event_store.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "experiments/sqlite_schema.h"

namespace abrec {
namespace {

// "users, exposures, ...": the bucket totals' columns, in BucketTotals::Fields() order.
const std::string& TotalsColumns() {
  static const std::string kColumns = [] {
    std::string out;
    for (const auto name : BucketTotals::FieldNames())
      out += (out.empty() ? "" : ", ") + std::string(name);
    return out;
  }();
  return kColumns;
}

// INSERT ... ON CONFLICT DO UPDATE adding every column: the bucket delta statement.
std::string BucketDeltaSql() {
  std::string placeholders, updates;
  int i = 3;
  for (const auto name : BucketTotals::FieldNames()) {
    placeholders += fmt::format(", ?{}", i++);
    updates += fmt::format("{0}{1} = {1} + excluded.{1}", updates.empty() ? "" : ", ", name);
  }
  return fmt::format(
      "INSERT INTO bucket_totals (experiment, bucket, {}) VALUES (?1, ?2{}) ON "
      "CONFLICT DO UPDATE SET {}",
      TotalsColumns(), placeholders, updates);
}

std::string UtcDay(std::int64_t micros) {
  const std::time_t t = static_cast<std::time_t>(micros / 1'000'000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

std::string ItemsJson(const std::vector<ExposedItem>& items) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& item : items) {
    out.push_back({{"product_id", item.product_id},
                   {"position", item.position},
                   {"propensity", item.propensity}});
  }
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<void> Migrate(SqliteDb& db) {
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
    std::string sql = "BEGIN IMMEDIATE;" + std::string(migrations[v]) +
                      fmt::format(";PRAGMA user_version = {};COMMIT;", v + 1);
    if (auto ok = db.Exec(sql); !ok) {
      (void)db.Exec("ROLLBACK");
      return ok;
    }
    LogInfo("storage: migrated the schema to version {}", v + 1);
  }
  return {};
}

}  // namespace

// The writer thread's connection and statements, and the aggregation logic of one event.
class SqliteEventStore::Writer {
 public:
  static Result<std::unique_ptr<Writer>> Open(const EventStoreOptions& o, const Clock& clock) {
    auto db = SqliteDb::Open(o.path);
    if (!db) return std::unexpected(db.error());
    std::unique_ptr<Writer> w(new Writer(std::move(*db), o, clock));
    for (const auto& sql :
         {std::string("PRAGMA journal_mode=WAL"), "PRAGMA synchronous=" + o.synchronous,
          std::string("PRAGMA foreign_keys=ON"),
          // The writer's indexes have random keys (event ids, users): a 64 MiB page cache
          // keeps their inner pages resident instead of re-reading them per event, and a
          // larger checkpoint interval writes each hot page back less often.
          std::string("PRAGMA cache_size=-65536"),
          std::string("PRAGMA wal_autocheckpoint=10000")}) {
      if (auto ok = w->db_->Exec(sql); !ok) return std::unexpected(ok.error());
    }
    if (auto ok = Migrate(*w->db_); !ok) return std::unexpected(ok.error());
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
    return w;
  }

  // Writes a group of batches in one transaction. On failure nothing is kept.
  // One batch's result: the outcome of each event, or the number of events erased.
  struct BatchResult {
    std::vector<EventOutcome> outcomes;
    std::int64_t erased = 0;
  };

  Result<std::vector<BatchResult>> Commit(const std::vector<Batch*>& batches) {
    if (auto ok = db_->Exec("BEGIN IMMEDIATE"); !ok) return std::unexpected(ok.error());
    touched_.clear();
    std::vector<BatchResult> out;
    for (const Batch* b : batches) {
      if (b->count_done) {
        auto n = b->covariates.empty() ? Erase(b->erase_user) : SetCovariates(b->covariates);
        if (!n) return Abort(n.error());
        out.push_back({{}, *n});
        continue;
      }
      std::vector<EventOutcome> outcomes;
      outcomes.reserve(b->events.size());
      for (const Event& e : b->events) {
        auto r = Write(e);
        if (!r) return Abort(r.error());
        outcomes.push_back(*r);
      }
      out.push_back({std::move(outcomes), 0});
    }
    const std::string day = UtcDay(clock_.NowMicros());
    for (const auto& [exp, bucket] : touched_) {
      auto ok = snapshot_.Bind(1, day).Bind(2, exp).Bind(3, bucket).Run();
      if (!ok) return Abort(ok.error());
    }
    if (auto ok = db_->Exec("COMMIT"); !ok) return Abort(ok.error());
    return out;
  }

  void Checkpoint() { (void)db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)"); }

  // Deletes raw events older than `cutoff_us`, a bounded number per transaction so writers
  // are not held up; the aggregates stay. Returns how many were deleted.
  Result<std::int64_t> Purge(std::int64_t cutoff_us) {
    std::int64_t total = 0;
    for (;;) {
      if (auto ok = db_->Exec("BEGIN IMMEDIATE"); !ok) return std::unexpected(ok.error());
      auto ok = purge_.Bind(1, cutoff_us).Run();
      if (!ok) {
        (void)db_->Exec("ROLLBACK");
        return std::unexpected(ok.error());
      }
      const std::int64_t n = db_->Changes();
      if (auto c = db_->Exec("COMMIT"); !c) return std::unexpected(c.error());
      total += n;
      if (n == 0) return total;
    }
  }

 private:
  Writer(std::unique_ptr<SqliteDb> db, const EventStoreOptions& o, const Clock& clock)
      : db_(std::move(db)), window_us_(o.attribution_window_us), clock_(clock) {}

  Result<void> PrepareAll() {
    struct {
      SqliteStatement* stmt;
      std::string sql;
    } all[] = {
        {&insert_,
         "INSERT INTO events (event_id, type, user_id, ts_us, request_id, product_id, position, "
         "premium_cents, experiment, bucket, variant, counterfactual_variant, policy, "
         "model_version, n_items, items, features, payload_hash, ingested_us) VALUES "
         "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19) "
         "ON CONFLICT(event_id) DO NOTHING"},
        {&existing_, "SELECT payload_hash FROM events WHERE event_id = ?1"},
        {&delete_user_totals_, "DELETE FROM user_totals WHERE user_id = ?1"},
        {&delete_user_covariates_, "DELETE FROM user_covariates WHERE user_id = ?1"},
        {&delete_user_events_, "DELETE FROM events WHERE user_id = ?1"},
        {&purge_,
         "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE ts_us < ?1 LIMIT 10000)"},
        {&user_row_,
         "SELECT bucket, first_ts_us, first_seq, exposures, impressions, clicks, binds, "
         "premium_cents, has_covariates, premium_before_cents, products_held FROM user_totals "
         "WHERE experiment = ?1 AND user_id = ?2"},
        {&covariates_of_,
         "SELECT premium_before_cents, products_held FROM user_covariates WHERE user_id = ?1"},
        {&upsert_covariates_,
         "INSERT OR REPLACE INTO user_covariates (user_id, premium_before_cents, products_held) "
         "VALUES (?1, ?2, ?3)"},
        {&user_rows_,
         "SELECT experiment, bucket, first_ts_us, first_seq, exposures, impressions, clicks, "
         "binds, premium_cents, has_covariates, premium_before_cents, products_held FROM "
         "user_totals WHERE user_id = ?1"},
        {&upsert_user_,
         "INSERT OR REPLACE INTO user_totals (experiment, user_id, bucket, first_ts_us, "
         "first_seq, exposures, impressions, clicks, binds, premium_cents, has_covariates, "
         "premium_before_cents, products_held) VALUES "
         "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"},
        {&user_outcomes_,
         "SELECT COUNT(*) FILTER (WHERE type = 1), COUNT(*) FILTER (WHERE type = 2), "
         "COALESCE(SUM(premium_cents) FILTER (WHERE type = 2), 0) FROM events "
         "WHERE user_id = ?1 AND type IN (1, 2) AND ts_us BETWEEN ?2 AND ?3"},
        {&user_exposures_,
         "SELECT ts_us, seq, bucket, n_items FROM events WHERE user_id = ?1 AND type = 0 "
         "AND experiment = ?2 ORDER BY ts_us, seq"},
        {&bucket_delta_, BucketDeltaSql()},
        {&snapshot_,
         fmt::format("INSERT OR REPLACE INTO bucket_daily (experiment, bucket, day, {0}) SELECT "
                     "experiment, bucket, ?1, {0} FROM bucket_totals WHERE experiment = ?2 AND "
                     "bucket = ?3",
                     TotalsColumns())},
    };
    for (auto& [stmt, sql] : all) {
      auto s = db_->Prepare(sql);
      if (!s) return std::unexpected(s.error());
      *stmt = std::move(*s);
    }
    return {};
  }

  Result<std::vector<BatchResult>> Abort(Error e) {
    (void)db_->Exec("ROLLBACK");
    return std::unexpected(std::move(e));
  }

  Result<EventOutcome> Write(const Event& e) {
    insert_.Bind(1, e.event_id).Bind(2, static_cast<std::int64_t>(e.type)).Bind(3, e.user_id);
    insert_.Bind(4, e.ts_us).Bind(5, e.request_id).Bind(6, e.product_id);
    if (e.position) {
      insert_.Bind(7, static_cast<std::int64_t>(*e.position));
    } else {
      insert_.BindNull(7);
    }
    insert_.Bind(8, e.premium_cents);
    if (e.type == EventType::kExposure) {
      insert_.Bind(9, e.experiment).Bind(10, e.bucket).Bind(11, e.variant);
      insert_.Bind(12, e.counterfactual_variant).Bind(13, e.policy).Bind(14, e.model_version);
      insert_.Bind(15, static_cast<std::int64_t>(e.items.size())).Bind(16, ItemsJson(e.items));
      insert_.Bind(17, e.features_json);
    } else {
      insert_.Bind(15, std::int64_t{0});
    }
    insert_.Bind(18, e.payload_hash).Bind(19, clock_.NowMicros());
    if (auto ok = insert_.Run(); !ok) return std::unexpected(ok.error());
    if (db_->Changes() == 0) {
      existing_.Bind(1, e.event_id);
      auto row = existing_.Step();
      if (!row) return std::unexpected(row.error());
      const bool same = *row && existing_.Text(0) == e.payload_hash;
      existing_.Reset();
      return same ? EventOutcome::kDuplicate : EventOutcome::kConflict;
    }
    auto ok = e.type == EventType::kExposure ? AddExposure(e) : AddOutcome(e);
    if (!ok) return std::unexpected(ok.error());
    return EventOutcome::kAccepted;
  }

  struct Row {
    std::string bucket;
    std::int64_t first_ts = 0;
    std::int64_t first_seq = 0;
    UserTotals totals;
  };

  // A user's row in one experiment.
  struct ExperimentRow {
    std::string experiment;
    Row row;
  };

  // Every experiment row of a user (clicks, binds, covariates and erasure touch them all).
  Result<std::vector<ExperimentRow>> RowsOfUser(const std::string& user) {
    std::vector<ExperimentRow> rows;
    user_rows_.Bind(1, user);
    for (;;) {
      auto more = user_rows_.Step();
      if (!more) return std::unexpected(more.error());
      if (!*more) break;
      rows.push_back({user_rows_.Text(0), Row{user_rows_.Text(1), user_rows_.Int(2),
                                              user_rows_.Int(3), TotalsAt(user_rows_, 4)}});
    }
    user_rows_.Reset();
    return rows;
  }

  Result<void> ApplyDelta(const std::string& exp, const std::string& bucket,
                          const UserTotals* before, const UserTotals* after) {
    BucketTotals d;
    if (before) d.Apply(*before, -1);
    if (after) d.Apply(*after, +1);
    bucket_delta_.Bind(1, exp).Bind(2, bucket);
    int i = 3;
    for (const std::int64_t* f : d.Fields()) bucket_delta_.Bind(i++, *f);
    touched_.emplace(exp, bucket);
    return bucket_delta_.Run();
  }

  Result<void> SaveRow(const std::string& exp, const std::string& user, const Row& r) {
    return upsert_user_.Bind(1, exp)
        .Bind(2, user)
        .Bind(3, r.bucket)
        .Bind(4, r.first_ts)
        .Bind(5, r.first_seq)
        .Bind(6, r.totals.exposures)
        .Bind(7, r.totals.impressions)
        .Bind(8, r.totals.clicks)
        .Bind(9, r.totals.binds)
        .Bind(10, r.totals.premium_cents)
        .Bind(11, std::int64_t{r.totals.has_covariates ? 1 : 0})
        .Bind(12, r.totals.premium_before_cents)
        .Bind(13, r.totals.products_held)
        .Run();
  }

  // The user totals stored from column `first` on: exposures, impressions, clicks, binds,
  // premium_cents, has_covariates, premium_before_cents, products_held.
  static UserTotals TotalsAt(const SqliteStatement& row, int first) {
    return UserTotals{row.Int(first),     row.Int(first + 1), row.Int(first + 2),
                      row.Int(first + 3), row.Int(first + 4), row.Int(first + 5) != 0,
                      row.Int(first + 6), row.Int(first + 7)};
  }

  // The user's covariates, if posted, into `t`.
  Result<void> LoadCovariates(const std::string& user, UserTotals& t) {
    covariates_of_.Bind(1, user);
    auto found = covariates_of_.Step();
    if (!found) return std::unexpected(found.error());
    t.has_covariates = *found;
    t.premium_before_cents = *found ? covariates_of_.Int(0) : 0;
    t.products_held = *found ? covariates_of_.Int(1) : 0;
    covariates_of_.Reset();
    return {};
  }

  // Stores covariates and moves the CUPED sums of every bucket the user is in.
  Result<std::int64_t> SetCovariates(const std::vector<Covariates>& list) {
    for (const Covariates& c : list) {
      auto ok = upsert_covariates_.Bind(1, c.user_id)
                    .Bind(2, c.premium_before_cents)
                    .Bind(3, c.products_held)
                    .Run();
      if (!ok) return std::unexpected(ok.error());
      auto rows = RowsOfUser(c.user_id);
      if (!rows) return std::unexpected(rows.error());
      for (const ExperimentRow& p : *rows) {
        Row after = p.row;
        after.totals.has_covariates = true;
        after.totals.premium_before_cents = c.premium_before_cents;
        after.totals.products_held = c.products_held;
        if (auto saved = SaveRow(p.experiment, c.user_id, after); !saved) {
          return std::unexpected(saved.error());
        }
        if (auto d = ApplyDelta(p.experiment, p.row.bucket, &p.row.totals, &after.totals); !d) {
          return std::unexpected(d.error());
        }
      }
    }
    return static_cast<std::int64_t>(list.size());
  }

  // A user's totals in one experiment, derived from the raw events: the bucket of the first
  // exposure (intent to treat), and the clicks and binds within the attribution window.
  Result<Row> Recompute(const std::string& exp, const std::string& user) {
    Row r;
    user_exposures_.Bind(1, user).Bind(2, exp);
    for (bool first = true;; first = false) {
      auto more = user_exposures_.Step();
      if (!more) return std::unexpected(more.error());
      if (!*more) break;
      if (first) {
        r.first_ts = user_exposures_.Int(0);
        r.first_seq = user_exposures_.Int(1);
        r.bucket = user_exposures_.Text(2);
      }
      ++r.totals.exposures;
      r.totals.impressions += user_exposures_.Int(3);
    }
    user_exposures_.Reset();
    user_outcomes_.Bind(1, user).Bind(2, r.first_ts).Bind(3, r.first_ts + window_us_);
    auto row = user_outcomes_.Step();
    if (!row) return std::unexpected(row.error());
    r.totals.clicks = user_outcomes_.Int(0);
    r.totals.binds = user_outcomes_.Int(1);
    r.totals.premium_cents = user_outcomes_.Int(2);
    user_outcomes_.Reset();
    if (auto ok = LoadCovariates(user, r.totals); !ok) return std::unexpected(ok.error());
    return r;
  }

  Result<void> AddExposure(const Event& e) {
    user_row_.Bind(1, e.experiment).Bind(2, e.user_id);
    auto found = user_row_.Step();
    if (!found) return std::unexpected(found.error());
    std::optional<Row> before;
    if (*found) {
      before = Row{user_row_.Text(0), user_row_.Int(1), user_row_.Int(2), TotalsAt(user_row_, 3)};
    }
    user_row_.Reset();
    Row after;
    if (before && e.ts_us >= before->first_ts) {
      // The common case: a later exposure; the first one still decides bucket and window.
      after = *before;
      after.totals.exposures += 1;
      after.totals.impressions += static_cast<std::int64_t>(e.items.size());
    } else {
      // A new user, or an exposure older than the first one seen: derive from raw events.
      auto r = Recompute(e.experiment, e.user_id);
      if (!r) return std::unexpected(r.error());
      after = std::move(*r);
    }
    if (auto ok = SaveRow(e.experiment, e.user_id, after); !ok) return ok;
    if (before && before->bucket != after.bucket) {
      if (auto ok = ApplyDelta(e.experiment, before->bucket, &before->totals, nullptr); !ok)
        return ok;
      return ApplyDelta(e.experiment, after.bucket, nullptr, &after.totals);
    }
    return ApplyDelta(e.experiment, after.bucket, before ? &before->totals : nullptr,
                      &after.totals);
  }

  // Right to erasure: the user's contribution leaves every bucket, then their rows go.
  Result<std::int64_t> Erase(const std::string& user) {
    auto rows = RowsOfUser(user);
    if (!rows) return std::unexpected(rows.error());
    for (const ExperimentRow& p : *rows) {
      if (auto ok = ApplyDelta(p.experiment, p.row.bucket, &p.row.totals, nullptr); !ok) {
        return std::unexpected(ok.error());
      }
    }
    if (auto ok = delete_user_totals_.Bind(1, user).Run(); !ok) return std::unexpected(ok.error());
    if (auto ok = delete_user_covariates_.Bind(1, user).Run(); !ok) {
      return std::unexpected(ok.error());
    }
    if (auto ok = delete_user_events_.Bind(1, user).Run(); !ok) return std::unexpected(ok.error());
    return db_->Changes();
  }

  // A click or bind counts for every experiment the user was exposed to at or before it,
  // within the attribution window, in the bucket of the first exposure.
  Result<void> AddOutcome(const Event& e) {
    auto rows = RowsOfUser(e.user_id);
    if (!rows) return std::unexpected(rows.error());
    for (const ExperimentRow& h : *rows) {
      if (e.ts_us < h.row.first_ts || e.ts_us > h.row.first_ts + window_us_) continue;
      Row after = h.row;
      if (e.type == EventType::kClick) {
        after.totals.clicks += 1;
      } else {
        after.totals.binds += 1;
        after.totals.premium_cents += e.premium_cents;
      }
      if (auto ok = SaveRow(h.experiment, e.user_id, after); !ok) return ok;
      if (auto ok = ApplyDelta(h.experiment, after.bucket, &h.row.totals, &after.totals); !ok) {
        return ok;
      }
    }
    return {};
  }

  std::unique_ptr<SqliteDb> db_;
  std::int64_t window_us_;
  const Clock& clock_;
  std::set<std::pair<std::string, std::string>> touched_;
  SqliteStatement insert_, existing_, covariates_of_, upsert_covariates_, delete_user_totals_,
      delete_user_covariates_, delete_user_events_, purge_, user_row_, user_rows_, upsert_user_,
      user_outcomes_, user_exposures_, bucket_delta_, snapshot_;
};

int SqliteEventStore::SchemaVersion() { return static_cast<int>(SqliteMigrations().size()); }

SqliteEventStore::SqliteEventStore(EventStoreOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

Result<std::unique_ptr<SqliteEventStore>> SqliteEventStore::Open(EventStoreOptions options,
                                                                 const Clock& clock) {
  std::unique_ptr<SqliteEventStore> s(new SqliteEventStore(std::move(options), clock));
  auto writer = Writer::Open(s->options_, clock);
  if (!writer) return std::unexpected(writer.error());
  s->writer_ = std::move(*writer);
  auto reader = SqliteDb::Open(s->options_.path, /*read_only=*/true);
  if (!reader) return std::unexpected(reader.error());
  s->reader_ = std::move(*reader);
  s->thread_ = std::thread([p = s.get()] { p->WriterLoop(); });
  return s;
}

SqliteEventStore::~SqliteEventStore() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (writer_) writer_->Checkpoint();
}

Result<void> SqliteEventStore::Submit(std::vector<Event> events, Done done) {
  return Enqueue(Batch{std::move(events), std::move(done), {}, {}, {}});
}

Result<void> SqliteEventStore::EraseUser(std::string user_id,
                                         std::function<void(Result<std::int64_t>)> done) {
  return Enqueue(Batch{{}, {}, std::move(user_id), {}, std::move(done)});
}

Result<void> SqliteEventStore::SetCovariates(std::vector<Covariates> covariates,
                                             std::function<void(Result<std::int64_t>)> done) {
  if (covariates.empty()) {
    done(std::int64_t{0});
    return {};
  }
  return Enqueue(Batch{{}, {}, {}, std::move(covariates), std::move(done)});
}

Result<void> SqliteEventStore::Enqueue(Batch batch) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      return std::unexpected(
          Error{ErrorCode::kUnavailable, "the event store is stopping", "storage"});
    }
    if (queued_events_ + batch.events.size() > options_.queue_capacity) {
      return std::unexpected(Error{ErrorCode::kUnavailable,
                                   fmt::format("the write queue is full ({} events waiting); "
                                               "retry shortly",
                                               queued_events_),
                                   "storage"});
    }
    queued_events_ += batch.events.size();
    queue_.push_back(std::move(batch));
  }
  cv_.notify_one();
  return {};
}

void SqliteEventStore::WriterLoop() {
  // Retention runs on this thread too, between transactions: at start, then every 10 min.
  constexpr auto kPurgeEvery = std::chrono::minutes(10);
  auto next_purge = std::chrono::steady_clock::now();
  for (;;) {
    if (options_.retention_us > 0 && std::chrono::steady_clock::now() >= next_purge) {
      next_purge = std::chrono::steady_clock::now() + kPurgeEvery;
      const auto purged = writer_->Purge(clock_.NowMicros() - options_.retention_us);
      if (!purged) {
        LogError("storage: retention purge failed: {}", purged.error().message);
      } else if (*purged > 0) {
        LogInfo("storage: purged {} events past the retention period", *purged);
      }
    }
    std::vector<Batch> group;
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, next_purge, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        if (stopping_) return;  // everything is written
        continue;               // time to purge
      }
      // Group commit: whatever has queued while the last transaction committed goes into
      // the next one, up to max_transaction_events.
      std::size_t n = 0;
      while (!queue_.empty() && (group.empty() || n + queue_.front().events.size() <=
                                                      options_.max_transaction_events)) {
        n += queue_.front().events.size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_events_ -= n;
    }
    std::vector<Batch*> ptrs;
    for (auto& b : group) ptrs.push_back(&b);
    auto result = writer_->Commit(ptrs);
    if (!result)
      LogError("storage: transaction failed, nothing of it was kept: {}", result.error().message);
    for (std::size_t i = 0; i < group.size(); ++i) {
      Batch& b = group[i];
      if (b.count_done) {
        b.count_done(result ? Result<std::int64_t>((*result)[i].erased)
                            : Result<std::int64_t>(std::unexpected(result.error())));
      } else if (result) {
        b.done(std::move((*result)[i].outcomes));
      } else {
        b.done(std::unexpected(result.error()));
      }
    }
  }
}

std::size_t SqliteEventStore::QueuedEvents() {
  std::lock_guard lock(mu_);
  return queued_events_;
}

Result<std::vector<Event>> SqliteEventStore::EventsOfRequest(const std::string& request_id) {
  std::lock_guard lock(reader_mu_);
  auto stmt = reader_->Prepare(
      "SELECT event_id, type, user_id, ts_us, request_id, product_id, position, premium_cents, "
      "experiment, bucket, variant, counterfactual_variant, policy, model_version, items, "
      "features FROM events WHERE request_id = ?1 AND request_id <> '' ORDER BY seq");
  if (!stmt) return std::unexpected(stmt.error());
  stmt->Bind(1, request_id);
  std::vector<Event> out;
  for (;;) {
    auto more = stmt->Step();
    if (!more) return std::unexpected(more.error());
    if (!*more) break;
    Event e;
    e.event_id = stmt->Text(0);
    e.type = static_cast<EventType>(stmt->Int(1));
    e.user_id = stmt->Text(2);
    e.ts_us = stmt->Int(3);
    e.request_id = stmt->Text(4);
    e.product_id = stmt->Text(5);
    if (!stmt->IsNull(6)) e.position = static_cast<int>(stmt->Int(6));
    e.premium_cents = stmt->Int(7);
    e.experiment = stmt->Text(8);
    e.bucket = stmt->Text(9);
    e.variant = stmt->Text(10);
    e.counterfactual_variant = stmt->Text(11);
    e.policy = stmt->Text(12);
    e.model_version = stmt->Text(13);
    const std::string items = stmt->Text(14);
    if (!items.empty()) {
      const auto j = nlohmann::json::parse(items, nullptr, /*allow_exceptions=*/false);
      for (const auto& it : j.is_array() ? j : nlohmann::json::array()) {
        e.items.push_back(
            {it.value("product_id", ""), it.value("position", 0), it.value("propensity", 1.0)});
      }
    }
    e.features_json = stmt->Text(15);
    out.push_back(std::move(e));
  }
  return out;
}

Result<BucketTotalsMap> SqliteEventStore::Totals(const std::string& experiment) {
  std::lock_guard lock(reader_mu_);
  auto stmt = reader_->Prepare(
      fmt::format("SELECT bucket, {} FROM bucket_totals WHERE experiment = ?1", TotalsColumns()));
  if (!stmt) return std::unexpected(stmt.error());
  stmt->Bind(1, experiment);
  BucketTotalsMap out;
  for (;;) {
    auto more = stmt->Step();
    if (!more) return std::unexpected(more.error());
    if (!*more) break;
    BucketTotals& t = out[stmt->Text(0)];
    int i = 1;
    for (std::int64_t* f : t.Fields()) *f = stmt->Int(i++);
  }
  return out;
}

Result<void> SqliteEventStore::Backup(const std::string& path) {
  std::lock_guard lock(reader_mu_);
  return reader_->BackupTo(path);
}

}  // namespace abrec
