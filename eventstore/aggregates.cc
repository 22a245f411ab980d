#include "eventstore/aggregates.h"

namespace abrec {

const std::array<std::string_view, BucketTotals::kFieldCount>& BucketTotals::FieldNames() {
  static constexpr std::array<std::string_view, kFieldCount> kNames = {"users",
                                                                       "exposures",
                                                                       "impressions",
                                                                       "impressions_sq",
                                                                       "clicks",
                                                                       "clicks_sq",
                                                                       "clicks_x_impressions",
                                                                       "clicking_users",
                                                                       "binders",
                                                                       "binds",
                                                                       "binds_sq",
                                                                       "premium_cents",
                                                                       "premium_cents_sq",
                                                                       "covariate_users",
                                                                       "x",
                                                                       "x_sq",
                                                                       "x_binders",
                                                                       "x_binds",
                                                                       "x_premium",
                                                                       "x_clicks",
                                                                       "z",
                                                                       "z_sq",
                                                                       "z_binders",
                                                                       "z_binds",
                                                                       "z_premium",
                                                                       "z_clicks",
                                                                       "revenue_cents",
                                                                       "revenue_cents_sq",
                                                                       "x_revenue",
                                                                       "z_revenue",
                                                                       "unpriced_binds",
                                                                       "x_z",
                                                                       "x_impressions",
                                                                       "z_impressions"};
  return kNames;
}

std::array<Int128*, BucketTotals::kFieldCount> BucketTotals::Fields() {
  return {&users,
          &exposures,
          &impressions,
          &impressions_sq,
          &clicks,
          &clicks_sq,
          &clicks_x_impressions,
          &clicking_users,
          &binders,
          &binds,
          &binds_sq,
          &premium_cents,
          &premium_cents_sq,
          &covariate_users,
          &x,
          &x_sq,
          &x_binders,
          &x_binds,
          &x_premium,
          &x_clicks,
          &z,
          &z_sq,
          &z_binders,
          &z_binds,
          &z_premium,
          &z_clicks,
          &revenue_cents,
          &revenue_cents_sq,
          &x_revenue,
          &z_revenue,
          &unpriced_binds,
          &x_z,
          &x_impressions,
          &z_impressions};
}

std::array<const Int128*, BucketTotals::kFieldCount> BucketTotals::Fields() const {
  // The same list as the mutable overload: one definition of the order.
  const auto fields = const_cast<BucketTotals*>(this)->Fields();
  std::array<const Int128*, kFieldCount> out{};
  for (std::size_t i = 0; i < kFieldCount; ++i) out[i] = fields[i];
  return out;
}

BucketTotals& BucketTotals::operator+=(const BucketTotals& o) {
  const auto mine = Fields();
  const auto theirs = o.Fields();
  for (std::size_t i = 0; i < kFieldCount; ++i) *mine[i] += *theirs[i];
  return *this;
}

void BucketTotals::Apply(const UserTotals& u, int sign) {
  const Int128 s = sign;
  const Int128 binder = u.binds > 0 ? 1 : 0;
  const Int128 premium = u.premium_cents;
  users += s;
  exposures += s * u.exposures;
  impressions += s * u.impressions;
  impressions_sq += s * u.impressions * u.impressions;
  clicks += s * u.clicks;
  clicks_sq += s * u.clicks * u.clicks;
  clicks_x_impressions += s * u.clicks * u.impressions;
  clicking_users += s * (u.clicks > 0 ? 1 : 0);
  binders += s * binder;
  binds += s * u.binds;
  binds_sq += s * u.binds * u.binds;
  premium_cents += s * u.premium_cents;
  premium_cents_sq += s * premium * premium;
  const Int128 revenue = u.revenue_cents;
  revenue_cents += s * revenue;
  revenue_cents_sq += s * revenue * revenue;
  unpriced_binds += s * u.unpriced_binds;
  if (!u.has_covariates) return;
  const Int128 cx = u.premium_before_cents, cz = u.products_held;
  covariate_users += s;
  x += s * cx;
  x_sq += s * cx * cx;
  x_binders += s * cx * binder;
  x_binds += s * cx * u.binds;
  x_premium += s * cx * premium;
  x_clicks += s * cx * u.clicks;
  z += s * cz;
  z_sq += s * cz * cz;
  z_binders += s * cz * binder;
  z_binds += s * cz * u.binds;
  z_premium += s * cz * premium;
  z_clicks += s * cz * u.clicks;
  x_revenue += s * cx * revenue;
  z_revenue += s * cz * revenue;
  x_z += s * cx * cz;
  x_impressions += s * cx * u.impressions;
  z_impressions += s * cz * u.impressions;
}

void CountOutcome(UserTotals& u, bool bind, std::int64_t premium_cents,
                  std::optional<std::int64_t> revenue_cents) {
  if (!bind) {
    ++u.clicks;
    return;
  }
  ++u.binds;
  u.premium_cents += premium_cents;
  CountBindRevenue(u, revenue_cents);
}

void CountBindRevenue(UserTotals& u, std::optional<std::int64_t> revenue_cents) {
  if (revenue_cents) {
    u.revenue_cents += *revenue_cents;
  } else {
    ++u.unpriced_binds;
  }
}

}  // namespace abrec
