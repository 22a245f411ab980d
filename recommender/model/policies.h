// The policies of the experiment's arms: what a customer is shown.
//   recommender   the pipeline: candidate generation (factorisation), scoring (XGBoost),
//                 re-ranking with the business rules (recommender/model/reranker.h);
//   legacy_rules  the rule-based recommender: the products most held in the customer's age
//                 band, under the same hard filters and category caps (control, and the
//                 fallback of the pipeline);
//   random        exploration: uniformly random eligible products not held, each with the
//                 probability that the policy shows it (for off-policy estimates);
//   none          the holdout: nothing.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"
#include "recommender/data/catalog.h"
#include "recommender/model/customer_profile.h"
#include "recommender/model/model.h"
#include "recommender/model/reranker.h"

namespace abrec {

struct RecommendedItem {
  std::size_t product = 0;
  int rank = 0;  // 1-based
  double score = 0;
  std::optional<double> p_click;  // the model's, when the policy used one
  std::optional<double> p_bind;   // P(bind) per impression: P(click)·P(bind | click)
  // The probability that the policy shows this product in the list (1 for deterministic
  // policies; k/n for the random policy choosing k of n eligible products).
  double propensity = 1.0;
  std::string reason;
  std::vector<float> features;  // the scorer's features (pipeline only), for the audit
};

struct PolicyList {
  std::vector<RecommendedItem> items;
  std::vector<std::string> rules_applied;  // what the re-ranking rules removed or skipped
};

// The rule-based list: segment popularity (`segments`: per age band, the share of customers
// holding each product; null or no entry for the band: catalog order) under the hard filters.
PolicyList LegacyRulesList(const Catalog& catalog,
                           const std::map<std::string, std::vector<double>>* segments,
                           const CustomerProfile& customer, int k, const RankingRules& rules);

// Whether the random policy can show `product` to this customer: it is eligible for the
// customer's age and not held.
bool Explorable(const Catalog& catalog, const CustomerProfile& customer, std::size_t product);

// k products drawn uniformly without replacement from the explorable ones (each with
// propensity k/n, n of them explorable; all of them, propensity 1, when n ≤ k).
PolicyList RandomList(const Catalog& catalog, const CustomerProfile& customer, int k,
                      std::mt19937_64& rng);

// The pipeline. `candidates`: precomputed candidate products (the batch cache), or empty to
// generate them now from the factorisation (`candidate_count` of them).
Result<PolicyList> PipelineList(const RecommenderModel& model, const CustomerProfile& customer,
                                int k, const RankingRules& rules,
                                std::span<const std::size_t> candidates,
                                std::size_t candidate_count = 100);

}  // namespace abrec
