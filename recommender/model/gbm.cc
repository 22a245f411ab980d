#include "recommender/model/gbm.h"

#include <cstdint>
#include <limits>

#include <fmt/format.h>
#include <xgboost/c_api.h>

namespace abrec {
namespace {

Error XgbError(std::string_view what) {
  return Error{ErrorCode::kInternal, fmt::format("xgboost: {}: {}", what, XGBGetLastError()),
               "model"};
}

// A DMatrix freed on scope exit.
struct Matrix {
  DMatrixHandle h = nullptr;
  ~Matrix() {
    if (h) XGDMatrixFree(h);
  }
};

}  // namespace

GbmModel::GbmModel(GbmModel&& o) noexcept : booster_(o.booster_), cols_(o.cols_) {
  o.booster_ = nullptr;
}

GbmModel& GbmModel::operator=(GbmModel&& o) noexcept {
  if (this != &o) {
    if (booster_) XGBoosterFree(booster_);
    booster_ = std::exchange(o.booster_, nullptr);
    cols_ = o.cols_;
  }
  return *this;
}

GbmModel::~GbmModel() {
  if (booster_) XGBoosterFree(booster_);
}

Result<GbmModel> GbmModel::Train(std::span<const float> features, std::size_t rows,
                                 std::size_t cols, std::span<const float> labels,
                                 const GbmParams& p, std::span<const float> weights) {
  if (rows == 0 || cols == 0 || features.size() != rows * cols || labels.size() != rows ||
      (!weights.empty() && weights.size() != rows)) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("training data: {} features and {} labels for {} rows of {} columns",
                    features.size(), labels.size(), rows, cols),
        "data"));
  }
  Matrix train;
  if (XGDMatrixCreateFromMat(features.data(), rows, cols, std::numeric_limits<float>::quiet_NaN(),
                             &train.h) != 0 ||
      XGDMatrixSetFloatInfo(train.h, "label", labels.data(), rows) != 0 ||
      (!weights.empty() && XGDMatrixSetFloatInfo(train.h, "weight", weights.data(), rows) != 0)) {
    return std::unexpected(XgbError("building the training matrix"));
  }
  BoosterHandle booster = nullptr;
  if (XGBoosterCreate(&train.h, 1, &booster) != 0) return std::unexpected(XgbError("create"));
  GbmModel model(booster, cols);
  const std::pair<const char*, std::string> params[] = {
      {"objective", p.objective},
      {"max_depth", std::to_string(p.max_depth)},
      {"eta", fmt::format("{}", p.eta)},
      {"subsample", fmt::format("{}", p.subsample)},
      {"min_child_weight", fmt::format("{}", p.min_child_weight)},
      {"tree_method", "hist"},
      {"seed", std::to_string(p.seed)},
      {"nthread", std::to_string(p.threads)},
      {"verbosity", "0"},
  };
  for (const auto& [name, value] : params) {
    if (XGBoosterSetParam(booster, name, value.c_str()) != 0) {
      return std::unexpected(XgbError(fmt::format("parameter {}", name)));
    }
  }
  for (int i = 0; i < p.rounds; ++i) {
    if (XGBoosterUpdateOneIter(booster, i, train.h) != 0) {
      return std::unexpected(XgbError(fmt::format("round {}", i)));
    }
  }
  // Serving predicts on one thread.
  if (XGBoosterSetParam(booster, "nthread", "1") != 0) return std::unexpected(XgbError("nthread"));
  return model;
}

Result<GbmModel> GbmModel::Load(const std::string& path) {
  BoosterHandle booster = nullptr;
  if (XGBoosterCreate(nullptr, 0, &booster) != 0) return std::unexpected(XgbError("create"));
  GbmModel model(booster, 0);
  if (XGBoosterLoadModel(booster, path.c_str()) != 0) {
    return std::unexpected(XgbError(fmt::format("loading {}", path)));
  }
  bst_ulong features = 0;
  if (XGBoosterGetNumFeature(booster, &features) != 0) {
    return std::unexpected(XgbError("number of features"));
  }
  model.cols_ = static_cast<std::size_t>(features);
  if (XGBoosterSetParam(booster, "nthread", "1") != 0) return std::unexpected(XgbError("nthread"));
  return model;
}

Result<void> GbmModel::Save(const std::string& path) const {
  if (XGBoosterSaveModel(booster_, path.c_str()) != 0) {
    return std::unexpected(XgbError(fmt::format("saving {}", path)));
  }
  return {};
}

Result<std::vector<float>> GbmModel::Predict(std::span<const float> features, std::size_t rows) {
  if (features.size() != rows * cols_) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("{} features for {} rows of {} columns", features.size(), rows, cols_),
        "features"));
  }
  if (rows == 0) return std::vector<float>{};
  // The __array_interface__ of the row-major float32 matrix ("<f4": little-endian float).
  const std::string array =
      fmt::format(R"({{"data": [{}, true], "shape": [{}, {}], "typestr": "<f4", "version": 3}})",
                  reinterpret_cast<std::uintptr_t>(features.data()), rows, cols_);
  constexpr const char* kConfig =
      R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, )"
      R"("strict_shape": false, "missing": NaN, "cache_id": 0})";
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* out = nullptr;
  if (XGBoosterPredictFromDense(booster_, array.c_str(), kConfig, nullptr, &shape, &dims, &out) !=
      0) {
    return std::unexpected(XgbError("predict"));
  }
  // XGBoost owns `out` until the next call on this booster: copy it.
  return std::vector<float>(out, out + rows);
}

}  // namespace abrec
