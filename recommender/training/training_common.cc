#include "recommender/training/training_common.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "recommender/portfolio/baselines.h"
#include "recommender/model/features.h"
#include "stats/offline_metrics.h"

namespace abrec {
namespace {

double Logit(double p) {
  const double q = std::clamp(p, 1e-7, 1 - 1e-7);
  return std::log(q / (1 - q));
}

// Platt scaling: the logistic regression of the labels on the raw score's logit.
Result<RecommenderModel::Platt> FitPlatt(std::span<const float> raw, std::span<const float> y) {
  Eigen::MatrixXd x(static_cast<Eigen::Index>(raw.size()), 1);
  Eigen::VectorXd labels(static_cast<Eigen::Index>(raw.size()));
  for (std::size_t i = 0; i < raw.size(); ++i) {
    x(static_cast<Eigen::Index>(i), 0) = Logit(raw[i]);
    labels(static_cast<Eigen::Index>(i)) = y[i];
  }
  auto fit = FitLogistic(x, labels, {.l2 = 1e-6});
  if (!fit) return std::unexpected(fit.error());
  return RecommenderModel::Platt{fit->weights(0), fit->intercept};
}

}  // namespace

HybridMf TrainFactorisation(const Catalog& catalog,
                            const std::vector<std::vector<std::uint32_t>>& user_features,
                            const std::vector<std::pair<std::uint32_t, std::uint32_t>>& positives,
                            const std::function<bool(std::uint32_t, std::uint32_t)>& negative_ok,
                            const HybridMfOptions& options) {
  const std::size_t n_items = catalog.products.size();
  std::vector<std::vector<std::uint32_t>> item_features;
  std::vector<std::int64_t> holds_feature;
  for (std::size_t p = 0; p < n_items; ++p) {
    item_features.push_back({static_cast<std::uint32_t>(p),
                             static_cast<std::uint32_t>(
                                 n_items + static_cast<std::size_t>(catalog.category_codes[p]))});
    holds_feature.push_back(kMfHoldsFeature + static_cast<std::int64_t>(p));
  }
  const std::size_t n_categories =
      catalog.category_codes.empty()
          ? 0
          : static_cast<std::size_t>(
                *std::max_element(catalog.category_codes.begin(), catalog.category_codes.end())) +
                1;
  return HybridMf::Train(user_features, kMfHoldsFeature + n_items, item_features,
                         n_items + n_categories, positives, negative_ok, options, holds_feature);
}

Result<std::pair<RecommenderModel::Platt, bool>> ChoosePlatt(std::span<const float> raw,
                                                             std::span<const float> y) {
  const std::size_t half = raw.size() / 2;
  double raw_loss = 0, scaled_loss = 0;
  for (int fold = 0; fold < 2; ++fold) {
    const std::size_t lo = fold == 0 ? 0 : half, hi = fold == 0 ? half : raw.size();
    std::vector<float> fit_raw, fit_y;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (i >= lo && i < hi) continue;
      fit_raw.push_back(raw[i]);
      fit_y.push_back(y[i]);
    }
    auto platt = FitPlatt(fit_raw, fit_y);
    if (!platt) return std::unexpected(platt.error());
    for (std::size_t i = lo; i < hi; ++i) {
      auto loss = [&](double p) {
        const double q = std::clamp(p, 1e-15, 1 - 1e-15);
        return y[i] > 0.5f ? -std::log(q) : -std::log(1 - q);
      };
      raw_loss += loss(raw[i]);
      scaled_loss += loss(platt->Apply(raw[i]));
    }
  }
  if (scaled_loss >= raw_loss) return std::pair{RecommenderModel::Platt{}, false};
  auto platt = FitPlatt(raw, y);
  if (!platt) return std::unexpected(platt.error());
  return std::pair{*platt, true};
}

