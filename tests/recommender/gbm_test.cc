#include "recommender/model/gbm.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "stats/offline_metrics.h"

namespace abrec {
namespace {

// Rows with a known probability: y ~ Bernoulli(σ(2·x1 − x2 + x1·x2)), x ~ N(0, 1)², and a
// third, useless feature. The oracle ranks by the true probability.
struct Data {
  std::vector<float> x;
  std::vector<float> y;
  std::vector<double> truth;
};

Data Draw(std::mt19937_64& rng, std::size_t rows) {
  std::normal_distribution<double> n(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  Data d;
  for (std::size_t i = 0; i < rows; ++i) {
    const double a = n(rng), b = n(rng), c = n(rng);
    const double p = 1 / (1 + std::exp(-(2 * a - b + a * b)));
    d.x.insert(d.x.end(), {static_cast<float>(a), static_cast<float>(b), static_cast<float>(c)});
    d.y.push_back(u(rng) < p ? 1.0f : 0.0f);
    d.truth.push_back(p);
  }
  return d;
}

}  // namespace

TEST_CASE("XGBoost through the C API learns a known function nearly as well as the truth") {
  std::mt19937_64 rng(3);
  const Data train = Draw(rng, 6'000), test = Draw(rng, 3'000);
  GbmParams params;
  params.rounds = 80;
  params.max_depth = 4;
  params.threads = 2;
  auto model = GbmModel::Train(train.x, 6'000, 3, train.y, params);
  REQUIRE(model.has_value());
  auto p = model->Predict(test.x, 3'000);
  REQUIRE(p.has_value());
  std::vector<double> scores(p->begin(), p->end());
  std::vector<int> labels(test.y.begin(), test.y.end());
  const double auc = stats::Auc(scores, labels).auc;
  const double oracle = stats::Auc(test.truth, labels).auc;
  MESSAGE("AUC: model ", auc, ", true probabilities ", oracle);
  CHECK(auc > oracle - 0.02);
  for (const float v : *p) CHECK((v >= 0 && v <= 1));

  // Saved and loaded: the same predictions, the same number of features.
  const std::string path =
      (std::filesystem::temp_directory_path() / fmt::format("abrec-gbm-{}.json", ::getpid()))
          .string();
  REQUIRE(model->Save(path).has_value());
  auto loaded = GbmModel::Load(path);
  std::filesystem::remove(path);
  REQUIRE(loaded.has_value());
  CHECK(loaded->cols() == 3);
  CHECK(*loaded->Predict(test.x, 3'000) == *p);
}

TEST_CASE("bad shapes and missing files are errors, not crashes") {
  const std::vector<float> x{1, 2, 3, 4}, y{0, 1};
  CHECK(GbmModel::Train(x, 2, 3, y, {}).error().code == ErrorCode::kInvalidArgument);
  auto model = GbmModel::Train(x, 2, 2, y, {.rounds = 2});
  REQUIRE(model.has_value());
  CHECK(model->Predict(std::vector<float>{1, 2, 3}, 1).error().field == "features");
  CHECK(model->Predict({}, 0)->empty());
  const auto missing = GbmModel::Load("/no/such/model.json");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message.find("xgboost: loading /no/such/model.json") == 0);
}

}  // namespace abrec
