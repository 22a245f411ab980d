#include "recommender/model/policies.h"

#include <algorithm>

#include <fmt/format.h>

namespace abrec {
namespace {

RankingRules WithListSize(RankingRules rules, int k) {
  rules.list_size = k;
  return rules;
}

}  // namespace

PolicyList LegacyRulesList(const Catalog& catalog,
                           const std::map<std::string, std::vector<double>>* segments,
                           const CustomerProfile& customer, int k, const RankingRules& rules) {
  const std::string band = customer.AgeBand();
  const std::vector<double>* shares = nullptr;
  if (segments) {
    if (auto it = segments->find(band); it != segments->end()) shares = &it->second;
  }
  // Popularity as the only objective: the re-ranker then applies the hard filters, removes
  // held products and caps categories exactly as for the pipeline. It takes products in
  // order of popularity (ties by catalog order), so it needs only the most popular ones up
  // to the k-th it will show: they are drawn from a heap until k would pass the filters and
  // the category cap. At 10,000 products this spares scanning, and writing audit lines
  // about, thousands of products that could never be shown.
  const std::size_t n = catalog.products.size();
  auto popularity = [&](std::size_t p) {
    return shares && p < shares->size()
               ? (*shares)[p]
               : static_cast<double>(n - p) / (static_cast<double>(n) + 1.0);
  };
  const auto less_popular = [&](std::size_t a, std::size_t b) {
    const double pa = popularity(a), pb = popularity(b);
    return pa != pb ? pa < pb : a > b;
  };
  std::vector<std::size_t> heap(n);
  for (std::size_t p = 0; p < n; ++p) heap[p] = p;
  std::make_heap(heap.begin(), heap.end(), less_popular);
  std::vector<ScoredCandidate> pool;
  std::map<std::string_view, int> per_category;
  int would_show = 0;
  for (auto end = heap.end(); would_show < k && end != heap.begin(); --end) {
    std::pop_heap(heap.begin(), end, less_popular);
    const std::size_t p = *(end - 1);
    pool.push_back({p, popularity(p), 0.0});
    const Product& product = catalog.products[p];
    const bool held = p < customer.holds.size() && customer.holds[p];
    if (!held && Eligible(product, customer.age) &&
        per_category[product.category]++ < rules.max_per_category) {
      ++would_show;
    }
  }
  RankingRules legacy = WithListSize(rules, k);
  legacy.w_click = 1;
  legacy.w_value = 0;
  legacy.w_diversity = 0;
  RerankResult ranked = Rerank(catalog, pool, customer.age, customer.holds, legacy);
  PolicyList out;
  out.rules_applied = std::move(ranked.rules_applied);
  for (const RankedProduct& r : ranked.shown) {
    RecommendedItem item;
    item.product = r.product;
    item.rank = static_cast<int>(out.items.size()) + 1;
    item.score = r.score;
    item.reason = shares ? fmt::format("legacy rules: held by {:.1f}% of customers aged {}",
                                       100 * r.score, band)
                         : std::string("legacy rules: catalog order (no segment data loaded)");
    out.items.push_back(std::move(item));
  }
  return out;
}

bool Explorable(const Catalog& catalog, const CustomerProfile& customer, std::size_t product) {
  const bool held = product < customer.holds.size() && customer.holds[product];
  return product < catalog.products.size() && !held &&
         Eligible(catalog.products[product], customer.age);
}

PolicyList RandomList(const Catalog& catalog, const CustomerProfile& customer, int k,
                      std::mt19937_64& rng) {
  std::vector<std::size_t> eligible;
  for (std::size_t p = 0; p < catalog.products.size(); ++p) {
    if (Explorable(catalog, customer, p)) eligible.push_back(p);
  }
  PolicyList out;
  const std::size_t shown = std::min(eligible.size(), static_cast<std::size_t>(std::max(k, 0)));
  // A partial Fisher-Yates shuffle: the first `shown` are a uniform random ordered sample.
  for (std::size_t i = 0; i < shown; ++i) {
    std::uniform_int_distribution<std::size_t> pick(i, eligible.size() - 1);
    std::swap(eligible[i], eligible[pick(rng)]);
    RecommendedItem item;
    item.product = eligible[i];
    item.rank = static_cast<int>(i) + 1;
    item.propensity = static_cast<double>(shown) / static_cast<double>(eligible.size());
    item.score = item.propensity;
    item.reason = fmt::format("exploration: {} of {} eligible products drawn uniformly", shown,
                              eligible.size());
    out.items.push_back(std::move(item));
  }
  return out;
}

Result<PolicyList> PipelineList(const RecommenderModel& model, const CustomerProfile& customer,
                                int k, const RankingRules& rules,
                                std::span<const std::size_t> candidates,
                                std::size_t candidate_count) {
  std::vector<std::size_t> products(candidates.begin(), candidates.end());
  if (products.empty()) {
    for (const auto& [p, score] : model.Candidates(customer, candidate_count))
      products.push_back(p);
  }
  auto scored = model.Score(customer, products);
  if (!scored) return std::unexpected(scored.error());
  std::vector<ScoredCandidate> pool;
  pool.reserve(scored->size());
  for (const ScoredItem& s : *scored) pool.push_back({s.product, s.p_click, s.p_bind});
  RerankResult ranked = Rerank(model.catalog(), pool, customer.age, customer.holds,
                               WithListSize(model.RankingFor(rules), k));
  PolicyList out;
  out.rules_applied = std::move(ranked.rules_applied);
  for (const RankedProduct& r : ranked.shown) {
    const auto it = std::find_if(scored->begin(), scored->end(),
                                 [&r](const ScoredItem& s) { return s.product == r.product; });
    RecommendedItem item;
    item.product = r.product;
    item.rank = static_cast<int>(out.items.size()) + 1;
    item.score = r.score;
    item.p_click = it->p_click;
    item.p_bind = it->p_click * it->p_bind;
    item.reason = fmt::format(
        "recommender: P(click) {:.3f}, P(bind | click) {:.3f}, factorisation score {:.2f}",
        it->p_click, it->p_bind, it->mf_score);
    item.features = it->features;
    out.items.push_back(std::move(item));
  }
  return out;
}

}  // namespace abrec
