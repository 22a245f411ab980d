// The per-user amount history (AggregateSource::Amounts, schema v12) against an oracle that
// recomputes it from the posted events, commit by commit; its upgrade; its transactions.
#include <cmath>
#include <ctime>
#include <future>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "eventstore/sqlite/sqlite_aggregate_reader.h"
#include "sqlitedb/sqlite_db.h"
#include "eventstore/sqlite/sqlite_event_store.h"
#include "eventstore/sqlite/sqlite_event_writer.h"
#include "tests/eventstore/store_test_util.h"

namespace abrec {
namespace {

constexpr std::int64_t kHour = 3'600'000'000;
constexpr std::int64_t kDay = 24 * kHour;
constexpr std::int64_t kNov29 = 1'795'910'400'000'000;  // 2026-11-29T00:00:00Z

// "YYYY-MM-DD" of a time in microseconds (UTC).
std::string Day(std::int64_t micros) {
  const std::time_t t = static_cast<std::time_t>(micros / 1'000'000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[16];
  std::strftime(out, sizeof out, "%Y-%m-%d", &tm);
  return out;
}

std::string ToString(const UserAmounts& u) {
  std::string out = fmt::format("{} in {} cov={} x={} z={}:", u.user_id, u.bucket, u.has_covariates,
                                u.premium_before_cents, u.products_held);
  for (const UserAmountStep& s : u.steps) {
    out += fmt::format(" {}={}/{}", s.day, s.premium_cents, s.revenue_cents);
  }
  return out;
}

std::map<std::string, UserAmounts> ByUser(const AmountHistory& h) {
  std::map<std::string, UserAmounts> out;
  for (const UserAmounts& u : h.users) {
    CHECK_FALSE(out.contains(u.user_id));
    out[u.user_id] = u;
  }
  return out;
}

// The amounts as of the close of `day`: the last step on or before it.
UserAmountStep ValueAt(const std::vector<UserAmountStep>& steps, const std::string& day) {
  UserAmountStep v{day, 0, 0};
  for (const UserAmountStep& s : steps) {
    if (s.day > day) break;
    v = {day, s.premium_cents, s.revenue_cents};
  }
  return v;
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

void CheckAgainstOracle(EventStore& store, const AmountOracle& oracle,
                        const std::string& experiment) {
  CAPTURE(experiment);
  const auto got = store.Amounts(experiment);
  REQUIRE(got.has_value());
  const auto stored = ByUser(*got);
  const auto expected = oracle.Expected(experiment);
  CHECK(stored.size() == expected.size());
  for (const auto& [user, e] : expected) {
    CAPTURE(user);
    const auto it = stored.find(user);
    REQUIRE(it != stored.end());
    CHECK(ToString(it->second) == ToString(e));
  }
}

// What a consumer of Amounts relies on: each user's last step is their current amount
// (Totals, per bucket), and the amounts as of each day's close sum to that day's snapshot
// (History) over the buckets, on the days from `from_day` on (earlier snapshots still count
// users erased since).
void CheckAgainstAggregates(EventStore& store, const std::string& experiment,
                            const std::string& from_day) {
  CAPTURE(experiment);
  const auto amounts = store.Amounts(experiment);
  const auto totals = store.Totals(experiment);
  const auto history = store.History(experiment);
  REQUIRE(amounts.has_value());
  REQUIRE(totals.has_value());
  REQUIRE(history.has_value());
  std::map<std::string, std::pair<Int128, Int128>> last;  // bucket -> (premium, revenue)
  for (const UserAmounts& u : amounts->users) {
    last[u.bucket].first += u.steps.back().premium_cents;
    last[u.bucket].second += u.steps.back().revenue_cents;
  }
  for (const auto& [bucket, t] : *totals) {
    CAPTURE(bucket);
    CHECK(last[bucket].first == t.premium_cents);
    CHECK(last[bucket].second == t.revenue_cents);
  }
  int days_checked = 0;
  for (const DailyTotals& d : *history) {
    if (d.day < from_day) continue;
    CAPTURE(d.day);
    Int128 premium = 0, revenue = 0, snapshot_premium = 0, snapshot_revenue = 0;
    for (const UserAmounts& u : amounts->users) {
      const UserAmountStep v = ValueAt(u.steps, d.day);
      premium += v.premium_cents;
      revenue += v.revenue_cents;
    }
    for (const auto& [bucket, t] : d.buckets) {
      snapshot_premium += t.premium_cents;
      snapshot_revenue += t.revenue_cents;
    }
    CHECK(premium == snapshot_premium);
    CHECK(revenue == snapshot_revenue);
    ++days_checked;
  }
  CHECK(days_checked > 0);
}

Result<std::int64_t> EraseSync(EventStore& store, const std::string& user) {
  std::promise<Result<std::int64_t>> done;
  auto ok = store.EraseUser(user, [&](Result<std::int64_t> n) { done.set_value(n); });
  if (!ok) return std::unexpected(ok.error());
  return done.get_future().get();
}

Result<std::int64_t> SetCovariatesSync(EventStore& store, const std::vector<Covariates>& list) {
  std::promise<Result<std::int64_t>> done;
  auto ok = store.SetCovariates(list, [&](Result<std::int64_t> n) { done.set_value(n); });
  if (!ok) return std::unexpected(ok.error());
  return done.get_future().get();
}

std::int64_t CountSteps(const std::string& path, const std::string& user) {
  auto db = SqliteDb::Open(path, true);
  REQUIRE(db.has_value());
  auto stmt = (*db)->Prepare("SELECT COUNT(*) FROM user_amounts WHERE user_id = ?1");
  REQUIRE(stmt.has_value());
  stmt->Bind(1, user);
  REQUIRE(*stmt->Step());
  return stmt->Int(0);
}

}  // namespace

TEST_CASE(
    "the amount history equals an oracle recomputed from the posted events, across late "
    "events, covariates, a restart and an erasure") {
  TempDb tmp;
  constexpr std::int64_t kWindow = 4 * kDay;
  ManualClock clock(kNov29 + kHour);
  const EventStoreOptions options{
      .path = tmp.Path(), .attribution_window_us = kWindow, .product_margins = Margins()};
  auto store = SqliteEventStore::Open(options, clock);
  REQUIRE(store.has_value());
  AmountOracle oracle(kWindow);
  std::mt19937_64 rng(13);
  int id = 0;
  auto commit = [&](std::vector<Event> batch) {
    const auto r = SubmitSync(**store, batch);
    REQUIRE(r.has_value());
    for (const EventOutcome o : *r) REQUIRE(o == EventOutcome::kAccepted);
    oracle.Post(batch);
    oracle.Commit(Day(clock.NowMicros()));
  };
  auto set_covariates = [&](const std::vector<Covariates>& list) {
    REQUIRE(SetCovariatesSync(**store, list).value_or(-1) ==
            static_cast<std::int64_t>(list.size()));
    oracle.SetCovariates(list);
    oracle.Commit(Day(clock.NowMicros()));
  };
  // Up to two days late, so that exposures older than a user's first one arrive (moving the
  // first exposure, the window and at times the bucket), and binds arrive before the
  // exposure they follow. One exposure in ten names another bucket than the user's own.
  auto random_batch = [&] {
    std::vector<Event> out;
    const std::int64_t now = clock.NowMicros();
    for (int k = 0; k < 30; ++k) {
      const auto u = rng() % 40;
      const std::string user = fmt::format("u{}", u);
      const std::int64_t ts = now - static_cast<std::int64_t>(rng() % (2 * kDay));
      const auto r = rng() % 10;
      if (r < 3) {
        const std::string exp = rng() % 2 ? "exp_a" : "exp_b";
        const std::string bucket = (u + (rng() % 10 == 0 ? 1 : 0)) % 2 ? "treatment" : "control";
        out.push_back(
            Exposure(fmt::format("x{}", id++), user, exp, bucket, ts, static_cast<int>(rng() % 4)));
      } else if (r < 6) {
        out.push_back(Outcome(fmt::format("c{}", id++), EventType::kClick, user, ts));
      } else {
        out.push_back(Outcome(fmt::format("b{}", id++), EventType::kBind, user, ts,
                              1'000 + static_cast<std::int64_t>(rng() % 100'000)));
        out.back().product_id = fmt::format("p{}", rng() % 3);  // p2: unpriced
      }
    }
    return out;
  };
  auto check = [&](const std::string& from_day) {
    for (const char* exp : {"exp_a", "exp_b"}) {
      CheckAgainstOracle(**store, oracle, exp);
      CheckAgainstAggregates(**store, exp, from_day);
    }
  };

  // u5 binds on the first day, to be erased on the fifth.
  commit({Exposure("u5-x", "u5", "exp_a", "control", clock.NowMicros(), 2),
          Outcome("u5-b", EventType::kBind, "u5", clock.NowMicros(), 70'000)});
  std::string erased_on;
  for (int day = 0; day < 6; ++day) {
    CAPTURE(day);
    for (int b = 0; b < 3; ++b) {
      commit(random_batch());
      clock.Advance(kHour);
    }
    if (day == 1) {  // covariates for a third of the users
      std::vector<Covariates> list;
      for (int u = 0; u < 40; u += 3) list.push_back({fmt::format("u{}", u), 10'000 * u, u % 5});
      set_covariates(list);
    }
    if (day == 2) {  // a restart: the history is durable, and today's steps go on in place
      store->reset();
      store = SqliteEventStore::Open(options, clock);
      REQUIRE(store.has_value());
      check("");
      commit(random_batch());
    }
    if (day == 3) {  // some covariates replaced
      std::vector<Covariates> list;
      for (int u = 0; u < 40; u += 6) list.push_back({fmt::format("u{}", u), 7'000 * u, u % 3});
      set_covariates(list);
    }
    if (day == 4) {
      REQUIRE(CountSteps(tmp.Path(), "u5") > 0);
      REQUIRE(EraseSync(**store, "u5").has_value());
      oracle.Erase("u5");
      oracle.Commit(Day(clock.NowMicros()));
      erased_on = Day(clock.NowMicros());
      CHECK(CountSteps(tmp.Path(), "u5") == 0);
      for (const char* exp : {"exp_a", "exp_b"}) {
        const auto amounts = (*store)->Amounts(exp);
        REQUIRE(amounts.has_value());
        for (const UserAmounts& u : amounts->users) CHECK(u.user_id != "u5");
      }
    }
    if (day == 5) {  // u5 comes back: a history from scratch
      commit({Exposure("u5-x2", "u5", "exp_b", "treatment", clock.NowMicros(), 1),
              Outcome("u5-b2", EventType::kBind, "u5", clock.NowMicros(), 12'345)});
    }
    check(erased_on);
    clock.Advance(kDay - 3 * kHour);
  }
  {  // a day with nothing but covariates: steps of unchanged amounts
    std::vector<Covariates> list;
    for (int u = 1; u < 40; u += 4) list.push_back({fmt::format("u{}", u), 3'000 * u, 2});
    set_covariates(list);
    check(erased_on);
  }
  // Not vacuous: users with several steps, steps that record only a change of covariates or
  // bucket.
  std::size_t multi_step = 0, amounts_unchanged = 0;
  for (const char* exp : {"exp_a", "exp_b"}) {
    for (const auto& [user, u] : oracle.Expected(exp)) {
      multi_step += u.steps.size() > 2 ? 1U : 0U;
      for (std::size_t i = 1; i < u.steps.size(); ++i) {
        amounts_unchanged += u.steps[i].premium_cents == u.steps[i - 1].premium_cents &&
                                     u.steps[i].revenue_cents == u.steps[i - 1].revenue_cents
                                 ? 1U
                                 : 0U;
      }
    }
  }
  CHECK(multi_step > 5);
  CHECK(amounts_unchanged > 0);
  CHECK((*store)->Amounts("exp_a")->since_day.empty());  // created with schema v12
  // u5's steps since coming back, and no row of the erased history left behind.
  std::int64_t u5_steps = 0;
  for (const char* exp : {"exp_a", "exp_b"}) {
    const auto expected = oracle.Expected(exp);
    if (expected.contains("u5"))
      u5_steps += static_cast<std::int64_t>(expected.at("u5").steps.size());
  }
  CHECK(u5_steps > 0);
  CHECK(CountSteps(tmp.Path(), "u5") == u5_steps);
}

TEST_CASE(
    "an upgraded database records every user's amounts as one step of the upgrade day, and "
    "approximates the new sums of the earlier snapshots") {
  TempDb tmp;
  ManualClock clock(kNov29 + kHour);
  const EventStoreOptions options{.path = tmp.Path(), .product_margins = Margins()};
  AmountOracle oracle(options.attribution_window_us);
  BucketTotalsMap totals_before;
  std::vector<DailyTotals> history_before;
  {
    auto store = SqliteEventStore::Open(options, clock);
    REQUIRE(store.has_value());
    int id = 0;
    auto post_day = [&](int day) {
      std::vector<Event> batch;
      for (int u = 0; u < 30; ++u) {
        const std::string user = fmt::format("u{}", u);
        if ((u + day) % 3 == 0) continue;
        // Exposures dated up to the day before they arrive: a snapshot counts them on the
        // day they arrived, the approximation on the day they are dated.
        batch.push_back(Exposure(fmt::format("x{}", id++), user, "exp",
                                 u % 2 ? "treatment" : "control",
                                 clock.NowMicros() - (u % 4 == 0 ? kDay : 0), 1 + (u + day) % 3));
        if ((u * 7 + day) % 4 == 0) {
          batch.push_back(Outcome(fmt::format("b{}", id++), EventType::kBind, user,
                                  clock.NowMicros(), 5'000 + 111 * u + day));
          batch.back().product_id = fmt::format("p{}", (u + day) % 3);
        }
      }
      REQUIRE(SubmitSync(**store, batch).has_value());
      oracle.Post(batch);
    };
    std::vector<Covariates> even, odd;
    for (int u = 0; u < 30; u += 2)
      even.push_back({fmt::format("u{}", u), 20'000 + 500 * u, u % 4});
    for (int u = 1; u < 30; u += 2) odd.push_back({fmt::format("u{}", u), 9'000 * u, 1 + u % 3});
    REQUIRE(SetCovariatesSync(**store, even).has_value());
    oracle.SetCovariates(even);
    post_day(0);
    clock.Advance(kDay);
    REQUIRE(SetCovariatesSync(**store, odd).has_value());  // after their first exposures
    oracle.SetCovariates(odd);
    post_day(1);
    clock.Advance(kDay);
    post_day(2);
    totals_before = *(*store)->Totals("exp");
    history_before = *(*store)->History("exp");
  }
  DropSchemaV12(tmp.Path());
  clock.Advance(3 * kDay);
  const std::string upgrade_day = Day(clock.NowMicros());
  auto store = SqliteEventStore::Open(options, clock);
  REQUIRE(store.has_value());

  // The bucket totals: exact.
  const BucketTotalsMap totals = *(*store)->Totals("exp");
  CHECK(totals == totals_before);
  CHECK(totals == Recompute(tmp.Path(), "exp", options.attribution_window_us));
  CHECK(totals.at("treatment").x_z > 0);

  // The snapshots: the other sums untouched; the new ones exact on each bucket's latest day
  // (nothing changed it since), else as sqlite_schema.cc's v12 documents it, recomputed here
  // from the posted events: the users now in the bucket with covariates, from the day of
  // their first exposure, with the impressions of the exposures dated up to that day.
  const std::vector<DailyTotals> history = *(*store)->History("exp");
  REQUIRE(history.size() == history_before.size());
  auto without_v12 = [](BucketTotalsMap m) {
    for (auto& [bucket, t] : m) t.x_z = t.x_impressions = t.z_impressions = 0;
    return m;
  };
  for (std::size_t i = 0; i < history.size(); ++i) {
    CAPTURE(history[i].day);
    CHECK(without_v12(history[i].buckets) == without_v12(history_before[i].buckets));
  }
  auto db = SqliteDb::Open(tmp.Path(), true);
  REQUIRE(db.has_value());
  auto rows = (*db)->Prepare(
      "SELECT bucket, day, x_z, x_impressions, z_impressions, day = (SELECT MAX(day) FROM "
      "bucket_daily l WHERE l.experiment = d.experiment AND l.bucket = d.bucket) FROM "
      "bucket_daily d WHERE experiment = 'exp'");
  REQUIRE(rows.has_value());
  int approximated = 0, differs_from_exact = 0;
  while (*rows->Step()) {
    const std::string bucket = rows->Text(0), day = rows->Text(1);
    CAPTURE(bucket);
    CAPTURE(day);
    const Int128 x_z = rows->Int128At(2), x_i = rows->Int128At(3), z_i = rows->Int128At(4);
    if (rows->Int(5) != 0) {
      CHECK(x_z == totals.at(bucket).x_z);
      CHECK(x_i == totals.at(bucket).x_impressions);
      CHECK(z_i == totals.at(bucket).z_impressions);
      continue;
    }
    Int128 want_x_z = 0, want_x_i = 0, want_z_i = 0;
    for (const auto& [user, c] : oracle.covariates()) {
      const auto s = oracle.Compute("exp", user);
      if (!s || s->bucket != bucket || Day(s->first_ts) > day) continue;
      want_x_z += Int128{c.premium_before_cents} * c.products_held;
      for (const Event& e : oracle.events()) {
        if (e.type != EventType::kExposure || e.user_id != user || Day(e.ts_us) > day) continue;
        const auto items = static_cast<std::int64_t>(e.items.size());
        want_x_i += Int128{c.premium_before_cents} * items;
        want_z_i += Int128{c.products_held} * items;
      }
    }
    CHECK(x_z == want_x_z);
    CHECK(x_i == want_x_i);
    CHECK(z_i == want_z_i);
    ++approximated;
    for (const DailyTotals& d : history_before) {  // the sums the store had kept exactly
      if (d.day == day && d.buckets.contains(bucket)) {
        differs_from_exact += d.buckets.at(bucket).x_z != x_z ? 1 : 0;
      }
    }
  }
  CHECK(approximated >= 2);
  CHECK(differs_from_exact > 0);  // the odd users' covariates came a day after their exposures

  // The amount history: from the upgrade day, every user with an amount as one step of it.
  oracle.Commit(upgrade_day);
  auto amounts = (*store)->Amounts("exp");
  REQUIRE(amounts.has_value());
  CHECK(amounts->since_day == upgrade_day);
  const auto expected = oracle.Expected("exp");
  CHECK(expected.size() >= 10);
  const auto stored = ByUser(*amounts);
  CHECK(stored.size() == expected.size());
  for (const auto& [user, e] : expected) {
    CAPTURE(user);
    REQUIRE(e.steps.size() == 1);
    REQUIRE(stored.contains(user));
    CHECK(ToString(stored.at(user)) == ToString(e));
  }

  // Later binds (unpriced): on the upgrade day they update its step, the next day they add
  // one.
  const std::string binder = expected.begin()->first;
  const UserAmountStep at_upgrade = expected.begin()->second.steps[0];
  const std::int64_t premium = at_upgrade.premium_cents, revenue = at_upgrade.revenue_cents;
  auto unpriced_bind = [&](std::string id, std::int64_t cents) {
    Event e = Outcome(std::move(id), EventType::kBind, binder, kNov29 + kDay, cents);
    e.product_id = "p2";
    return e;
  };
  REQUIRE(SubmitSync(**store, {unpriced_bind("later-1", 1'000)}).has_value());
  CHECK(ByUser(*(*store)->Amounts("exp")).at(binder).steps ==
        std::vector<UserAmountStep>{{upgrade_day, premium + 1'000, revenue}});
  clock.Advance(kDay);
  REQUIRE(SubmitSync(**store, {unpriced_bind("later-2", 2'000)}).has_value());
  const auto after = ByUser(*(*store)->Amounts("exp")).at(binder).steps;
  CHECK(after == std::vector<UserAmountStep>{{upgrade_day, premium + 1'000, revenue},
                                             {Day(clock.NowMicros()), premium + 3'000, revenue}});
  CHECK(*(*store)->Totals("exp") == Recompute(tmp.Path(), "exp", options.attribution_window_us));

  // Recorded once: a reopen changes nothing.
  const AmountHistory before_reopen = *(*store)->Amounts("exp");
  store->reset();
  clock.Advance(kDay);
  auto again = SqliteEventStore::Open(options, clock);
  REQUIRE(again.has_value());
  const AmountHistory reopened = *(*again)->Amounts("exp");
  CHECK(reopened.since_day == upgrade_day);
  CHECK(ByUser(reopened).size() == ByUser(before_reopen).size());
  for (const auto& [user, u] : ByUser(before_reopen)) {
    CHECK(ToString(ByUser(reopened).at(user)) == ToString(u));
  }
}

TEST_CASE("a failed transaction leaves the amount history and its chain as they were") {
  TempDb tmp;
  ManualClock clock(kNov29 + kHour);
  auto w = SqliteEventWriter::Open({.path = tmp.Path()}, clock);
  REQUIRE(w.has_value());
  auto commit = [&](std::vector<Event> events) {
    const WriteOp ops[] = {{&events, nullptr, nullptr}};
    return (*w)->Commit(ops);
  };
  REQUIRE(commit({Exposure("a1", "alice", "exp", "control", clock.NowMicros(), 1),
                  Outcome("a2", EventType::kBind, "alice", clock.NowMicros(), 1'000)}));
  {
    auto db = SqliteDb::Open(tmp.Path());
    REQUIRE((*db)
                ->Exec("CREATE TRIGGER boom BEFORE INSERT ON user_amounts WHEN NEW.user_id = "
                       "'bob' BEGIN SELECT RAISE(ABORT, 'boom'); END;")
                .has_value());
  }
  // The next day: alice's new step is written, then bob's fails, and with it the whole
  // transaction; alice's in-memory row must point at her stored step again.
  clock.Advance(kDay);
  REQUIRE_FALSE(commit({Outcome("a3", EventType::kBind, "alice", clock.NowMicros(), 2'000),
                        Exposure("b1", "bob", "exp", "control", clock.NowMicros(), 1),
                        Outcome("b2", EventType::kBind, "bob", clock.NowMicros(), 500)}));
  CHECK(CountSteps(tmp.Path(), "alice") == 1);
  {
    auto db = SqliteDb::Open(tmp.Path());
    REQUIRE((*db)->Exec("DROP TRIGGER boom").has_value());
  }
  REQUIRE(commit({Outcome("a3", EventType::kBind, "alice", clock.NowMicros(), 2'000)}));
  REQUIRE(commit({Outcome("a4", EventType::kBind, "alice", clock.NowMicros(), 4'000)}));
  CHECK(CountSteps(tmp.Path(), "alice") == 2);  // one per day
  {
    auto db = SqliteDb::Open(tmp.Path(), true);
    auto steps = ReadAmountHistory(**db, "exp");
    REQUIRE(steps.has_value());
    REQUIRE(steps->users.size() == 1);
    CHECK(steps->users[0].steps ==
          std::vector<UserAmountStep>{{Day(kNov29), 1'000, 0}, {Day(kNov29 + kDay), 7'000, 0}});
  }
  // Erasure follows the chain from the latest step to the first.
  std::string alice = "alice";
  const WriteOp erase[] = {{nullptr, &alice, nullptr}};
  REQUIRE((*w)->Commit(erase).has_value());
  CHECK(CountSteps(tmp.Path(), "alice") == 0);
}

TEST_CASE("a step whose predecessor is missing is an error, not a user read twice") {
  TempDb tmp;
  ManualClock clock(kNov29 + kHour);
  {
    auto store = SqliteEventStore::Open({.path = tmp.Path()}, clock);
    REQUIRE(store.has_value());
    REQUIRE(SubmitSync(**store, {Exposure("a1", "alice", "exp", "control", clock.NowMicros(), 1),
                                 Outcome("a2", EventType::kBind, "alice", clock.NowMicros(), 10)}));
    clock.Advance(kDay);
    REQUIRE(SubmitSync(**store, {Outcome("a3", EventType::kBind, "alice", clock.NowMicros(), 20)}));
    CHECK((*store)->Amounts("exp")->users.size() == 1);
  }
  auto db = SqliteDb::Open(tmp.Path());
  REQUIRE(db.has_value());
  REQUIRE((*db)->Exec("DELETE FROM user_amounts WHERE prev = 0").has_value());
  const auto read = ReadAmountHistory(**db, "exp");
  REQUIRE_FALSE(read.has_value());
  CHECK(read.error().code == ErrorCode::kInternal);
  CHECK(read.error().message.find("which is not there") != std::string::npos);
}

}  // namespace abrec
