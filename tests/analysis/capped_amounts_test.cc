#include "analysis/capped_amounts.h"

#include <algorithm>
#include <vector>

#include <doctest/doctest.h>

#include "stats/winsorize.h"

namespace abrec {

TEST_CASE("capping: one pooled cap over the non-zero amounts, every sum recomputed") {
  // Seven binders over two buckets, one huge policy; numpy's np.quantile([...], 0.8) of the
  // non-zero premiums [100, 200, 300, 400, 500, 600, 100000] (in cents) is 580: index
  // 0.8·6 = 4.8, 500 + 0.8·(600 − 500).
  const std::vector<UserAmount> users = {
      {"control", 100, 10, true, 1'000, 1},    {"control", 200, 20, false, 0, 0},
      {"control", 100'000, 0, true, 5'000, 2}, {"treatment", 300, 30, true, 2'000, 1},
      {"treatment", 400, 40, false, 0, 0},     {"treatment", 500, 50, true, 500, 3},
      {"treatment", 600, 60, true, 100, 1}};
  BucketTotalsMap totals;
  totals["control"].users = 10;
  totals["control"].premium_cents = 999;  // replaced
  totals["treatment"].users = 10;
  totals["holdout"].users = 5;
  const AmountCaps caps = CapAmounts(totals, users, 0.8);
  CHECK(caps.premium_cents == 580);
  CHECK(caps.premium_capped == 2);  // 600 and 100,000
  // Revenue's non-zero amounts: [10, 20, 30, 40, 50, 60] → 0.8·5 = 4 → 50.
  CHECK(caps.revenue_cents == 50);
  const BucketTotals& c = totals["control"];
  CHECK(c.premium_cents == 100 + 200 + 580);
  CHECK(c.premium_cents_sq == 100 * 100 + 200 * 200 + 580 * 580);
  CHECK(c.x_premium == 1'000 * 100 + 5'000 * 580);
  CHECK(c.z_premium == 1 * 100 + 2 * 580);
  CHECK(c.revenue_cents == 30);
  const BucketTotals& t = totals["treatment"];
  CHECK(t.premium_cents == 300 + 400 + 500 + 580);
  CHECK(t.revenue_cents == 30 + 40 + 50 + 50);
  CHECK(t.x_revenue == 2'000 * 30 + 500 * 50 + 100 * 50);
  CHECK(totals["holdout"].premium_cents == 0);
  CHECK(totals["holdout"].users == 5);  // only the amounts change
  // q = 1: nothing is capped.
  BucketTotalsMap raw;
  raw["control"];
  raw["treatment"];
  const AmountCaps none = CapAmounts(raw, users, 1.0);
  CHECK(none.premium_cents == 100'000);
  CHECK(none.premium_capped == 0);
  CHECK(raw["control"].premium_cents == 100 + 200 + 100'000);
}

}  // namespace abrec
