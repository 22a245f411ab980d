#include "recommender/model/hybrid_mf.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

#include <fmt/format.h>

namespace abrec {

void HybridMf::RefreshItems() {
  const auto n = static_cast<Eigen::Index>(item_features_.size());
  items_ = Eigen::MatrixXf::Zero(n, item_factors_.cols());
  item_bias_ = Eigen::VectorXf::Zero(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    for (const std::uint32_t f : item_features_[static_cast<std::size_t>(i)]) {
      items_.row(i) += item_factors_.row(f);
      item_bias_(i) += item_feature_bias_(f);
    }
  }
}

HybridMf HybridMf::Train(const std::vector<std::vector<std::uint32_t>>& user_features,
                         std::size_t n_user_features,
                         const std::vector<std::vector<std::uint32_t>>& item_features,
                         std::size_t n_item_features,
                         const std::vector<std::pair<std::uint32_t, std::uint32_t>>& positives,
                         const std::function<bool(std::uint32_t, std::uint32_t)>& negative_ok,
                         const HybridMfOptions& o, std::span<const std::int64_t> holds_feature) {
  HybridMf m;
  std::mt19937_64 rng(o.seed);
  std::normal_distribution<float> init(0, 0.1f / std::sqrt(static_cast<float>(o.dim)));
  auto random_matrix = [&](std::size_t rows) {
    Eigen::MatrixXf x(static_cast<Eigen::Index>(rows), o.dim);
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
      for (Eigen::Index c = 0; c < x.cols(); ++c) x(r, c) = init(rng);
    }
    return x;
  };
  m.user_factors_ = random_matrix(n_user_features);
  m.item_factors_ = random_matrix(n_item_features);
  m.item_feature_bias_ = Eigen::VectorXf::Zero(static_cast<Eigen::Index>(n_item_features));
  m.item_features_ = item_features;
  const auto n_items = static_cast<std::uint32_t>(item_features.size());
  std::uniform_int_distribution<std::uint32_t> any_item(0, n_items - 1);
  std::vector<std::size_t> order(positives.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  // Adagrad, as LightFM trains by default: each parameter's step is the learning rate over
  // the root of its summed squared gradients, so frequent features (the popular products,
  // the common age bands) settle while rare ones still learn.
  Eigen::MatrixXf user_acc = Eigen::MatrixXf::Constant(m.user_factors_.rows(), o.dim, 1.0f);
  Eigen::MatrixXf item_acc = Eigen::MatrixXf::Constant(m.item_factors_.rows(), o.dim, 1.0f);
  Eigen::VectorXf bias_acc = Eigen::VectorXf::Constant(m.item_feature_bias_.size(), 1.0f);
  Eigen::VectorXf u(o.dim), vi(o.dim), vj(o.dim);
  auto step = [&](auto&& param, auto&& acc, const auto& grad) {
    acc.array() += grad.array().square();
    param.array() += o.learning_rate * grad.array() / acc.array().sqrt();
  };
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    for (const std::size_t k : order) {
      const auto [user, i] = positives[k];
      std::uint32_t j = any_item(rng);
      int tries = 0;
      while (!negative_ok(user, j) && ++tries < 20) j = any_item(rng);
      if (!negative_ok(user, j)) continue;
      // The pair's own holding feature stays out (leave-one-out).
      const std::int64_t own = i < holds_feature.size() ? holds_feature[i] : -1;
      u.setZero();
      for (const std::uint32_t f : user_features[user]) {
        if (f != own) u += m.user_factors_.row(f).transpose();
      }
      vi.setZero();
      vj.setZero();
      float bi = 0, bj = 0;
      for (const std::uint32_t f : item_features[i]) {
        vi += m.item_factors_.row(f).transpose();
        bi += m.item_feature_bias_(f);
      }
      for (const std::uint32_t f : item_features[j]) {
        vj += m.item_factors_.row(f).transpose();
        bj += m.item_feature_bias_(f);
      }
      const float x = u.dot(vi - vj) + bi - bj;
      const float g = 1 / (1 + std::exp(x));  // σ(−x): the gradient's weight
      const Eigen::RowVectorXf du = g * (vi - vj).transpose();
      for (const std::uint32_t f : user_features[user]) {
        if (f == own) continue;
        const Eigen::RowVectorXf grad = du - o.l2 * m.user_factors_.row(f);
        step(m.user_factors_.row(f), user_acc.row(f), grad);
      }
      for (const auto& [features, sign] :
           {std::pair{&item_features[i], 1.0f}, std::pair{&item_features[j], -1.0f}}) {
        for (const std::uint32_t f : *features) {
          const Eigen::RowVectorXf grad = sign * g * u.transpose() - o.l2 * m.item_factors_.row(f);
          step(m.item_factors_.row(f), item_acc.row(f), grad);
          const float gb = sign * g - o.l2 * m.item_feature_bias_(f);
          bias_acc(f) += gb * gb;
          m.item_feature_bias_(f) += o.learning_rate * gb / std::sqrt(bias_acc(f));
        }
      }
    }
  }
  m.RefreshItems();
  return m;
}

