#include "recommender/training/trainer.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/recommender/shipped_catalog.h"

namespace abrec {

TEST_CASE("training on the synthetic world writes a model folder that learns most of the truth") {
  namespace fs = std::filesystem;
  const std::string dir =
      (fs::temp_directory_path() / fmt::format("abrec-model-{}", ::getpid())).string();
  fs::remove_all(dir);
  TrainOptions o;
  o.customers = 5'000;
  std::vector<std::string> lines;
  auto report = TrainSynthetic(ShippedCatalog(), o, dir,
                               [&](const std::string& line) { lines.push_back(line); });
  REQUIRE(report.has_value());
  MESSAGE("click AUC ", report->click_auc, " (truth ", report->click_auc_truth, "), bind AUC ",
          report->bind_auc, " (truth ", report->bind_auc_truth, ")");
  // The ground truth bounds what a model can reach; the model gets most of the way.
  CHECK(report->click_auc > 0.5 + 0.7 * (report->click_auc_truth - 0.5));
  CHECK(report->bind_auc > 0.5 + 0.7 * (report->bind_auc_truth - 0.5));
  CHECK(report->click_auc <= report->click_auc_truth + 0.02);
  CHECK(lines.size() == 5);
  for (const char* file : {"mf.bin", "click.json", "bind.json", "metadata.json"}) {
    CHECK(fs::exists(fs::path(dir) / file));
  }
  CHECK_FALSE(fs::exists(dir + ".partial"));
  std::ifstream meta(fs::path(dir) / "metadata.json");
  const auto j = nlohmann::json::parse(meta);
  CHECK(j["version"] == report->version);
  CHECK(j["features"].size() == 12);
  // Sex is not an input (customer_profile.h: SexInput); only a deliberately biased model
  // reads it (gate_test.cc).
  CHECK_FALSE(report->reads_sex);
  CHECK(j["reads_sex"] == false);
  CHECK(j["evaluation"]["click_auc"].get<double>() == doctest::Approx(report->click_auc));
  // The saved parts load back.
  auto mf = HybridMf::Load(dir + "/mf.bin");
  REQUIRE(mf.has_value());
  CHECK(mf->dim() == 16);
  CHECK(GbmModel::Load(dir + "/click.json")->cols() == 12);
  // A second run into the same folder is refused; nothing is overwritten.
  CHECK(TrainSynthetic(ShippedCatalog(), o, dir, [](const std::string&) {}).error().field == "out");
  fs::remove_all(dir);
  std::ofstream(dir) << "not a model";
  CHECK(HybridMf::Load(dir).error().code == ErrorCode::kInvalidArgument);
  fs::remove(dir);
}

}  // namespace abrec
