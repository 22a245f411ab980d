// The deployment gate: before a candidate model serves customers it is compared with the
// baseline it replaces on the lists each would show the same customers (config/gate.yaml).
// It refuses the candidate when
//   - parity: for a product and a protected attribute (sex, age band, ...), the gap between
//     the groups' recommendation rates is further from parity than the baseline's by more
//     than `margin` (stats::FurtherFromParity), and the candidate's gap is significant (χ²
//     test, Bonferroni over the checks);
//   - eligibility: a list breaks an invariant (no life cover under 18, no student discount
//     past 25), checked independently of the catalog's own rules.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/diagnostic.h"
#include "configtree/config_tree.h"
#include "recommender/model/customer_profile.h"
#include "recommender/model/model.h"
#include "recommender/model/policies.h"
#include "recommender/model/reranker.h"

namespace abrec {

struct GateInvariant {
  std::string category;  // or
  std::string product;
  std::optional<int> min_age, max_age;
};

struct GateRules {
  int k = 3;
  double margin = 0.05;
  // A parity gap past the margin must also be significant: the candidate's χ² p below
  // alpha / (the number of parity checks), so that small groups' noise does not refuse.
  double alpha = 0.05;
  int min_group_customers = 50;
  std::vector<std::string> attributes{"sex", "age_band"};
  std::vector<GateInvariant> invariants;
};

ParseResult<GateRules> LoadGateRules(const std::string& path);

struct ParityCheck {
  std::string attribute, product;
  double candidate_gap = 0, baseline_gap = 0;
  double candidate_p_value = 1;
  std::string min_group{}, max_group{};  // the candidate's extremes
  double min_rate = 0, max_rate = 0;
  bool failed = false;
};

struct GateReport {
  std::size_t customers = 0;
  std::vector<ParityCheck> parity;  // every (attribute, product) compared
  // "eligibility: term_life shown to 3 customers under 18 (life: min_age 18)" ...
  std::vector<std::string> failures;
  bool passed() const { return failures.empty(); }
};

// What a policy would show a customer (k items); the gate compares two of them.
using GateList = std::function<Result<PolicyList>(const CustomerProfile& customer, int k)>;

// The pipeline's lists of `model`, and the rule-based lists ranked by `model`'s segment
// popularity. Both keep references: `model` and `ranking` must outlive the GateList.
GateList PipelineGateList(const RecommenderModel& model, const RankingRules& ranking);
GateList LegacyRulesGateList(const RecommenderModel& model, const RankingRules& ranking);

// Runs both policies over `customers`. Errors: the lists' (scoring failures).
Result<GateReport> RunGate(const Catalog& catalog, const GateList& candidate,
                           const GateList& baseline, std::span<const CustomerProfile> customers,
                           const GateRules& rules);

// Both models' pipelines (abrec gate).
Result<GateReport> RunGate(const RecommenderModel& candidate, const RecommenderModel& baseline,
                           std::span<const CustomerProfile> customers, const RankingRules& ranking,
                           const GateRules& rules);

// The first invariant that showing `product` to a customer of `age` breaks, or null.
const GateInvariant* BrokenBy(const GateRules& rules, const Product& product,
                              const std::optional<int>& age);
// "category life: min_age 18", "product student_contents: max_age 25".
std::string DescribeInvariant(const GateInvariant& invariant);

// The invariant `product` shown to a customer of `age` breaks, as a sentence ("student_contents
// shown to a customer aged 30 (product student_contents: max_age 25)"), or std::nullopt.
std::optional<std::string> BrokenInvariant(const GateRules& rules, const Product& product,
                                           const std::optional<int>& age);

}  // namespace abrec
