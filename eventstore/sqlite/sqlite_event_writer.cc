#include "eventstore/sqlite/sqlite_event_writer.h"

#include <algorithm>
#include <map>

#include "eventstore/sqlite/sqlite_row_codec.h"

namespace abrec {
namespace {

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

}  // namespace

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