Eigen::VectorXf HybridMf::UserEmbedding(std::span<const std::uint32_t> features) const {
  Eigen::VectorXf u = Eigen::VectorXf::Zero(user_factors_.cols());
  for (const std::uint32_t f : features) {
    if (f < user_factors_.rows()) u += user_factors_.row(f).transpose();
  }
  return u;
}

float HybridMf::Score(const Eigen::VectorXf& user, std::size_t item) const {
  const auto i = static_cast<Eigen::Index>(item);
  return items_.row(i).dot(user) + item_bias_(i);
}

namespace {

constexpr char kMagic[] = "abrec-hybrid-mf 1\n";

void WriteMatrix(std::ofstream& out, const Eigen::MatrixXf& m) {
  const std::int64_t dims[2] = {m.rows(), m.cols()};
  out.write(reinterpret_cast<const char*>(dims), sizeof dims);
  out.write(reinterpret_cast<const char*>(m.data()),
            static_cast<std::streamsize>(sizeof(float) * static_cast<std::size_t>(m.size())));
}

bool ReadMatrix(std::ifstream& in, Eigen::MatrixXf& m) {
  std::int64_t dims[2] = {0, 0};
  if (!in.read(reinterpret_cast<char*>(dims), sizeof dims) || dims[0] < 0 || dims[1] < 0 ||
      dims[0] > (1 << 26) || dims[1] > 4096) {
    return false;
  }
  m.resize(dims[0], dims[1]);
  return static_cast<bool>(
      in.read(reinterpret_cast<char*>(m.data()),
              static_cast<std::streamsize>(sizeof(float) * static_cast<std::size_t>(m.size()))));
}

}  // namespace

Result<void> HybridMf::Save(const std::string& path) const {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(kMagic, sizeof kMagic - 1);
  WriteMatrix(out, user_factors_);
  WriteMatrix(out, item_factors_);
  WriteMatrix(out, item_feature_bias_);
  const auto n_items = static_cast<std::int64_t>(item_features_.size());
  out.write(reinterpret_cast<const char*>(&n_items), sizeof n_items);
  for (const auto& f : item_features_) {
    const auto n = static_cast<std::int64_t>(f.size());
    out.write(reinterpret_cast<const char*>(&n), sizeof n);
    out.write(reinterpret_cast<const char*>(f.data()),
              static_cast<std::streamsize>(sizeof(std::uint32_t) * f.size()));
  }
  if (!out) {
    return std::unexpected(Error{ErrorCode::kIo, fmt::format("cannot write {}", path), "model"});
  }
  return {};
}

Result<HybridMf> HybridMf::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::unexpected(Error{ErrorCode::kIo, fmt::format("cannot read {}", path), "model"});
  char magic[sizeof kMagic - 1] = {};
  HybridMf m;
  Eigen::MatrixXf bias;
  std::int64_t n_items = 0;
  bool ok = in.read(magic, sizeof magic) &&
            std::string_view(magic, sizeof magic) == std::string_view(kMagic, sizeof kMagic - 1) &&
            ReadMatrix(in, m.user_factors_) && ReadMatrix(in, m.item_factors_) &&
            ReadMatrix(in, bias) && bias.cols() == 1 &&
            m.user_factors_.cols() == m.item_factors_.cols() &&
            bias.rows() == m.item_factors_.rows() &&
            in.read(reinterpret_cast<char*>(&n_items), sizeof n_items) && n_items >= 0 &&
            n_items <= (1 << 24);
  for (std::int64_t i = 0; ok && i < n_items; ++i) {
    std::int64_t n = 0;
    ok = in.read(reinterpret_cast<char*>(&n), sizeof n) && n >= 0 && n <= 1024;
    if (!ok) break;
    std::vector<std::uint32_t> f(static_cast<std::size_t>(n));
    ok = static_cast<bool>(in.read(reinterpret_cast<char*>(f.data()),
                                   static_cast<std::streamsize>(sizeof(std::uint32_t) * f.size())));
    for (const std::uint32_t x : f) ok = ok && x < m.item_factors_.rows();
    m.item_features_.push_back(std::move(f));
  }
  if (!ok) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("{} is not an abrec hybrid MF model, or it is truncated", path), "model"));
  }
  m.item_feature_bias_ = bias.col(0);
  m.RefreshItems();
  return m;
}

}  // namespace abrec
