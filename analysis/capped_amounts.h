// Winsorised premium and revenue (`analysis.premium_cap_quantile`): per-user amounts above a
// cap are set to the cap before they are tested, so that a few very large policies do not
// dominate the variance. One cap per amount, pooled over every bucket of the experiment, so
// that the arms are capped alike: the q quantile (type 7, numpy's default) of the users'
// non-zero amounts. Premium is zero for most users; a quantile over everyone would put the
// cap at 0 for any q below the share of non-binders and turn premium into a bind rate
// (GrowthBook's percentile capping offers "ignore zeros" for the same reason).
//
// Only the users with an amount matter: a user without one contributes 0 capped or not.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "eventstore/event_store.h"

namespace abrec {

struct UserAmount {
  std::string_view bucket;
  std::int64_t premium_cents = 0;
  std::int64_t revenue_cents = 0;
  bool has_covariates = false;
  std::int64_t premium_before_cents = 0;  // x
  std::int64_t products_held = 0;         // z
};

struct AmountCaps {
  double premium_cents = 0;  // the caps (0 when no user has the amount)
  double revenue_cents = 0;
  std::int64_t premium_capped = 0;  // users whose amount was lowered
  std::int64_t revenue_capped = 0;
};

// Replaces, in every bucket of `totals`, the premium and revenue sums (Σ, Σ², and the cross
// sums with the covariates) by those of the capped amounts of `users` (every user of the
// experiment with a non-zero premium or revenue, in their bucket). 0 < q ≤ 1; caps are
// rounded to whole cents.
AmountCaps CapAmounts(BucketTotalsMap& totals, std::span<const UserAmount> users, double q);

// The users' amounts as of the close of each day, oldest first, from the store's history
// (AmountHistory): what CapAmounts needs at each of the report's daily looks. `history` must
// outlive it.
class AmountLooks {
 public:
  explicit AmountLooks(const AmountHistory& history);
  // Whether a look at the close of `day` ("YYYY-MM-DD") can be capped: the history is
  // complete from since_day on.
  bool Covers(const std::string& day) const;
  // The amounts as of the close of `day`; days must not decrease from one call to the next.
  // Users without an amount yet are left out.
  std::span<const UserAmount> At(const std::string& day);
  // The current amounts (each user's last step).
  std::span<const UserAmount> Now();

 private:
  const AmountHistory* history_;
  std::vector<std::size_t> next_;  // per user: the index of their first step after the last day
  std::vector<UserAmount> out_;
};

}  // namespace abrec
