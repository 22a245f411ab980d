#include "recommender/portfolio/portfolio_metrics.h"

#include <cmath>

#include <fmt/format.h>

#include "stats/offline_metrics.h"

namespace abrec {

HideOneMetrics ComputeHideOneMetrics(std::span<const ScoredCase> cases) {
  HideOneMetrics m;
  std::vector<std::vector<stats::RankedItem>> lists;
  std::vector<double> raw, probability;
  std::vector<int> labels;
  bool probabilities = !cases.empty();
  for (const ScoredCase& c : cases) {
    auto& list = lists.emplace_back();
    for (const CandidateScore& s : c.candidates) {
      // Zero-padded ids keep EvaluateRanking's tie order (by id) the product order.
      list.push_back({fmt::format("{:06}", s.product), s.score, s.relevant ? 1.0 : 0.0});
      probabilities = probabilities && !std::isnan(s.raw) && !std::isnan(s.probability);
      raw.push_back(s.raw);
      probability.push_back(s.probability);
      labels.push_back(s.relevant ? 1 : 0);
    }
  }
  const auto top1 = stats::EvaluateRanking(lists, 1);
  const auto top3 = stats::EvaluateRanking(lists, 3);
  const auto top5 = stats::EvaluateRanking(lists, 5);
  m.cases = top1.users;
  m.hit1 = top1.hit;
  m.hit3 = top3.hit;
  m.ndcg5 = top5.ndcg;
  if (probabilities) {
    m.auc = stats::Auc(probability, labels).auc;
    m.log_loss = stats::LogLoss(probability, labels);
    m.ece_raw = stats::Calibrate(raw, labels).ece;
    m.ece = stats::Calibrate(probability, labels).ece;
  }
  return m;
}

HoldoutEvaluation ComputeHoldoutEvaluation(std::span<const ScoredCase> cases) {
  HoldoutEvaluation e;
  e.all = ComputeHideOneMetrics(cases);
  std::map<std::string, std::vector<ScoredCase>> groups;
  for (const ScoredCase& c : cases) {
    for (const std::string& g : c.groups) groups[g].push_back(c);
  }
  for (const auto& [name, members] : groups) e.by_group[name] = ComputeHideOneMetrics(members);
  return e;
}

}  // namespace abrec
