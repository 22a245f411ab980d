// Gradient-boosted trees through XGBoost's C API: training on a dense float matrix, and
// prediction with XGBoosterPredictFromDense (in-place, no DMatrix per call), one thread at
// serving so that scoring does not fight the HTTP workers for the two cores. The only file
// that calls xgboost/c_api.h; its errors come back as abrec::Error.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"

namespace abrec {

struct GbmParams {
  int rounds = 200;
  int max_depth = 6;
  double eta = 0.1;
  double subsample = 0.8;
  double min_child_weight = 1;
  std::string objective = "binary:logistic";
  int threads = 0;  // training; 0: all cores
  std::uint64_t seed = 20261129;
};

class GbmModel {
 public:
  // Trains on `rows` × `cols` features (row-major) with 0/1 labels. Errors: kInvalidArgument
  // for mismatched sizes, kInternal for XGBoost's own failures (its message included).
  // `weights`: one per row (e.g. inverse propensities), or empty for equal weights.
  static Result<GbmModel> Train(std::span<const float> features, std::size_t rows, std::size_t cols,
                                std::span<const float> labels, const GbmParams& params,
                                std::span<const float> weights = {});
  static Result<GbmModel> Load(const std::string& path);

  GbmModel(GbmModel&&) noexcept;
  GbmModel& operator=(GbmModel&&) noexcept;
  ~GbmModel();

  Result<void> Save(const std::string& path) const;
  // Probabilities for `rows` × cols() features (row-major). Not thread-safe: one model per
  // thread, or a lock (XGBoost's prediction buffers belong to the booster).
  Result<std::vector<float>> Predict(std::span<const float> features, std::size_t rows);
  std::size_t cols() const { return cols_; }

 private:
  GbmModel(void* booster, std::size_t cols) : booster_(booster), cols_(cols) {}
  void* booster_ = nullptr;  // BoosterHandle
  std::size_t cols_ = 0;
};

}  // namespace abrec
