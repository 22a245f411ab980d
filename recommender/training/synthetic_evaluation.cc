#include "recommender/training/synthetic_evaluation.h"

#include <map>

#include "recommender/model/gate.h"
#include "stats/offline_metrics.h"

namespace abrec {
namespace {

nlohmann::ordered_json Metrics(std::span<const std::vector<stats::RankedItem>> lists) {
  const auto at = [&lists](int k) { return stats::EvaluateRanking(lists, k); };
  const auto five = at(5);
  return {{"customers", five.users},
          {"hit_at_1", at(1).hit},
          {"hit_at_3", at(3).hit},
          {"ndcg_at_5", five.ndcg}};
}

}  // namespace

Result<nlohmann::ordered_json> EvaluateRankingOnWorld(const RecommenderModel& model,
                                                      const SyntheticWorld& world,
                                                      std::span<const std::size_t> customers) {
  const Catalog& catalog = world.catalog();
  std::vector<std::vector<stats::RankedItem>> by_model, by_popularity;
  std::map<std::string, std::map<std::string, std::vector<std::vector<stats::RankedItem>>>> groups;
  for (const std::size_t u : customers) {
    const Customer& c = world.customers()[u];
    const CustomerProfile p = ProfileOf(c);
    std::vector<std::size_t> could;
    for (std::size_t i = 0; i < catalog.products.size(); ++i) {
      if (!c.holds[i] && Eligible(catalog.products[i], c.age)) could.push_back(i);
    }
    if (could.size() < 2) continue;
    std::size_t best = could[0];
    auto truth = [&](std::size_t i) {
      return world.ClickProbability(u, i) * world.BindProbability(u, i);
    };
    for (const std::size_t i : could) best = truth(i) > truth(best) ? i : best;
    auto scored = model.Score(p, could);
    if (!scored) return std::unexpected(scored.error());
    const auto segments = model.segment_popularity().find(p.AgeBand());
    std::vector<stats::RankedItem> mine, popular;
    for (const ScoredItem& s : *scored) {
      const std::string& id = catalog.products[s.product].id;
      const double relevance = s.product == best ? 1.0 : 0.0;
      mine.push_back({id, s.p_click * s.p_bind, relevance});
      const double share =
          segments == model.segment_popularity().end() ? 0.0 : segments->second[s.product];
      popular.push_back({id, share, relevance});
    }
    for (const char* attribute : {"sex", "age_band"}) {
      groups[attribute][GroupOf(p, attribute)].push_back(mine);
    }
    by_model.push_back(std::move(mine));
    by_popularity.push_back(std::move(popular));
  }
  nlohmann::ordered_json by_group = nlohmann::ordered_json::object();
  for (const auto& [attribute, lists] : groups) {
    for (const auto& [group, l] : lists) by_group[attribute][group] = Metrics(l);
  }
  return nlohmann::ordered_json{{"relevant", "the world's best product for the customer"},
                                {"model", Metrics(by_model)},
                                {"popularity", Metrics(by_popularity)},
                                {"by_group", std::move(by_group)}};
}

}  // namespace abrec
