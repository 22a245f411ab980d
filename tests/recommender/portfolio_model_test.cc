#include "recommender/portfolio/portfolio_model.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/recommender/synthetic_portfolio.h"

namespace abrec {
namespace {

namespace fs = std::filesystem;

// Small enough for the sanitizer build.
PortfolioModelOptions Quick() {
  PortfolioModelOptions o;
  o.mf.dim = 8;
  o.mf.epochs = 5;
  o.gbm.rounds = 30;
  o.gbm.max_depth = 3;
  o.gbm.eta = 0.2;
  o.gbm.threads = 1;
  return o;
}

std::vector<std::size_t> FirstN(std::size_t n) {
  std::vector<std::size_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

}  // namespace

TEST_CASE("a portfolio model scores the products a customer does not hold") {
  const Portfolio p = SyntheticPortfolio(500, 1);
  std::vector<std::string> lines;
  auto model = PortfolioModel::Train(p, FirstN(400), Quick(),
                                     [&](const std::string& line) { lines.push_back(line); });
  REQUIRE(model.has_value());
  CHECK(lines.size() == 4);  // factorisation, rows, XGBoost, calibration
  CHECK(model->products() == p.products);
  // product, age, held, popularity, 2 co-occurrence, 2 rates, 2 MF, 6 holdings, 2 attributes
  CHECK(model->feature_names().size() == 18);

  PortfolioCustomer c = p.customers[450];
  c.holds = {true, false, false, false, false, false};
  auto s = model->Score(c);
  REQUIRE(s.has_value());
  CHECK(std::isnan(s->probability[0]));  // held: not a candidate
  for (std::size_t i = 1; i < 6; ++i) {
    CHECK(s->probability[i] > 0);
    CHECK(s->probability[i] < 1);
    CHECK(s->raw[i] > 0);
  }
  // Home follows motor (0.7 against 0.15 without it): a motor holder gets home first.
  CHECK(s->probability[1] > s->probability[3]);
  c.holds = {false, false, false, false, false, false};
  auto without_motor = model->Score(c);
  REQUIRE(without_motor.has_value());
  CHECK(s->probability[1] > without_motor->probability[1]);
  CHECK(model->MfScores(c).size() == 6);

  c.holds.pop_back();
  CHECK(model->Score(c).error().code == ErrorCode::kInvalidArgument);
  CHECK(PortfolioModel::Train(p, FirstN(5), Quick()).error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("a portfolio model folder loads back and scores the same") {
  const Portfolio p = SyntheticPortfolio(300, 2);
  PortfolioModelOptions o = Quick();
  o.rows = TrainingRows::kHideEachHeld;
  auto model = PortfolioModel::Train(p, FirstN(300), o);
  REQUIRE(model.has_value());
  const std::string dir =
      (fs::temp_directory_path() / fmt::format("abrec-portfolio-model-{}", ::getpid())).string();
  fs::remove_all(dir);
  ModelRecord record{"csv", "portfolio.csv", 300, 1.5, {}};
  record.evaluation.all.hit1 = 0.75;
  record.evaluation.by_group["sex=F"].hit1 = 0.5;
  REQUIRE(model->Save(dir, record).has_value());
  CHECK_FALSE(fs::exists(dir + ".partial"));
  for (const char* file : {"mf.bin", "ranker.json", "metadata.json"}) {
    CHECK(fs::exists(fs::path(dir) / file));
  }
  {
    std::ifstream in(fs::path(dir) / "metadata.json");
    const auto j = nlohmann::json::parse(in);
    CHECK(j["kind"] == "portfolio");
    CHECK(j["data"]["format"] == "csv");
    CHECK(j["products"].size() == 6);
    CHECK(j["parameters"]["rows"] == "hide_each_held");
    CHECK(j["evaluation"]["hit_at_1"] == 0.75);
    CHECK(j["evaluation"]["by_group"]["sex=F"]["hit_at_1"] == 0.5);
    CHECK(j["evaluation"]["log_loss"].is_null());  // NaN: not measured
    CHECK(j["vocabulary"].size() == 2);
  }
  auto loaded = PortfolioModel::Load(dir);
  REQUIRE(loaded.has_value());
  CHECK(loaded->version() == model->version());
  CHECK(loaded->feature_names() == model->feature_names());
  for (std::size_t i = 0; i < 20; ++i) {
    auto a = model->Score(p.customers[i]);
    auto b = loaded->Score(p.customers[i]);
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    for (std::size_t k = 0; k < 6; ++k) {
      if (std::isnan(a->probability[k])) {
        CHECK(std::isnan(b->probability[k]));
      } else {
        CHECK(b->probability[k] == doctest::Approx(a->probability[k]).epsilon(1e-6));
      }
    }
  }
  // An existing folder is not overwritten; a broken one does not load.
  CHECK(model->Save(dir, record).error().field == "out");
  std::ofstream(fs::path(dir) / "metadata.json") << R"({"kind": "synthetic"})";
  CHECK(PortfolioModel::Load(dir).error().code == ErrorCode::kInvalidArgument);
  std::ofstream(fs::path(dir) / "metadata.json") << "{not json";
  CHECK(PortfolioModel::Load(dir).error().code == ErrorCode::kInvalidArgument);
  fs::remove_all(dir);
  CHECK(PortfolioModel::Load(dir).error().code == ErrorCode::kIo);
}

TEST_CASE("without the factorisation the model has no MF features and no mf.bin") {
  const Portfolio p = SyntheticPortfolio(200, 4);
  PortfolioModelOptions o = Quick();
  o.mf_features = false;
  auto model = PortfolioModel::Train(p, FirstN(200), o);
  REQUIRE(model.has_value());
  CHECK(model->feature_names().size() == 16);
  CHECK(model->MfScores(p.customers[0]).empty());
  const std::string dir =
      (fs::temp_directory_path() / fmt::format("abrec-portfolio-nomf-{}", ::getpid())).string();
  fs::remove_all(dir);
  REQUIRE(model->Save(dir, {}).has_value());
  CHECK_FALSE(fs::exists(fs::path(dir) / "mf.bin"));
  CHECK(PortfolioModel::Load(dir).has_value());
  fs::remove_all(dir);
}

}  // namespace abrec
