#include "recommender/model/model.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace abrec {
namespace {

constexpr std::uintmax_t kMaxJsonBytes = 64 << 20;

Result<nlohmann::json> ReadJsonFile(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec)
    return std::unexpected(Error{ErrorCode::kIo, fmt::format("cannot read {}", path), "model"});
  if (size > kMaxJsonBytes) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("{} is {} bytes; at most {} are read", path, size, kMaxJsonBytes), "model"));
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  auto json = nlohmann::json::parse(text.str(), nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return std::unexpected(
        Error::InvalidArgument(fmt::format("{} is not a JSON object", path), "model"));
  }
  return json;
}

Error ModelError(const std::string& path, const std::string& what) {
  return Error::InvalidArgument(fmt::format("{}: {}", path, what), "model");
}

}  // namespace

Result<std::shared_ptr<const RecommenderModel>> RecommenderModel::Load(
    const std::string& dir, const Catalog& catalog, const ModelLoadOptions& options) {
  const std::string meta_path = dir + "/metadata.json";
  auto meta = ReadJsonFile(meta_path);
  if (!meta) return std::unexpected(meta.error());
  if (!meta->contains("version") || !(*meta)["version"].is_string()) {
    return std::unexpected(ModelError(meta_path, "no \"version\""));
  }
  const auto ids = meta->value("catalog", nlohmann::json::array());
  bool same_catalog = ids.is_array() && ids.size() == catalog.products.size();
  for (std::size_t i = 0; same_catalog && i < ids.size(); ++i) {
    same_catalog = ids[i].is_string() && ids[i].get<std::string>() == catalog.products[i].id;
  }
  if (!same_catalog) {
    return std::unexpected(
        ModelError(meta_path,
                   "the model was trained on another catalog (its \"catalog\" product ids differ "
                   "from the catalog the service serves)"));
  }
  auto mf = HybridMf::Load(dir + "/mf.bin");
  if (!mf) return std::unexpected(mf.error());
  if (static_cast<std::size_t>(mf->item_embeddings().rows()) != catalog.products.size()) {
    return std::unexpected(
        ModelError(dir + "/mf.bin", "its product count differs from the catalog"));
  }
  // Index [embedding, bias]: its inner product with [user, 1] is the factorisation's score.
  const auto& items = mf->item_embeddings();
  const std::size_t dim = static_cast<std::size_t>(items.cols()) + 1;
  std::vector<float> rows;
  rows.reserve(static_cast<std::size_t>(items.rows()) * dim);
  for (Eigen::Index i = 0; i < items.rows(); ++i) {
    for (Eigen::Index d = 0; d < items.cols(); ++d) rows.push_back(items(i, d));
    rows.push_back(mf->item_bias(static_cast<std::size_t>(i)));
  }
  CandidateIndex index(rows, dim, options.index);
  std::shared_ptr<RecommenderModel> m(
      new RecommenderModel(catalog, std::move(*mf), std::move(index)));
  m->dir_ = dir;
  m->version_ = (*meta)["version"].get<std::string>();
  m->metadata_json_ = meta->dump();
  const auto reads_sex = meta->value("reads_sex", nlohmann::json(true));  // older: it did
  if (!reads_sex.is_boolean()) {
    return std::unexpected(ModelError(meta_path, "\"reads_sex\" must be true or false"));
  }
  m->sex_input_ = reads_sex.get<bool>() ? SexInput::kRead : SexInput::kHidden;
  const auto objective = meta->value("objective", nlohmann::json("balanced"));
  if (!objective.is_string() || !IsModelObjective(objective.get<std::string>())) {
    return std::unexpected(
        ModelError(meta_path, "\"objective\" must be \"click\", \"bind\" or \"balanced\""));
  }
  m->objective_ = objective.get<std::string>();
  // Calibration (optional: models without it score raw probabilities).
  const auto calibration = meta->value("calibration", nlohmann::json::object());
  for (const auto& [name, target] :
       {std::pair{"click", &m->click_calibration_}, std::pair{"bind", &m->bind_calibration_}}) {
    const auto c = calibration.value(name, nlohmann::json::object());
    if (!c.is_object() || (c.contains("a") && !c["a"].is_number()) ||
        (c.contains("b") && !c["b"].is_number())) {
      return std::unexpected(
          ModelError(meta_path, fmt::format("calibration.{} is malformed", name)));
    }
    target->a = c.value("a", 1.0);
    target->b = c.value("b", 0.0);
  }
  for (int i = 0; i < std::max(1, options.scorer_copies); ++i) {
    auto click = GbmModel::Load(dir + "/click.json");
    if (!click) return std::unexpected(click.error());
    auto bind = GbmModel::Load(dir + "/bind.json");
    if (!bind) return std::unexpected(bind.error());
    if (click->cols() != kFeatureCount || bind->cols() != kFeatureCount) {
      return std::unexpected(
          ModelError(dir, fmt::format("the scorers take {} and {} features; this build computes {}",
                                      click->cols(), bind->cols(), kFeatureCount)));
    }
    m->scorers_.Add(std::unique_ptr<Scorers>(new Scorers{std::move(*click), std::move(*bind)}));
  }
  const std::string legacy_path = dir + "/legacy_rules.json";
  auto legacy = ReadJsonFile(legacy_path);
  if (!legacy) return std::unexpected(legacy.error());
  const auto segments = legacy->value("segments", nlohmann::json::object());
  for (const auto& [band, shares] : segments.items()) {
    std::vector<double> share(catalog.products.size(), 0.0);
    if (!shares.is_object())
      return std::unexpected(ModelError(legacy_path, band + " is not an object"));
    for (const auto& [id, v] : shares.items()) {
      const auto product = catalog.IndexOf(id);
      if (!product || !v.is_number()) {
        return std::unexpected(ModelError(legacy_path, fmt::format("{}: bad entry {}", band, id)));
      }
      share[*product] = v.get<double>();
    }
    m->segment_popularity_.emplace(band, std::move(share));
  }
  // Warm up: the first prediction allocates XGBoost's buffers; do it here, not on a request.
  // Each pair once: the leases are held until all ran, so the pool hands out a new one each
  // time.
  CustomerProfile warm;
  warm.holds.assign(catalog.products.size(), false);
  std::vector<float> x;
  const Eigen::VectorXf e = m->mf_.UserEmbedding({});
  for (std::size_t p = 0; p < catalog.products.size(); ++p) {
    AppendFeatures(m->catalog_, m->mf_, warm.View(m->sex_input_), e, p, x);
  }
  std::vector<BorrowPool<Scorers>::Lease> leases;
  for (std::size_t j = 0; j < m->scorers_.size(); ++j) {
    leases.push_back(m->scorers_.Borrow());
    for (GbmModel* g : {&leases.back()->click, &leases.back()->bind}) {
      if (auto ok = g->Predict(x, catalog.products.size()); !ok) return std::unexpected(ok.error());
    }
  }
  leases.clear();
  return std::shared_ptr<const RecommenderModel>(std::move(m));
}

