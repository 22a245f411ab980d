// The off-policy log: what the exploration bucket says about policies it did not run.
//
// The exploration bucket shows k products drawn uniformly from the n eligible ones, so each
// product a is shown with a known probability p(a) = k/n (its propensity, logged). When the
// service serves such a list it also computes what each variant's policy would have shown
// that customer (ExposedItem::in_lists, Event::ope_targets). For a target policy π with list
// L, each exploration list i showing S then gives, per metric (clicks, binds, bound premium
// in currency units, r_{i,a} the outcomes on product a that name the list's request_id):
//   y_i = Σ_{a in S∩L} r_{i,a} / p_i(a)                      (IPS: item-level weights)
//   v_i = Σ_{a in S∩L} 1 / p_i(a)  /  m_i                    (its weight; E[v_i] = 1)
//   z_i = y_i + Σ_{a in L} q̂_i(a) − Σ_{a in S∩L} q̂_i(a) / p_i(a)   (DR)
// where m_i is the number of L's products the exploration policy can show (E[Σ 1/p] = m_i)
// and q̂ the reward model's predictions made when the list was served (RewardPrediction).
// y is unbiased for the expected reward of π's list when each item's reward does not depend
// on the rest of the list (Li, Kim and Zitouni, WSDM 2015; Swaminathan et al., "Off-policy
// evaluation for slate recommendation", NeurIPS 2017, item-position model) and L lies in the
// exploration policy's support; z is unbiased under the same conditions whatever q̂ is, since
// q̂ is fixed before the outcomes. stats/off_policy.h turns the sums into IPS = Σy/n,
// SNIPS = Σy/Σv and DR = Σz/n with standard errors clustered by user.
//
// A list whose target's support was not logged (m_i unknown: lists from before schema v10, or
// exposures that do not say) has v_i = 1, its expectation; one without the reward model's
// predictions has z_i = y_i (q̂ = 0, so DR is IPS on it); a list whose m_i is 0 has v_i = 1.
// The sums count such lists (weighted_lists, modelled_lists, unsupported_lists).
//
//
// The sums live here, apart from the backend that keeps them (eventstore/sqlite/off_policy_log.h).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "stats/off_policy.h"

namespace abrec {

// The metrics, in the order of OffPolicySums::metrics (and the prefixes of their columns).
inline constexpr std::array<std::string_view, 3> kOffPolicyMetrics = {"clicks", "binds", "premium"};

// Per (experiment, target): its lists' and users' sums.
struct OffPolicySums {
  // Per metric of kOffPolicyMetrics. Their units (the lists), clusters (the users), v, v_sq,
  // nn and vv are the same for the three.
  std::array<stats::OpeSums, kOffPolicyMetrics.size()> metrics{};
  std::int64_t weighted_lists = 0;     // v normalised by the target's support (logged)
  std::int64_t modelled_lists = 0;     // z with the reward model's predictions
  std::int64_t unsupported_lists = 0;  // L has products the exploration policy cannot show

  std::int64_t lists() const { return metrics[0].units; }
  std::int64_t users() const { return metrics[0].clusters; }
};

// target (a variant name) -> sums.
using OffPolicyByTarget = std::map<std::string, OffPolicySums>;

}  // namespace abrec