nlohmann::ordered_json ProbabilityMetrics(std::span<const double> p, std::span<const float> y,
                                          const std::vector<std::string>& sex,
                                          const std::vector<std::string>& band) {
  const std::vector<int> labels(y.begin(), y.end());
  nlohmann::ordered_json by_group = nlohmann::ordered_json::object();
  for (const auto& [name, groups] : {std::pair{"sex", &sex}, std::pair{"age_band", &band}}) {
    const auto calibration = stats::CalibrateByGroup(p, labels, *groups);
    for (const auto& [group, c] : calibration) {
      std::vector<double> gp;
      std::vector<int> gy;
      for (std::size_t i = 0; i < p.size(); ++i) {
        if ((*groups)[i] != group) continue;
        gp.push_back(p[i]);
        gy.push_back(labels[i]);
      }
      const auto auc = stats::Auc(gp, gy);
      by_group[name][group] = {
          {"rows", gp.size()},
          {"auc", auc.reason == stats::Reason::kOk ? nlohmann::ordered_json(auc.auc)
                                                   : nlohmann::ordered_json(nullptr)},
          {"ece", c.ece}};
    }
  }
  return {{"auc", stats::Auc(p, labels).auc},
          {"log_loss", stats::LogLoss(p, labels)},
          {"ece", stats::Calibrate(p, labels).ece},
          {"by_group", std::move(by_group)}};
}

nlohmann::ordered_json LegacyRulesJson(const Catalog& catalog,
                                       std::span<const CustomerProfile> customers) {
  const std::size_t n_items = catalog.products.size();
  std::map<std::string, std::pair<double, std::vector<double>>> bands;
  for (const CustomerProfile& c : customers) {
    auto& [count, held] = bands[c.AgeBand()];
    held.resize(n_items, 0.0);
    count += 1;
    for (std::size_t p = 0; p < n_items && p < c.holds.size(); ++p)
      held[p] += c.holds[p] ? 1.0 : 0.0;
  }
  nlohmann::ordered_json segments = nlohmann::ordered_json::object();
  for (const auto& [band, entry] : bands) {
    nlohmann::ordered_json shares = nlohmann::ordered_json::object();
    for (std::size_t p = 0; p < n_items; ++p) {
      shares[catalog.products[p].id] = entry.second[p] / entry.first;
    }
    segments[band] = std::move(shares);
  }
  return {{"segments", std::move(segments)}};
}

nlohmann::ordered_json CatalogIdsJson(const Catalog& catalog) {
  nlohmann::ordered_json ids = nlohmann::ordered_json::array();
  for (const Product& p : catalog.products) ids.push_back(p.id);
  return ids;
}

nlohmann::ordered_json FeatureNamesJson() {
  nlohmann::ordered_json names = nlohmann::ordered_json::array();
  for (const auto name : FeatureNames()) names.push_back(name);
  return names;
}

nlohmann::ordered_json CalibrationJson(const std::pair<RecommenderModel::Platt, bool>& click,
                                       const std::pair<RecommenderModel::Platt, bool>& bind) {
  auto one = [](const std::pair<RecommenderModel::Platt, bool>& c) {
    return nlohmann::ordered_json{{"adopted", c.second}, {"a", c.first.a}, {"b", c.first.b}};
  };
  return {{"method", "platt, adopted when it lowers the out-of-fold log loss"},
          {"click", one(click)},
          {"bind", one(bind)}};
}

Result<void> RequireNewModelFolder(const std::string& out_dir) {
  std::error_code ec;
  if (std::filesystem::exists(out_dir, ec)) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("{} exists: choose a new folder for the model", out_dir), "out"));
  }
  return {};
}

Result<std::pair<std::string, std::string>> CreatePartialFolder(const std::string& out_dir) {
  namespace fs = std::filesystem;
  const std::string tmp = out_dir + ".partial";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (!fs::create_directories(tmp, ec)) {
    return std::unexpected(Error{ErrorCode::kIo, fmt::format("cannot create {}", tmp), "out"});
  }
  std::string version = fs::path(out_dir).filename().string();
  if (version.empty()) version = fs::path(out_dir).parent_path().filename().string();
  return std::pair{tmp, version};
}

Result<void> PublishModelFolder(const std::string& tmp, const std::string& out_dir) {
  std::error_code ec;
  std::filesystem::rename(tmp, out_dir, ec);
  if (ec) {
    return std::unexpected(
        Error{ErrorCode::kIo, fmt::format("cannot rename {} to {}", tmp, out_dir), "out"});
  }
  return {};
}

}  // namespace abrec
