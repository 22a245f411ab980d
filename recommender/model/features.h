// The scorer's features for one (customer, product) pair, as XGBoost sees them: the
// customer's attributes, the product's, and the factorisation's view of the pair (the
// cross features that let the trees use the embeddings). One definition, shared by
// training and serving, so that the columns cannot drift apart.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include <Eigen/Core>

#include "recommender/data/catalog.h"
#include "recommender/model/hybrid_mf.h"

namespace abrec {

// What the scorer knows of a customer.
struct CustomerView {
  std::optional<int> age;
  char sex = '?';       // 'F', 'M' or unknown
  int occupation = -1;  // a small code, or -1
  int region = -1;
  const std::vector<bool>* holds = nullptr;  // per product, or none
};

inline constexpr std::size_t kFeatureCount = 12;
// The columns, in order (for the model's metadata and the audit). "sex_female" is missing
// (NaN) unless the view reads sex (SexInput), so XGBoost never splits on it; the column stays
// so that the scorers of older versions, which did, still load.
const std::array<std::string_view, kFeatureCount>& FeatureNames();

// Appends the kFeatureCount features of (customer, product) to `out`. `user` is the
// customer's factorisation embedding (HybridMf::UserEmbedding).
void AppendFeatures(const Catalog& catalog, const HybridMf& mf, const CustomerView& customer,
                    const Eigen::VectorXf& user, std::size_t product, std::vector<float>& out);
// The same for each of `products`, in order: the customer's holdings are summarised once
// (not once per product), which matters for large catalogs.
void AppendFeatures(const Catalog& catalog, const HybridMf& mf, const CustomerView& customer,
                    const Eigen::VectorXf& user, std::span<const std::size_t> products,
                    std::vector<float>& out);

}  // namespace abrec
