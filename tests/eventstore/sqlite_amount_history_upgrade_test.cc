// The amount history of a database upgraded to schema v12: every user's amounts as one step of
// the upgrade day, the new sums of the earlier snapshots approximated, later binds, a reopen.
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "eventstore/sqlite/sqlite_event_store.h"
#include "sqlitedb/sqlite_db.h"
#include "tests/eventstore/amount_history_oracle.h"
#include "tests/eventstore/store_test_util.h"

namespace abrec {

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

}  // namespace abrec
