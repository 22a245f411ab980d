// Hybrid matrix factorisation in the manner of LightFM (Kula, "Metadata embeddings for user
// and item cold-start recommendations", 2015): a customer's embedding is the sum of the
// embeddings of their features (age band, occupation, holdings, ...; an identity feature
// when known) and a product's the sum of its features' (its id, its category). Score =
// <user, product> + product bias. Trained with BPR (Rendle et al. 2009): for a held
// product i and a sampled product j the customer does not hold, Adagrad on
// −ln σ(s_i − s_j) with L2. A customer never seen in training is scored from their attributes
// alone.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "base/error.h"

namespace abrec {

struct HybridMfOptions {
  int dim = 32;
  int epochs = 30;
  float learning_rate = 0.05f;  // Adagrad's base step
  float l2 = 1e-4f;
  std::uint64_t seed = 20261129;
};

class HybridMf {
 public:
  // `user_features[u]`: indices < n_user_features; `item_features[i]`: indices <
  // n_item_features; `positives`: (user, item) pairs; `negative_ok(u, j)`: whether item j
  // may serve as a negative for user u (not held, eligible). `holds_feature[i]`, when given,
  // is the user feature that says "holds product i" (or −1): it is left out of the user's
  // features while learning from the pair (u, i), so that a holding never predicts itself
  // and the model learns what other holdings say instead.
  static HybridMf Train(const std::vector<std::vector<std::uint32_t>>& user_features,
                        std::size_t n_user_features,
                        const std::vector<std::vector<std::uint32_t>>& item_features,
                        std::size_t n_item_features,
                        const std::vector<std::pair<std::uint32_t, std::uint32_t>>& positives,
                        const std::function<bool(std::uint32_t, std::uint32_t)>& negative_ok,
                        const HybridMfOptions& options,
                        std::span<const std::int64_t> holds_feature = {});

  // A customer's embedding from their features (any customer, seen or not).
  Eigen::VectorXf UserEmbedding(std::span<const std::uint32_t> features) const;
  // Every product's embedding, one row per product, and its bias.
  const Eigen::MatrixXf& item_embeddings() const { return items_; }
  float item_bias(std::size_t item) const { return item_bias_(static_cast<Eigen::Index>(item)); }
  float Score(const Eigen::VectorXf& user, std::size_t item) const;
  int dim() const { return static_cast<int>(items_.cols()); }

  // A binary file: a magic line, the dimensions, then the factor matrices and biases as
  // little-endian floats. Errors: kIo, kInvalidArgument (not a model file, or truncated).
  Result<void> Save(const std::string& path) const;
  static Result<HybridMf> Load(const std::string& path);

 private:
  void RefreshItems();

  Eigen::MatrixXf user_factors_;  // n_user_features × dim
  Eigen::MatrixXf item_factors_;  // n_item_features × dim
  Eigen::VectorXf item_feature_bias_;
  std::vector<std::vector<std::uint32_t>> item_features_;
  Eigen::MatrixXf items_;  // n_items × dim: Σ of each product's feature rows
  Eigen::VectorXf item_bias_;
};

}  // namespace abrec
