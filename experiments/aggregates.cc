#include "experiments/aggregates.h"

namespace abrec {

void BucketTotals::Apply(const UserTotals& u, int sign) {
  const std::int64_t s = sign;
  users += s;
  exposures += s * u.exposures;
  impressions += s * u.impressions;
  impressions_sq += s * u.impressions * u.impressions;
  clicks += s * u.clicks;
  clicks_sq += s * u.clicks * u.clicks;
  clicks_x_impressions += s * u.clicks * u.impressions;
  clicking_users += s * (u.clicks > 0 ? 1 : 0);
  binders += s * (u.binds > 0 ? 1 : 0);
  binds += s * u.binds;
  binds_sq += s * u.binds * u.binds;
  premium_cents += s * u.premium_cents;
  premium_cents_sq += s * u.premium_cents * u.premium_cents;
}

BucketTotals& BucketTotals::operator+=(const BucketTotals& o) {
  users += o.users;
  exposures += o.exposures;
  impressions += o.impressions;
  impressions_sq += o.impressions_sq;
  clicks += o.clicks;
  clicks_sq += o.clicks_sq;
  clicks_x_impressions += o.clicks_x_impressions;
  clicking_users += o.clicking_users;
  binders += o.binders;
  binds += o.binds;
  binds_sq += o.binds_sq;
  premium_cents += o.premium_cents;
  premium_cents_sq += o.premium_cents_sq;
  return *this;
}

}  // namespace abrec
