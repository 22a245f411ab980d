#include "eventstore/aggregate_state.h"

#include <algorithm>
#include <cassert>
#include <unordered_set>

namespace abrec {

void AggregateState::LoadEvent(const std::string& user, std::int64_t seq, EventType type,
                               std::int64_t ts_us) {
  UserState& u = users_[user];
  u.seqs.push_back(seq);
  if (type != EventType::kExposure) u.last_outcome_ts = std::max(u.last_outcome_ts, ts_us);
  ++events_;
}

void AggregateState::LoadRow(const std::string& user, ExperimentRow row) {
  users_[user].rows.push_back(std::move(row));
}

void AggregateState::LoadCovariates(const Covariates& c) {
  users_[c.user_id].covariates = CovariateValues{c.premium_before_cents, c.products_held};
}

void AggregateState::LoadBucket(const std::string& experiment, const std::string& bucket,
                                BucketTotals t) {
  buckets_[experiment][bucket].totals = t;
}

void AggregateState::LoadAmountStep(const std::string& user, const std::string& experiment,
                                    std::int64_t id, std::int64_t day) {
  auto it = users_.find(user);
  if (it == users_.end()) return;
  for (ExperimentRow& r : it->second.rows) {
    if (r.experiment != experiment || id < r.amounts_id) continue;
    r.amounts_id = id;
    r.amounts_day = day;
  }
}

std::vector<std::pair<std::string, std::string>> AggregateState::ReconcileBuckets() {
  std::map<std::pair<std::string, std::string>, BucketTotals> sums;
  for (const auto& [user, u] : users_) {
    for (const ExperimentRow& r : u.rows)
      sums[{r.experiment, r.row.bucket}].Apply(r.row.totals, +1);
  }
  std::vector<std::pair<std::string, std::string>> replaced;
  for (auto& [experiment, by_bucket] : buckets_) {
    for (auto& [bucket, entry] : by_bucket) {
      auto it = sums.find({experiment, bucket});
      const BucketTotals expected = it == sums.end() ? BucketTotals{} : it->second;
      if (entry.totals != expected) {
        entry.totals = expected;
        replaced.emplace_back(experiment, bucket);
      }
      if (it != sums.end()) sums.erase(it);
    }
  }
  for (auto& [key, totals] : sums) {  // rows whose bucket has no stored sums
    buckets_[key.first][key.second].totals = totals;
    replaced.push_back(key);
  }
  return replaced;
}

void AggregateState::Begin() {
  assert(txn_ == 0);
  txn_ = next_txn_++;
  events_at_begin_ = events_;
}

void AggregateState::Commit() {
  txn_ = 0;
  user_undo_.clear();
  bucket_undo_.clear();
}

void AggregateState::Rollback() {
  // Newest first: a user erased and then seen again in one transaction has two entries, and
  // the older one holds the state of Begin().
  for (auto it = user_undo_.rbegin(); it != user_undo_.rend(); ++it) {
    UserUndo& undo = *it;
    if (!undo.existed) {
      users_.erase(undo.user);
      continue;
    }
    UserState& u = users_[undo.user];
    if (undo.seqs) {
      u.seqs = std::move(*undo.seqs);
    } else {
      u.seqs.resize(undo.seq_count);
    }
    u.last_outcome_ts = undo.last_outcome_ts;
    u.covariates = undo.covariates;
    u.rows = std::move(undo.rows);
  }
  for (BucketUndo& undo : bucket_undo_) {
    buckets_[undo.experiment][undo.bucket].totals = undo.totals;
  }
  events_ = events_at_begin_;
  Commit();
}

AggregateState::UserState& AggregateState::Touch(const std::string& user) {
  assert(txn_ != 0);
  auto [it, inserted] = users_.try_emplace(user);
  UserState& u = it->second;
  if (u.txn != txn_) {
    u.txn = txn_;
    u.undo_slot = user_undo_.size();
    user_undo_.push_back(
        UserUndo{user, !inserted, u.seqs.size(), u.last_outcome_ts, u.covariates, u.rows, {}});
  }
  return u;
}

void AggregateState::ApplyDelta(const std::string& experiment, const std::string& bucket,
                                const UserTotals* before, const UserTotals* after) {
  auto exp_it = buckets_.find(experiment);
  if (exp_it == buckets_.end()) exp_it = buckets_.try_emplace(experiment).first;
  auto it = exp_it->second.find(bucket);
  if (it == exp_it->second.end()) it = exp_it->second.try_emplace(bucket).first;
  BucketEntry& entry = it->second;
  if (entry.txn != txn_) {
    entry.txn = txn_;
    bucket_undo_.push_back(BucketUndo{experiment, bucket, entry.totals});
  }
  if (before) entry.totals.Apply(*before, -1);
  if (after) entry.totals.Apply(*after, +1);
}

template <typename Count>
void AggregateState::ForAttributedRows(UserState& u, std::int64_t ts_us, const Count& count) {
  for (ExperimentRow& r : u.rows) {
    if (ts_us < r.row.first_ts || ts_us > r.row.first_ts + window_us_) continue;
    const UserTotals before = r.row.totals;
    count(r.row.totals);
    ApplyDelta(r.experiment, r.row.bucket, &before, &r.row.totals);
  }
}

Result<void> AggregateState::Add(const Event& e, std::int64_t seq, const EventReader& read,
                                 std::optional<std::int64_t> revenue_cents) {
  UserState& u = Touch(e.user_id);
  assert(u.seqs.empty() || u.seqs.back() < seq);
  u.seqs.push_back(seq);
  ++events_;
  if (e.type == EventType::kExposure) return AddExposure(u, e, seq, read);
  u.last_outcome_ts = std::max(u.last_outcome_ts, e.ts_us);
  AddOutcome(u, e, revenue_cents);
  return {};
}

void AggregateState::AddBindRevenue(const std::string& user, std::int64_t ts_us,
                                    std::optional<std::int64_t> revenue_cents) {
  if (!users_.contains(user)) return;
  ForAttributedRows(Touch(user), ts_us, [&](UserTotals& t) { CountBindRevenue(t, revenue_cents); });
}

Result<void> AggregateState::AddExposure(UserState& u, const Event& e, std::int64_t seq,
                                         const EventReader& read) {
  auto it = std::find_if(u.rows.begin(), u.rows.end(),
                         [&](const ExperimentRow& r) { return r.experiment == e.experiment; });
  const auto n_items = static_cast<std::int64_t>(e.items.size());
  if (it != u.rows.end() && e.ts_us >= it->row.first_ts) {
    // The common case: a later exposure; the first one still decides bucket and window.
    const UserTotals before = it->row.totals;
    it->row.totals.exposures += 1;
    it->row.totals.impressions += n_items;
    ApplyDelta(e.experiment, it->row.bucket, &before, &it->row.totals);
    return {};
  }
  UserRow after;
  if (it == u.rows.end() && u.last_outcome_ts < e.ts_us) {
    // A new row, and no click or bind of the user at or after it: nothing to re-attribute.
    after.bucket = e.bucket;
    after.first_ts = e.ts_us;
    after.first_seq = seq;
    after.totals.exposures = 1;
    after.totals.impressions = n_items;
    if (u.covariates) {
      after.totals.has_covariates = true;
      after.totals.premium_before_cents = u.covariates->premium_before_cents;
      after.totals.products_held = u.covariates->products_held;
    }
  } else {
    // A new row after some of the user's clicks or binds, or an exposure older than the
    // first one seen: derive the row from the user's stored events.
    auto derived = Derive(u, e.experiment, read);
    if (!derived) return std::unexpected(derived.error());
    after = std::move(*derived);
  }
  if (it == u.rows.end()) {
    ApplyDelta(e.experiment, after.bucket, nullptr, &after.totals);
    u.rows.push_back(ExperimentRow{e.experiment, std::move(after)});
    return {};
  }
  const UserRow before = std::move(it->row);
  it->row = std::move(after);
  if (before.bucket == it->row.bucket) {
    ApplyDelta(e.experiment, before.bucket, &before.totals, &it->row.totals);
  } else {
    ApplyDelta(e.experiment, before.bucket, &before.totals, nullptr);
    ApplyDelta(e.experiment, it->row.bucket, nullptr, &it->row.totals);
  }
  return {};
}

void AggregateState::AddOutcome(UserState& u, const Event& e,
                                std::optional<std::int64_t> revenue_cents) {
  const bool bind = e.type == EventType::kBind;
  ForAttributedRows(u, e.ts_us,
                    [&](UserTotals& t) { CountOutcome(t, bind, e.premium_cents, revenue_cents); });
}

Result<UserRow> AggregateState::Derive(const UserState& u, const std::string& experiment,
                                       const EventReader& read) const {
  auto events = read(u.seqs);
  if (!events) return std::unexpected(events.error());
  UserRow r;
  bool first = true;
  for (const StoredEvent& s : *events) {  // ascending by sequence number
    if (s.type != EventType::kExposure || s.experiment != experiment) continue;
    if (first || s.ts_us < r.first_ts || (s.ts_us == r.first_ts && s.seq < r.first_seq)) {
      r.first_ts = s.ts_us;
      r.first_seq = s.seq;
      r.bucket = s.bucket;
      first = false;
    }
    ++r.totals.exposures;
    r.totals.impressions += s.n_items;
  }
  for (const StoredEvent& s : *events) {
    if (s.type == EventType::kExposure) continue;
    if (s.ts_us < r.first_ts || s.ts_us > r.first_ts + window_us_) continue;
    CountOutcome(r.totals, s.type == EventType::kBind, s.premium_cents, s.revenue_cents);
  }
  if (u.covariates) {
    r.totals.has_covariates = true;
    r.totals.premium_before_cents = u.covariates->premium_before_cents;
    r.totals.products_held = u.covariates->products_held;
  }
  return r;
}

void AggregateState::SetCovariates(const Covariates& c) {
  UserState& u = Touch(c.user_id);
  u.covariates = CovariateValues{c.premium_before_cents, c.products_held};
  for (ExperimentRow& r : u.rows) {
    const UserTotals before = r.row.totals;
    r.row.totals.has_covariates = true;
    r.row.totals.premium_before_cents = c.premium_before_cents;
    r.row.totals.products_held = c.products_held;
    ApplyDelta(r.experiment, r.row.bucket, &before, &r.row.totals);
  }
}

AggregateState::Erased AggregateState::EraseUser(const std::string& user) {
  auto it = users_.find(user);
  if (it == users_.end()) return {};
  UserState& u = Touch(user);
  UserUndo& undo = user_undo_[u.undo_slot];
  if (!undo.seqs) {
    // Keep the sequence numbers of Begin() for a rollback: events are only appended until
    // an erasure, so they are the first seq_count.
    undo.seqs.emplace(u.seqs.begin(), u.seqs.begin() + static_cast<std::ptrdiff_t>(undo.seq_count));
  }
  Erased erased;
  for (const ExperimentRow& r : u.rows) {
    ApplyDelta(r.experiment, r.row.bucket, &r.row.totals, nullptr);
    if (r.row_id != 0) erased.row_ids.push_back(r.row_id);
    if (r.amounts_id != 0) erased.amount_steps.emplace_back(r.experiment, r.amounts_id);
  }
  erased.seqs = std::move(u.seqs);
  events_ -= erased.seqs.size();
  users_.erase(it);
  return erased;
}

void AggregateState::ForgetEvents(const std::string& user,
                                  std::span<const std::int64_t> sorted_seqs) {
  auto it = users_.find(user);
  if (it == users_.end()) return;
  auto& seqs = it->second.seqs;
  const auto before = seqs.size();
  std::erase_if(seqs, [&](std::int64_t s) {
    return std::binary_search(sorted_seqs.begin(), sorted_seqs.end(), s);
  });
  events_ -= before - seqs.size();
  // last_outcome_ts may now be later than any stored outcome: that only sends a rare late
  // exposure down the exact (re-deriving) path.
  if (seqs.empty() && it->second.rows.empty() && !it->second.covariates) users_.erase(it);
}

void AggregateState::ForEachChangedRow(
    const std::function<void(const std::string&, ExperimentRow&, const ExperimentRow*)>& visit) {
  // A user erased and seen again has two undo entries; the first (the erasure) lists them.
  std::unordered_set<std::string_view> visited;
  for (const UserUndo& undo : user_undo_) {
    auto it = users_.find(undo.user);
    if (it == users_.end() || !visited.insert(undo.user).second) continue;
    for (ExperimentRow& r : it->second.rows) {
      // After an erasure in this transaction the stored rows are gone: write them all.
      const ExperimentRow* before = nullptr;
      if (!undo.seqs) {
        const auto b =
            std::find_if(undo.rows.begin(), undo.rows.end(),
                         [&](const ExperimentRow& o) { return o.experiment == r.experiment; });
        if (b != undo.rows.end()) before = &*b;
      }
      if (before == nullptr || !(*before == r)) visit(undo.user, r, before);
    }
  }
}

void AggregateState::ForEachChangedBucket(
    const std::function<void(const std::string&, const std::string&, const BucketTotals&)>& visit)
    const {
  for (const BucketUndo& undo : bucket_undo_) {
    visit(undo.experiment, undo.bucket, *Bucket(undo.experiment, undo.bucket));
  }
}

std::span<const std::int64_t> AggregateState::SeqsOf(const std::string& user) const {
  auto it = users_.find(user);
  if (it == users_.end()) return {};
  return it->second.seqs;
}

std::vector<ExperimentRow> AggregateState::RowsOf(const std::string& user) const {
  auto it = users_.find(user);
  if (it == users_.end()) return {};
  return it->second.rows;
}

const BucketTotals* AggregateState::Bucket(std::string_view experiment,
                                           std::string_view bucket) const {
  auto exp_it = buckets_.find(experiment);
  if (exp_it == buckets_.end()) return nullptr;
  auto it = exp_it->second.find(bucket);
  return it == exp_it->second.end() ? nullptr : &it->second.totals;
}

}  // namespace abrec
