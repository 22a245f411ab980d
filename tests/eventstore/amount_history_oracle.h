// AmountOracle, the per-user amount history recomputed from the posted events, and what the
// amount-history tests (sqlite_amount_history*_test.cc) share with it: the days, a user's
// amounts as text, the stored steps of a user counted.
#pragma once

#include <cmath>
#include <cstdint>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "eventstore/event_store.h"
#include "sqlitedb/sqlite_db.h"
#include "tests/eventstore/store_test_util.h"

namespace abrec {

inline constexpr std::int64_t kHour = 3'600'000'000;
inline constexpr std::int64_t kDay = 24 * kHour;
inline constexpr std::int64_t kNov29 = 1'795'910'400'000'000;  // 2026-11-29T00:00:00Z

// "YYYY-MM-DD" of a time in microseconds (UTC).
inline std::string Day(std::int64_t micros) {
  const std::time_t t = static_cast<std::time_t>(micros / 1'000'000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[16];
  std::strftime(out, sizeof out, "%Y-%m-%d", &tm);
  return out;
}

inline std::string ToString(const UserAmounts& u) {
  std::string out = fmt::format("{} in {} cov={} x={} z={}:", u.user_id, u.bucket, u.has_covariates,
                                u.premium_before_cents, u.products_held);
  for (const UserAmountStep& s : u.steps) {
    out += fmt::format(" {}={}/{}", s.day, s.premium_cents, s.revenue_cents);
  }
  return out;
}

inline std::map<std::string, UserAmounts> ByUser(const AmountHistory& h) {
  std::map<std::string, UserAmounts> out;
  for (const UserAmounts& u : h.users) {
    CHECK_FALSE(out.contains(u.user_id));
    out[u.user_id] = u;
  }
  return out;
}

// The amount history recomputed from the events the store accepted, with the attribution
// rules written out again: per (experiment, user), the first exposure by (time, order of
// acceptance) gives the bucket; a bind counts when first <= ts <= first + window; its revenue
// is round(premium × margin) when the catalog (Margins()) prices its product. After each
// committed transaction, a user with an amount (or an earlier step) gets a step of that day
// when their amounts, bucket or covariates changed in it.
class AmountOracle {
 public:
  struct State {
    std::string bucket;
    std::int64_t first_ts = 0;
    std::int64_t premium = 0, revenue = 0;
    std::optional<std::pair<std::int64_t, std::int64_t>> covariates;  // (x, z)
    bool operator==(const State&) const = default;
  };

  explicit AmountOracle(std::int64_t window) : window_(window) {}

  void Post(const std::vector<Event>& accepted) {
    events_.insert(events_.end(), accepted.begin(), accepted.end());
  }
  void SetCovariates(const std::vector<Covariates>& list) {
    for (const Covariates& c : list) covariates_[c.user_id] = c;
  }
  void Erase(const std::string& user) {
    std::erase_if(events_, [&](const Event& e) { return e.user_id == user; });
    covariates_.erase(user);
    std::erase_if(tracks_, [&](const auto& kv) { return kv.first.second == user; });
  }

  // After each committed transaction, on `day`.
  void Commit(const std::string& day) {
    std::set<std::pair<std::string, std::string>> rows;
    for (const Event& e : events_) {
      if (e.type == EventType::kExposure) rows.emplace(e.experiment, e.user_id);
    }
    for (const auto& [experiment, user] : rows) {
      const State now = *Compute(experiment, user);
      Track& t = tracks_[{experiment, user}];
      const bool tracked = !t.amounts.steps.empty() || now.premium != 0 || now.revenue != 0;
      if (tracked && (!t.last || *t.last != now)) {
        auto& steps = t.amounts.steps;
        if (steps.empty() || steps.back().day != day) steps.push_back({day, 0, 0});
        steps.back().premium_cents = now.premium;
        steps.back().revenue_cents = now.revenue;
        t.amounts.user_id = user;
        t.amounts.bucket = now.bucket;
        t.amounts.has_covariates = now.covariates.has_value();
        t.amounts.premium_before_cents = now.covariates ? now.covariates->first : 0;
        t.amounts.products_held = now.covariates ? now.covariates->second : 0;
      }
      t.last = now;
    }
  }

  std::map<std::string, UserAmounts> Expected(const std::string& experiment) const {
    std::map<std::string, UserAmounts> out;
    for (const auto& [key, t] : tracks_) {
      if (key.first == experiment && !t.amounts.steps.empty()) out[key.second] = t.amounts;
    }
    return out;
  }

  // The (experiment, user) row as the accepted events make it; nullopt without an exposure.
  std::optional<State> Compute(const std::string& experiment, const std::string& user) const {
    std::optional<State> s;
    for (const Event& e : events_) {  // in order of acceptance: the first of equal times wins
      if (e.type != EventType::kExposure || e.experiment != experiment || e.user_id != user)
        continue;
      if (!s || e.ts_us < s->first_ts) s = State{e.bucket, e.ts_us, 0, 0, std::nullopt};
    }
    if (!s) return s;
    const auto margins = Margins();
    for (const Event& e : events_) {
      if (e.type != EventType::kBind || e.user_id != user) continue;
      if (e.ts_us < s->first_ts || e.ts_us > s->first_ts + window_) continue;
      s->premium += e.premium_cents;
      if (const auto m = margins.find(e.product_id); m != margins.end()) {
        s->revenue += std::llround(static_cast<double>(e.premium_cents) * m->second);
      }
    }
    if (const auto c = covariates_.find(user); c != covariates_.end()) {
      s->covariates.emplace(c->second.premium_before_cents, c->second.products_held);
    }
    return s;
  }

  const std::vector<Event>& events() const { return events_; }
  const std::map<std::string, Covariates>& covariates() const { return covariates_; }

 private:
  struct Track {
    std::optional<State> last;  // at the previous commit
    UserAmounts amounts;
  };
  std::int64_t window_;
  std::vector<Event> events_;
  std::map<std::string, Covariates> covariates_;
  std::map<std::pair<std::string, std::string>, Track> tracks_;
};

inline std::int64_t CountSteps(const std::string& path, const std::string& user) {
  auto db = SqliteDb::Open(path, true);
  REQUIRE(db.has_value());
  auto stmt = (*db)->Prepare("SELECT COUNT(*) FROM user_amounts WHERE user_id = ?1");
  REQUIRE(stmt.has_value());
  stmt->Bind(1, user);
  REQUIRE(*stmt->Step());
  return stmt->Int(0);
}

}  // namespace abrec
