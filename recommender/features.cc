#include "recommender/features.h"

#include <cmath>
#include <limits>

namespace abrec {

const std::array<std::string_view, kFeatureCount>& FeatureNames() {
  static constexpr std::array<std::string_view, kFeatureCount> kNames = {
      "age",     "sex_female", "occupation", "region",       "product",  "category",
      "premium", "margin",     "mf_score",   "mf_item_bias", "holdings", "holds_in_category"};
  return kNames;
}

void AppendFeatures(const Catalog& catalog, const HybridMf& mf, const CustomerView& c,
                    const Eigen::VectorXf& user, std::size_t product, std::vector<float>& out) {
  constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();  // XGBoost's "missing"
  const Product& p = catalog.products[product];
  const int category =
      product < catalog.category_codes.size() ? catalog.category_codes[product] : 0;
  float holdings = 0, in_category = 0;
  if (c.holds) {
    for (std::size_t i = 0; i < c.holds->size() && i < catalog.products.size(); ++i) {
      if (!(*c.holds)[i]) continue;
      holdings += 1;
      in_category += catalog.products[i].category == p.category ? 1.0f : 0.0f;
    }
  }
  out.insert(out.end(),
             {c.age ? static_cast<float>(*c.age) : kMissing,
              c.sex == 'F' ? 1.0f : (c.sex == 'M' ? 0.0f : kMissing),
              c.occupation >= 0 ? static_cast<float>(c.occupation) : kMissing,
              c.region >= 0 ? static_cast<float>(c.region) : kMissing, static_cast<float>(product),
              static_cast<float>(category), static_cast<float>(p.annual_premium_cents) / 100,
              static_cast<float>(p.margin), mf.Score(user, product), mf.item_bias(product),
              c.holds ? holdings : kMissing, c.holds ? in_category : kMissing});
}

}  // namespace abrec
