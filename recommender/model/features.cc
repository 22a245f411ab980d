#include "recommender/model/features.h"

#include <cmath>
#include <limits>

namespace abrec {

const std::array<std::string_view, kFeatureCount>& FeatureNames() {
  static constexpr std::array<std::string_view, kFeatureCount> kNames = {
      "age",     "sex_female", "occupation", "region",       "product",  "category",
      "premium", "margin",     "mf_score",   "mf_item_bias", "holdings", "holds_in_category"};
  return kNames;
}

namespace {

// What the holdings features need, computed once per customer: products held, and held per
// category code.
struct HoldingsSummary {
  bool known = false;
  float total = 0;
  std::vector<float> per_category;
};

HoldingsSummary Summarize(const Catalog& catalog, const CustomerView& c) {
  HoldingsSummary s;
  if (!c.holds) return s;
  s.known = true;
  for (std::size_t i = 0; i < c.holds->size() && i < catalog.products.size(); ++i) {
    if (!(*c.holds)[i]) continue;
    const auto code =
        i < catalog.category_codes.size() ? static_cast<std::size_t>(catalog.category_codes[i]) : 0;
    if (s.per_category.size() <= code) s.per_category.resize(code + 1, 0.0f);
    s.total += 1;
    s.per_category[code] += 1;
  }
  return s;
}

void Append(const Catalog& catalog, const HybridMf& mf, const CustomerView& c,
            const HoldingsSummary& held, const Eigen::VectorXf& user, std::size_t product,
            std::vector<float>& out) {
  constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();  // XGBoost's "missing"
  const Product& p = catalog.products[product];
  const int category =
      product < catalog.category_codes.size() ? catalog.category_codes[product] : 0;
  const auto code = static_cast<std::size_t>(category);
  const float in_category = code < held.per_category.size() ? held.per_category[code] : 0.0f;
  out.insert(out.end(),
             {c.age ? static_cast<float>(*c.age) : kMissing,
              c.sex == 'F' ? 1.0f : (c.sex == 'M' ? 0.0f : kMissing),
              c.occupation >= 0 ? static_cast<float>(c.occupation) : kMissing,
              c.region >= 0 ? static_cast<float>(c.region) : kMissing, static_cast<float>(product),
              static_cast<float>(category), static_cast<float>(p.annual_premium_cents) / 100,
              static_cast<float>(p.margin), mf.Score(user, product), mf.item_bias(product),
              held.known ? held.total : kMissing, held.known ? in_category : kMissing});
}

}  // namespace

void AppendFeatures(const Catalog& catalog, const HybridMf& mf, const CustomerView& c,
                    const Eigen::VectorXf& user, std::size_t product, std::vector<float>& out) {
  Append(catalog, mf, c, Summarize(catalog, c), user, product, out);
}

void AppendFeatures(const Catalog& catalog, const HybridMf& mf, const CustomerView& c,
                    const Eigen::VectorXf& user, std::span<const std::size_t> products,
                    std::vector<float>& out) {
  const HoldingsSummary held = Summarize(catalog, c);
  out.reserve(out.size() + products.size() * kFeatureCount);
  for (const std::size_t p : products) Append(catalog, mf, c, held, user, p, out);
}

}  // namespace abrec
