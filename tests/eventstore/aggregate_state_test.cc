#include "eventstore/aggregate_state.h"

#include <algorithm>
#include <map>
#include <random>

#include <doctest/doctest.h>
#include <fmt/format.h>

namespace abrec {
namespace {

constexpr std::int64_t kWindow = 1'000;

// The stored events, and AggregateState fed with them.
struct Log {
  AggregateState state{kWindow};
  std::map<std::int64_t, std::pair<std::string, StoredEvent>> stored;  // seq -> (user, event)
  std::int64_t next_seq = 1;

  AggregateState::EventReader Reader() {
    return [this](std::span<const std::int64_t> seqs) -> Result<std::vector<StoredEvent>> {
      std::vector<StoredEvent> out;
      for (const std::int64_t s : seqs) out.push_back(stored.at(s).second);
      return out;
    };
  }
  void Add(const Event& e) {
    const std::int64_t seq = next_seq++;
    // Revenue as the store prices it: here a 10% margin, and a premium divisible by 3
    // stands for a product the catalog does not price.
    std::optional<std::int64_t> revenue;
    if (e.type == EventType::kBind && e.premium_cents % 3 != 0) revenue = e.premium_cents / 10;
    stored[seq] = {e.user_id, StoredEvent{seq, e.type, e.ts_us, e.experiment, e.bucket,
                                          static_cast<std::int64_t>(e.items.size()),
                                          e.premium_cents, revenue}};
    REQUIRE(state.Add(e, seq, Reader(), revenue).has_value());
  }
};

Event Make(EventType type, std::string user, std::int64_t ts, std::string exp = "",
           std::string bucket = "", int items = 0, std::int64_t cents = 0) {
  Event e;
  e.type = type;
  e.user_id = std::move(user);
  e.ts_us = ts;
  e.experiment = std::move(exp);
  e.bucket = std::move(bucket);
  for (int i = 0; i < items; ++i) e.items.push_back({"p", i + 1, 1.0});
  e.premium_cents = cents;
  return e;
}

// The oracle: every bucket's totals recomputed from the stored events by brute force, with
// the rules written out again (first exposure by time then sequence; outcomes within
// [first, first + window]).
std::map<std::pair<std::string, std::string>, BucketTotals> Oracle(
    const Log& log, const std::map<std::string, Covariates>& covariates) {
  std::map<std::pair<std::string, std::string>, UserTotals> users;  // (exp, user)
  std::map<std::pair<std::string, std::string>, std::pair<std::int64_t, std::int64_t>> first;
  std::map<std::pair<std::string, std::string>, std::string> bucket;
  for (const auto& [seq, ue] : log.stored) {
    const auto& [user, e] = ue;
    if (e.type != EventType::kExposure) continue;
    const auto key = std::pair{e.experiment, user};
    const auto at = std::pair{e.ts_us, seq};
    if (!first.contains(key) || at < first[key]) {
      first[key] = at;
      bucket[key] = e.bucket;
    }
    users[key].exposures += 1;
    users[key].impressions += e.n_items;
  }
  for (auto& [key, t] : users) {
    const std::int64_t f = first[key].first;
    for (const auto& [seq, ue] : log.stored) {
      const auto& [user, e] = ue;
      if (user != key.second || e.type == EventType::kExposure) continue;
      if (e.ts_us < f || e.ts_us > f + kWindow) continue;
      if (e.type == EventType::kClick) {
        ++t.clicks;
      } else {
        ++t.binds;
        t.premium_cents += e.premium_cents;
        if (e.premium_cents % 3 != 0) {
          t.revenue_cents += e.premium_cents / 10;
        } else {
          ++t.unpriced_binds;
        }
      }
    }
    if (auto c = covariates.find(key.second); c != covariates.end()) {
      t.has_covariates = true;
      t.premium_before_cents = c->second.premium_before_cents;
      t.products_held = c->second.products_held;
    }
  }
  std::map<std::pair<std::string, std::string>, BucketTotals> out;
  for (const auto& [key, t] : users) out[{key.first, bucket[key]}].Apply(t, +1);
  return out;
}

void CheckAgainstOracle(const Log& log, const std::map<std::string, Covariates>& covariates) {
  for (const auto& [key, expected] : Oracle(log, covariates)) {
    const BucketTotals* got = log.state.Bucket(key.first, key.second);
    REQUIRE(got != nullptr);
    CHECK(*got == expected);
  }
}

}  // namespace

TEST_CASE("in-memory aggregates equal a brute-force recomputation, late events included") {
  Log log;
  std::map<std::string, Covariates> covariates;
  std::mt19937_64 rng(7);
  const char* buckets[] = {"control", "treatment", "holdout"};
  log.state.Begin();
  for (int i = 0; i < 5'000; ++i) {
    const std::string user = fmt::format("u{}", rng() % 150);
    // Timestamps out of order on purpose: exposures arrive after later clicks, and earlier
    // exposures after later ones.
    const auto ts = static_cast<std::int64_t>(rng() % 5'000);
    const auto r = rng() % 10;
    if (r < 3) {
      const std::string exp = rng() % 2 ? "exp_a" : "exp_b";
      log.Add(Make(EventType::kExposure, user, ts, exp, buckets[rng() % 3],
                   static_cast<int>(rng() % 4)));
    } else if (r < 8) {
      log.Add(Make(EventType::kClick, user, ts));
    } else if (r < 9) {
      log.Add(
          Make(EventType::kBind, user, ts, "", "", 0, static_cast<std::int64_t>(rng() % 100'000)));
    } else {
      Covariates c{user, static_cast<std::int64_t>(rng() % 50'000),
                   static_cast<std::int64_t>(rng() % 4)};
      covariates[user] = c;
      log.state.SetCovariates(c);
    }
  }
  log.state.Commit();
  CheckAgainstOracle(log, covariates);
}

TEST_CASE("binds priced after the fact count their revenue where the bind counted") {
  // The schema v9 upgrade: AddBindRevenue gives a stored bind its revenue (or marks it
  // unpriced) in every row the bind is attributed to, and in no other; the deltas are
  // checked, the binds themselves having been counted when they were added.
  Log log;
  log.state.Begin();
  log.Add(Make(EventType::kExposure, "ann", 100, "a", "control", 2));
  log.Add(Make(EventType::kExposure, "ann", 900, "b", "treatment", 2));
  log.Add(Make(EventType::kBind, "ann", 950, "", "", 0, 3'001));    // a (window to 1100) and b
  log.Add(Make(EventType::kBind, "ann", 1'500, "", "", 0, 6'001));  // b only
  log.Add(Make(EventType::kBind, "ann", 50, "", "", 0, 9'001));     // before both: none
  log.state.Commit();
  const BucketTotals a0 = *log.state.Bucket("a", "control");
  const BucketTotals b0 = *log.state.Bucket("b", "treatment");
  CHECK(a0.binds == 1);
  CHECK(b0.binds == 2);
  log.state.Begin();
  log.state.AddBindRevenue("ann", 950, 300);
  log.state.AddBindRevenue("ann", 1'500, std::nullopt);
  log.state.AddBindRevenue("ann", 50, 900);
  log.state.AddBindRevenue("nobody", 950, 300);  // no such user: nothing
  log.state.Commit();
  const BucketTotals& a = *log.state.Bucket("a", "control");
  const BucketTotals& b = *log.state.Bucket("b", "treatment");
  CHECK(a.revenue_cents - a0.revenue_cents == 300);
  CHECK(a.unpriced_binds == a0.unpriced_binds);
  CHECK(b.revenue_cents - b0.revenue_cents == 300);
  CHECK(b.unpriced_binds - b0.unpriced_binds == 1);
  CHECK(a.binds == a0.binds);
  CHECK(b.binds == b0.binds);
  CHECK(log.state.Bucket("nobody", "control") == nullptr);
}

TEST_CASE("a rolled-back transaction leaves the aggregates as they were") {
  Log log;
  log.state.Begin();
  log.Add(Make(EventType::kExposure, "alice", 100, "exp", "control", 3));
  log.Add(Make(EventType::kClick, "alice", 150));
  log.state.Commit();
  const BucketTotals before = *log.state.Bucket("exp", "control");
  const auto rows_before = log.state.RowsOf("alice");
  const auto seqs_before =
      std::vector<std::int64_t>(log.state.SeqsOf("alice").begin(), log.state.SeqsOf("alice").end());

  log.state.Begin();
  log.Add(Make(EventType::kBind, "alice", 160, "", "", 0, 5'000));
  log.Add(Make(EventType::kExposure, "alice", 50, "exp", "treatment", 1));  // moves her
  log.Add(Make(EventType::kExposure, "bob", 100, "exp", "control", 2));
  CHECK(log.state.EraseUser("alice").seqs.size() == 4);
  log.Add(Make(EventType::kExposure, "alice", 300, "exp", "treatment", 1));  // back again
  log.state.Rollback();

  CHECK(*log.state.Bucket("exp", "control") == before);
  CHECK(log.state.RowsOf("alice") == rows_before);
  CHECK(std::ranges::equal(log.state.SeqsOf("alice"), seqs_before));
  CHECK(log.state.RowsOf("bob").empty());
  CHECK(log.state.EventCount() == 2);
  const BucketTotals* treatment = log.state.Bucket("exp", "treatment");
  CHECK((treatment == nullptr || *treatment == BucketTotals{}));
}

TEST_CASE("changed rows and buckets are listed once per transaction, erasure included") {
  Log log;
  log.state.Begin();
  log.Add(Make(EventType::kExposure, "alice", 100, "exp", "control", 3));
  log.Add(Make(EventType::kExposure, "bob", 100, "exp", "control", 3));
  log.state.Commit();

  log.state.Begin();
  log.Add(Make(EventType::kClick, "alice", 120));
  log.Add(Make(EventType::kClick, "alice", 130));
  log.Add(Make(EventType::kClick, "carol", 130));  // never exposed: no row
  std::vector<std::string> rows;
  log.state.ForEachChangedRow(
      [&](const std::string& user, ExperimentRow& r, const ExperimentRow* before) {
        rows.push_back(user + "/" + r.experiment);
        REQUIRE(before != nullptr);
        CHECK(before->row.totals.clicks == 0);
        CHECK(r.row.totals.clicks == 2);
      });
  CHECK(rows == std::vector<std::string>{"alice/exp"});
  int buckets = 0;
  log.state.ForEachChangedBucket(
      [&](const std::string&, const std::string& b, const BucketTotals& t) {
        ++buckets;
        CHECK(b == "control");
        CHECK(t.clicks == 2);
      });
  CHECK(buckets == 1);
  // Erased, then seen again in the same transaction: the new row must be written, since
  // the erasure deleted the stored ones.
  CHECK(log.state.EraseUser("bob").seqs.size() == 1);
  log.Add(Make(EventType::kExposure, "bob", 200, "exp", "control", 1));
  rows.clear();
  log.state.ForEachChangedRow(
      [&](const std::string& user, ExperimentRow&, const ExperimentRow* before) {
        rows.push_back(user);
        // bob's stored row was erased in this transaction: nothing of him is stored.
        CHECK((before == nullptr) == (user == "bob"));
      });
  std::sort(rows.begin(), rows.end());
  CHECK(rows == std::vector<std::string>{"alice", "bob"});
  log.state.Commit();
  CHECK(log.state.Bucket("exp", "control")->users == 2);
}

}  // namespace abrec