std::vector<std::pair<std::size_t, float>> RecommenderModel::Candidates(
    const CustomerProfile& customer, std::size_t n) const {
  const auto features = MfCustomerFeatures(customer.View(sex_input_));
  const Eigen::VectorXf user = mf_.UserEmbedding(features);
  std::vector<float> query(user.data(), user.data() + user.size());
  query.push_back(1.0f);
  return index_.TopK(query, n);
}

bool IsModelObjective(std::string_view name) {
  return name == "click" || name == "bind" || name == "balanced";
}

RankingRules RecommenderModel::RankingFor(RankingRules rules) const {
  if (objective_ == "click" || objective_ == "bind") {
    rules.w_click = objective_ == "click" ? 1 : 0;
    rules.w_bind = objective_ == "bind" ? 1 : 0;
    rules.w_value = 0;
  }
  return rules;
}

double RecommenderModel::Platt::Apply(double p) const {
  if (a == 1 && b == 0) return p;
  const double q = std::clamp(p, 1e-7, 1 - 1e-7);
  return 1 / (1 + std::exp(-(a * std::log(q / (1 - q)) + b)));
}

Result<std::vector<ScoredItem>> RecommenderModel::Score(
    const CustomerProfile& customer, std::span<const std::size_t> products) const {
  const CustomerView view = customer.View(sex_input_);
  const Eigen::VectorXf user = mf_.UserEmbedding(MfCustomerFeatures(view));
  std::vector<float> x;
  x.reserve(products.size() * kFeatureCount);
  AppendFeatures(catalog_, mf_, view, user, products, x);
  auto s = scorers_.Borrow();
  auto click = s->click.Predict(x, products.size());
  if (!click) return std::unexpected(click.error());
  auto bind = s->bind.Predict(x, products.size());
  if (!bind) return std::unexpected(bind.error());
  std::vector<ScoredItem> out(products.size());
  for (std::size_t i = 0; i < products.size(); ++i) {
    out[i].product = products[i];
    out[i].mf_score = mf_.Score(user, products[i]);
    out[i].p_click = click_calibration_.Apply((*click)[i]);
    out[i].p_bind = bind_calibration_.Apply((*bind)[i]);
    out[i].features.assign(x.begin() + static_cast<std::ptrdiff_t>(i * kFeatureCount),
                           x.begin() + static_cast<std::ptrdiff_t>((i + 1) * kFeatureCount));
  }
  return out;
}

}  // namespace abrec
