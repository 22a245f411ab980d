#include "analysis/capped_amounts.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "stats/winsorize.h"

namespace abrec {
namespace {

// The q quantile of the non-zero amounts `of` picks, rounded to whole cents.
template <typename Of>
std::int64_t CapOf(std::span<const UserAmount> users, double q, Of of) {
  std::vector<double> values;
  values.reserve(users.size());
  for (const UserAmount& u : users) {
    if (of(u) > 0) values.push_back(static_cast<double>(of(u)));
  }
  return values.empty() ? 0 : std::llround(stats::Quantile(values, q));
}

}  // namespace

AmountCaps CapAmounts(BucketTotalsMap& totals, std::span<const UserAmount> users, double q) {
  AmountCaps caps;
  const std::int64_t premium_cap =
      CapOf(users, q, [](const UserAmount& u) { return u.premium_cents; });
  const std::int64_t revenue_cap =
      CapOf(users, q, [](const UserAmount& u) { return u.revenue_cents; });
  caps.premium_cents = static_cast<double>(premium_cap);
  caps.revenue_cents = static_cast<double>(revenue_cap);
  for (auto& [bucket, t] : totals) {
    t.premium_cents = t.premium_cents_sq = t.x_premium = t.z_premium = 0;
    t.revenue_cents = t.revenue_cents_sq = t.x_revenue = t.z_revenue = 0;
  }
  for (const UserAmount& u : users) {
    const auto it = totals.find(std::string(u.bucket));
    if (it == totals.end()) continue;
    BucketTotals& t = it->second;
    const Int128 p = std::min(u.premium_cents, premium_cap);
    const Int128 r = std::min(u.revenue_cents, revenue_cap);
    caps.premium_capped += u.premium_cents > premium_cap ? 1 : 0;
    caps.revenue_capped += u.revenue_cents > revenue_cap ? 1 : 0;
    t.premium_cents += p;
    t.premium_cents_sq += p * p;
    t.revenue_cents += r;
    t.revenue_cents_sq += r * r;
    if (u.has_covariates) {
      t.x_premium += u.premium_before_cents * p;
      t.z_premium += u.products_held * p;
      t.x_revenue += u.premium_before_cents * r;
      t.z_revenue += u.products_held * r;
    }
  }
  return caps;
}

AmountLooks::AmountLooks(const AmountHistory& history)
    : history_(&history), next_(history.users.size(), 0) {}

bool AmountLooks::Covers(const std::string& day) const {
  return history_->since_day.empty() || day >= history_->since_day;
}

std::span<const UserAmount> AmountLooks::At(const std::string& day) {
  out_.clear();
  for (std::size_t i = 0; i < history_->users.size(); ++i) {
    const UserAmounts& u = history_->users[i];
    std::size_t& next = next_[i];
    while (next < u.steps.size() && u.steps[next].day <= day) ++next;
    if (next == 0) continue;
    const UserAmountStep& step = u.steps[next - 1];
    if (step.premium_cents == 0 && step.revenue_cents == 0) continue;
    out_.push_back({u.bucket, step.premium_cents, step.revenue_cents, u.has_covariates,
                    u.premium_before_cents, u.products_held});
  }
  return out_;
}

std::span<const UserAmount> AmountLooks::Now() {
  out_.clear();
  for (const UserAmounts& u : history_->users) {
    if (u.steps.empty()) continue;
    const UserAmountStep& step = u.steps.back();
    out_.push_back({u.bucket, step.premium_cents, step.revenue_cents, u.has_covariates,
                    u.premium_before_cents, u.products_held});
  }
  return out_;
}

}  // namespace abrec
