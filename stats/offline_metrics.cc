#include "stats/offline_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace abrec::stats {

AucResult Auc(std::span<const double> scores, std::span<const int> labels) {
  // Mann-Whitney U from ranks: sort once, give tied scores their mean rank, then
  // U = Σ ranks of positives − n₊(n₊ + 1)/2 and AUC = U / (n₊ n₋); a tie counts ½.
  AucResult r;
  const std::size_t n = std::min(scores.size(), labels.size());
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  double rank_sum = 0, positives = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    const double mean_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (std::size_t m = i; m < j; ++m) {
      if (labels[order[m]] != 0) {
        rank_sum += mean_rank;
        positives += 1;
      }
    }
    i = j;
  }
  const double negatives = static_cast<double>(n) - positives;
  if (positives == 0 || negatives == 0) {
    r.reason = Reason::kTooFewUnits;
    return r;
  }
  r.auc = (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
  return r;
}

double LogLoss(std::span<const double> probabilities, std::span<const int> labels) {
  const std::size_t n = std::min(probabilities.size(), labels.size());
  if (n == 0) return 0;
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double p = std::clamp(probabilities[i], 1e-15, 1 - 1e-15);
    sum -= labels[i] != 0 ? std::log(p) : std::log1p(-p);
  }
  return sum / static_cast<double>(n);
}

Calibration Calibrate(std::span<const double> probabilities, std::span<const int> labels,
                      int bins) {
  Calibration c;
  bins = std::max(1, bins);
  c.bins.resize(static_cast<std::size_t>(bins));
  std::vector<double> predicted(c.bins.size()), observed(c.bins.size());
  const std::size_t n = std::min(probabilities.size(), labels.size());
  for (std::size_t i = 0; i < n; ++i) {
    const double p = std::clamp(probabilities[i], 0.0, 1.0);
    const auto b =
        std::min(static_cast<std::size_t>(p * bins), c.bins.size() - 1);  // 1.0 in the last
    ++c.bins[b].count;
    predicted[b] += p;
    observed[b] += labels[i] != 0 ? 1 : 0;
  }
  for (std::size_t b = 0; b < c.bins.size(); ++b) {
    CalibrationBin& bin = c.bins[b];
    bin.low = static_cast<double>(b) / bins;
    bin.high = static_cast<double>(b + 1) / bins;
    if (bin.count == 0) continue;
    bin.mean_predicted = predicted[b] / static_cast<double>(bin.count);
    bin.observed_rate = observed[b] / static_cast<double>(bin.count);
    c.ece += static_cast<double>(bin.count) / static_cast<double>(n) *
             std::fabs(bin.mean_predicted - bin.observed_rate);
  }
  return c;
}

std::map<std::string, Calibration> CalibrateByGroup(std::span<const double> probabilities,
                                                    std::span<const int> labels,
                                                    std::span<const std::string> groups, int bins) {
  std::map<std::string, std::pair<std::vector<double>, std::vector<int>>> split;
  const std::size_t n = std::min({probabilities.size(), labels.size(), groups.size()});
  for (std::size_t i = 0; i < n; ++i) {
    auto& [p, y] = split[groups[i]];
    p.push_back(probabilities[i]);
    y.push_back(labels[i]);
  }
  std::map<std::string, Calibration> out;
  for (const auto& [group, py] : split) out[group] = Calibrate(py.first, py.second, bins);
  return out;
}

RankingMetrics EvaluateRanking(std::span<const std::vector<RankedItem>> users, int k) {
  RankingMetrics r;
  const auto top = static_cast<std::size_t>(std::max(k, 1));
  for (const std::vector<RankedItem>& items : users) {
    std::vector<const RankedItem*> ranked;
    for (const RankedItem& it : items) ranked.push_back(&it);
    std::sort(ranked.begin(), ranked.end(), [](const RankedItem* a, const RankedItem* b) {
      return a->score != b->score ? a->score > b->score : a->product_id < b->product_id;
    });
    std::vector<double> ideal;
    for (const RankedItem* it : ranked) {
      if (it->relevance > 0) ideal.push_back(it->relevance);
    }
    if (ideal.empty()) {
      ++r.users_without_relevant;
      continue;
    }
    std::sort(ideal.begin(), ideal.end(), std::greater<>());
    auto gain = [](double rel) { return std::exp2(rel) - 1; };
    double dcg = 0, idcg = 0, relevant_in_top = 0;
    for (std::size_t i = 0; i < std::min(top, ranked.size()); ++i) {
      const double discount = std::log2(static_cast<double>(i) + 2);
      dcg += gain(ranked[i]->relevance) / discount;
      if (ranked[i]->relevance > 0) relevant_in_top += 1;
    }
    for (std::size_t i = 0; i < std::min(top, ideal.size()); ++i) {
      idcg += gain(ideal[i]) / std::log2(static_cast<double>(i) + 2);
    }
    r.ndcg += dcg / idcg;
    r.hit += relevant_in_top > 0 ? 1 : 0;
    r.precision += relevant_in_top / static_cast<double>(top);
    ++r.users;
  }
  if (r.users == 0) {
    r.reason = Reason::kTooFewUnits;
    return r;
  }
  const auto users_evaluated = static_cast<double>(r.users);
  r.ndcg /= users_evaluated;
  r.hit /= users_evaluated;
  r.precision /= users_evaluated;
  return r;
}

}  // namespace abrec::stats
