// Sufficient statistics with the user as the unit. Per (experiment, user) running totals,
// and per (experiment, bucket) sums over users, kept exact in integers (counts and cents)
// and updated by delta: when a user's totals change from `old` to `new`, the bucket
// subtracts old's contribution and adds new's. The bucket sums are 128-bit: squares and
// cross products of premiums in cents pass 2^63 at realistic portfolio sizes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "base/int128.h"

namespace abrec {

struct UserTotals {
  std::int64_t exposures = 0;
  std::int64_t impressions = 0;  // items shown
  std::int64_t clicks = 0;
  std::int64_t binds = 0;
  std::int64_t premium_cents = 0;  // annual premium bound
  // Revenue: premium × the product's catalog margin, summed over the binds whose product the
  // catalog prices; the others are counted in unpriced_binds (they add no revenue).
  std::int64_t revenue_cents = 0;
  std::int64_t unpriced_binds = 0;
  // Pre-experiment covariates (CUPED), when the client posted them for this user.
  bool has_covariates = false;
  std::int64_t premium_before_cents = 0;  // annual premium held before the experiment
  std::int64_t products_held = 0;         // products held before the experiment
  bool operator==(const UserTotals&) const = default;
};

struct BucketTotals {
  Int128 users = 0;
  Int128 exposures = 0;
  Int128 impressions = 0;
  Int128 impressions_sq = 0;  // sum over users of impressions²
  Int128 clicks = 0;
  Int128 clicks_sq = 0;
  Int128 clicks_x_impressions = 0;  // for click_rate's delta method
  Int128 clicking_users = 0;
  Int128 binders = 0;
  Int128 binds = 0;
  Int128 binds_sq = 0;
  Int128 premium_cents = 0;
  Int128 premium_cents_sq = 0;
  // CUPED: over the users with covariates, x = premium_before_cents and z = products_held,
  // their sums, squares and cross sums with the outcomes.
  Int128 covariate_users = 0;
  Int128 x = 0, x_sq = 0, x_binders = 0, x_binds = 0, x_premium = 0, x_clicks = 0;
  Int128 z = 0, z_sq = 0, z_binders = 0, z_binds = 0, z_premium = 0, z_clicks = 0;
  // Revenue per user (schema v9), with its CUPED cross sums.
  Int128 revenue_cents = 0;
  Int128 revenue_cents_sq = 0;
  Int128 x_revenue = 0, z_revenue = 0;
  Int128 unpriced_binds = 0;
  // Schema v12: the covariates' cross sum (a regression on both needs it) and their cross
  // sums with impressions (click_rate's denominator), over the users with covariates.
  Int128 x_z = 0, x_impressions = 0, z_impressions = 0;

  static constexpr std::size_t kFieldCount = 34;
  // Storage column names, in the order of Fields().
  static const std::array<std::string_view, kFieldCount>& FieldNames();
  std::array<Int128*, kFieldCount> Fields();
  std::array<const Int128*, kFieldCount> Fields() const;

  // Adds (sign +1) or removes (sign -1) one user's contribution.
  void Apply(const UserTotals& u, int sign);
  // Pools another bucket's users (e.g. every recommended arm against the holdout).
  BucketTotals& operator+=(const BucketTotals& o);
  bool operator==(const BucketTotals&) const = default;
};

// A click or bind counted into a user's totals (every path that attributes one uses this).
// `revenue_cents`: the bind's premium × margin, or nullopt when the catalog has no margin for
// its product.
void CountOutcome(UserTotals& u, bool bind, std::int64_t premium_cents,
                  std::optional<std::int64_t> revenue_cents);
// A bind's revenue alone (CountOutcome's part, also for binds priced after the fact).
void CountBindRevenue(UserTotals& u, std::optional<std::int64_t> revenue_cents);

}  // namespace abrec
