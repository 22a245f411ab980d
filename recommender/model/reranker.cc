#include "recommender/model/reranker.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "configtree/schema_reader.h"

namespace abrec {

ParseResult<RankingRules> ReadRankingRules(const ConfigNode& root, const std::string& file) {
  SchemaReader r(file);
  RankingRules rules;
  if (!r.CheckMap(root, "", {"list_size", "weights", "max_per_category", "tenure_years"})) {
    return std::unexpected(r.TakeDiagnostics());
  }
  if (const auto* v = root.Find("list_size")) {
    if (auto x = r.Integer(*v, "list_size", 1, 50)) rules.list_size = static_cast<int>(*x);
  }
  if (const auto* v = root.Find("max_per_category")) {
    if (auto x = r.Integer(*v, "max_per_category", 1, 50))
      rules.max_per_category = static_cast<int>(*x);
  }
  if (const auto* v = root.Find("tenure_years")) {
    if (auto x = r.Number(*v, "tenure_years", 0.1, 50)) rules.tenure_years = *x;
  }
  if (const auto* w = root.Find("weights")) {
    if (r.CheckMap(*w, "weights", {"click", "bind", "value", "diversity"})) {
      for (const auto& [key, target] :
           {std::pair{"click", &rules.w_click}, std::pair{"bind", &rules.w_bind},
            std::pair{"value", &rules.w_value}, std::pair{"diversity", &rules.w_diversity}}) {
        if (const auto* v = w->Find(key)) {
          if (auto x = r.Number(*v, JoinField("weights", key), 0, 100)) *target = *x;
        }
      }
    }
  }
  if (!r.ok()) return std::unexpected(r.TakeDiagnostics());
  return rules;
}

ParseResult<RankingRules> LoadRankingRules(const std::string& path) {
  auto tree = ParseConfigFile(path, ParseLimits{});
  if (!tree) return std::unexpected(std::move(tree.error()));
  return ReadRankingRules(*tree, path);
}

RerankResult Rerank(const Catalog& catalog, std::span<const ScoredCandidate> candidates,
                    std::optional<int> age, const std::vector<bool>& holds,
                    const RankingRules& rules) {
  RerankResult out;
  std::vector<const ScoredCandidate*> pool;
  for (const ScoredCandidate& c : candidates) {
    if (c.product >= catalog.products.size()) continue;
    const Product& p = catalog.products[c.product];
    if (c.product < holds.size() && holds[c.product]) {
      out.rules_applied.push_back(fmt::format("held: removed {}", p.id));
      continue;
    }
    if (!Eligible(p, age)) {
      out.rules_applied.push_back(fmt::format(
          "eligibility: removed {} (age {}; allowed {}..{})", p.id,
          age ? std::to_string(*age) : std::string("unknown"),
          p.eligibility.min_age ? std::to_string(*p.eligibility.min_age) : std::string(),
          p.eligibility.max_age ? std::to_string(*p.eligibility.max_age) : std::string()));
      continue;
    }
    pool.push_back(&c);
  }
  // Lifetime value of showing a product: P(click)·P(bind | click)·premium·margin·tenure,
  // scaled by the largest in the pool so that the weights compare like with like.
  auto value = [&](const ScoredCandidate& c) {
    const Product& p = catalog.products[c.product];
    return c.p_click * c.p_bind * static_cast<double>(p.annual_premium_cents) / 100 * p.margin *
           rules.tenure_years;
  };
  double max_value = 0, max_bind = 0;
  for (const ScoredCandidate* c : pool) {
    max_value = std::max(max_value, value(*c));
    max_bind = std::max(max_bind, c->p_click * c->p_bind);
  }
  std::map<std::string, int> per_category;
  std::vector<bool> taken(pool.size(), false);
  while (static_cast<int>(out.shown.size()) < rules.list_size) {
    int best = -1;
    double best_score = 0;
    for (std::size_t i = 0; i < pool.size(); ++i) {
      if (taken[i]) continue;
      const Product& p = catalog.products[pool[i]->product];
      if (per_category[p.category] >= rules.max_per_category) continue;
      const double bind = pool[i]->p_click * pool[i]->p_bind;
      const double score = rules.w_click * pool[i]->p_click +
                           rules.w_bind * (max_bind > 0 ? bind / max_bind : 0) +
                           rules.w_value * (max_value > 0 ? value(*pool[i]) / max_value : 0) +
                           rules.w_diversity * (per_category[p.category] == 0 ? 1 : 0);
      // Ties by catalog order, so the list is deterministic.
      if (best < 0 || score > best_score) {
        best = static_cast<int>(i);
        best_score = score;
      }
    }
    if (best < 0) break;
    taken[static_cast<std::size_t>(best)] = true;
    const Product& p = catalog.products[pool[static_cast<std::size_t>(best)]->product];
    ++per_category[p.category];
    out.shown.push_back({pool[static_cast<std::size_t>(best)]->product, best_score});
  }
  for (std::size_t i = 0; i < pool.size(); ++i) {
    const Product& p = catalog.products[pool[i]->product];
    if (!taken[i] && per_category[p.category] >= rules.max_per_category) {
      out.rules_applied.push_back(fmt::format("category cap: at most {} of {}; {} not shown",
                                              rules.max_per_category, p.category, p.id));
    }
  }
  return out;
}

}  // namespace abrec
