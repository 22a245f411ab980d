// Re-ranking: business rules after scoring (config/ranking.yaml). Eligibility is a hard
// filter (a model learns correlations, not rules), held products are removed, and the list
// is built greedily on a multi-objective score with a diversity term and category caps, so
// that a feed is not three variants of the same cover. Each shown product carries the rules
// that shaped the list, for the audit trail.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/diagnostic.h"
#include "configtree/config_tree.h"
#include "recommender/data/catalog.h"

namespace abrec {

struct RankingRules {
  int list_size = 3;
  double w_click = 1.0;
  double w_value = 0.6;
  double w_diversity = 0.15;
  double w_bind = 0;  // P(bind) = P(click)·P(bind | click), scaled by the pool's largest
  int max_per_category = 1;
  double tenure_years = 4;
};

ParseResult<RankingRules> ReadRankingRules(const ConfigNode& root, const std::string& file);
ParseResult<RankingRules> LoadRankingRules(const std::string& path);

struct ScoredCandidate {
  std::size_t product = 0;  // index in the catalog
  double p_click = 0;
  double p_bind = 0;  // given a click
};

struct RankedProduct {
  std::size_t product = 0;
  double score = 0;
};

struct RerankResult {
  std::vector<RankedProduct> shown;  // best first, at most list_size
  // What the rules did, for the audit: "eligibility: removed student_contents (age 50 >
  // max_age 25)", "held: removed auto_basic", "category cap: skipped home_contents (home)".
  std::vector<std::string> rules_applied;
};

RerankResult Rerank(const Catalog& catalog, std::span<const ScoredCandidate> candidates,
                    std::optional<int> age, const std::vector<bool>& holds,
                    const RankingRules& rules);

}  // namespace abrec
