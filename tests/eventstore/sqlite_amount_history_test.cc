// The per-user amount history (AggregateSource::Amounts, schema v12) against an oracle that
// recomputes it from the posted events, commit by commit (amount_history_oracle.h). Its upgrade
// and its transactions have files of their own: sqlite_amount_history_{upgrade,chain}_test.cc.
#include <future>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "eventstore/sqlite/sqlite_event_store.h"
#include "tests/eventstore/amount_history_oracle.h"
#include "tests/eventstore/store_test_util.h"

namespace abrec {
namespace {

// The amounts as of the close of `day`: the last step on or before it.
UserAmountStep ValueAt(const std::vector<UserAmountStep>& steps, const std::string& day) {
  UserAmountStep v{day, 0, 0};
  for (const UserAmountStep& s : steps) {
    if (s.day > day) break;
    v = {day, s.premium_cents, s.revenue_cents};
  }
  return v;
}

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

}  // namespace abrec
