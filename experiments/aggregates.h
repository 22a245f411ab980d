// Sufficient statistics with the user as the unit. Per (experiment, user) running totals,
// and per (experiment, bucket) sums over users, kept exact in integers (counts and cents)
// and updated by delta: when a user's totals change from `old` to `new`, the bucket
// subtracts old's contribution and adds new's.
#pragma once

#include <cstdint>
#include <string>

namespace abrec {

struct UserTotals {
  std::int64_t exposures = 0;
  std::int64_t impressions = 0;  // items shown
  std::int64_t clicks = 0;
  std::int64_t binds = 0;
  std::int64_t premium_cents = 0;  // annual premium bound
  bool operator==(const UserTotals&) const = default;
};

struct BucketTotals {
  std::int64_t users = 0;
  std::int64_t exposures = 0;
  std::int64_t impressions = 0;
  std::int64_t impressions_sq = 0;  // sum over users of impressions²
  std::int64_t clicks = 0;
  std::int64_t clicks_sq = 0;
  std::int64_t clicks_x_impressions = 0;  // for click_rate's delta method
  std::int64_t clicking_users = 0;
  std::int64_t binders = 0;
  std::int64_t binds = 0;
  std::int64_t binds_sq = 0;
  std::int64_t premium_cents = 0;
  std::int64_t premium_cents_sq = 0;

  // Adds (sign +1) or removes (sign -1) one user's contribution.
  void Apply(const UserTotals& u, int sign);
  BucketTotals& operator+=(const BucketTotals& o);
  bool operator==(const BucketTotals&) const = default;
};

}  // namespace abrec
