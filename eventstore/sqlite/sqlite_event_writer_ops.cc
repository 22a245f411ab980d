// The operations of SqliteEventWriter's group transaction: an event written (deduplicated by
// the id index, priced, applied to the aggregates, the off-policy log and the exposure
// counters), a user erased, covariates stored.
#include <cmath>

#include "base/log.h"
#include "eventstore/counter_keys.h"
#include "eventstore/latency_histogram.h"
#include "eventstore/sqlite/sqlite_event_writer.h"
#include "eventstore/sqlite/sqlite_row_codec.h"

namespace abrec {

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

std::optional<std::int64_t> SqliteEventWriter::RevenueOf(std::string_view product_id,
                                                         std::int64_t premium_cents) const {
  const auto it = margins_.find(product_id);
  if (it == margins_.end()) return std::nullopt;
  return std::llround(static_cast<double>(premium_cents) * it->second);
}

}  // namespace abrec
