// The deployment gate refuses a deliberately biased candidate and lists that break the
// eligibility invariants, and passes a model against itself.
#include "recommender/model/gate.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "recommender/data/synthetic_world.h"
#include "recommender/training/trainer.h"
#include "tests/recommender/shipped_catalog.h"

namespace abrec {
namespace fs = std::filesystem;
namespace {

std::string TrainSmall(const std::string& name, const std::string& bias_category) {
  const std::string dir =
      (fs::temp_directory_path() / fmt::format("abrec-gate-{}-{}", ::getpid(), name)).string();
  fs::remove_all(dir);
  TrainOptions o;
  o.customers = 2'000;
  o.mf.epochs = 10;
  o.gbm.rounds = 30;
  o.bias_category = bias_category;
  REQUIRE(TrainSynthetic(ShippedCatalog(), o, dir, [](const std::string&) {}).has_value());
  return dir;
}

std::vector<CustomerProfile> Customers(const Catalog& catalog, int n) {
  auto world = SyntheticWorld::Generate(catalog, {.customers = n, .seed = 99});
  REQUIRE(world.has_value());
  std::vector<CustomerProfile> out;
  for (const Customer& c : world->customers()) {
    out.push_back(ProfileOf(c));
  }
  return out;
}

GateRules Rules() {
  auto rules = LoadGateRules(std::string(ABREC_SOURCE_DIR) + "/config/gate.yaml");
  REQUIRE(rules.has_value());
  return *rules;
}

}  // namespace

TEST_CASE("the gate refuses a candidate that withholds a category from women") {
  const Catalog catalog = ShippedCatalog();
  const std::string fair = TrainSmall("fair", ""), biased = TrainSmall("biased", "auto");
  auto baseline = RecommenderModel::Load(fair, catalog);
  auto candidate = RecommenderModel::Load(biased, catalog);
  REQUIRE(baseline.has_value());
  REQUIRE(candidate.has_value());
  // The fair model cannot see sex; the biased one reads it, to learn the bias in its data.
  CHECK_FALSE((*baseline)->reads_sex());
  CHECK((*candidate)->reads_sex());
  const auto customers = Customers(catalog, 3'000);
  const GateRules rules = Rules();

  auto same = RunGate(**baseline, **baseline, customers, RankingRules{}, rules);
  REQUIRE(same.has_value());
  CHECK(same->passed());
  CHECK_FALSE(same->parity.empty());

  auto report = RunGate(**candidate, **baseline, customers, RankingRules{}, rules);
  REQUIRE(report.has_value());
  CHECK_FALSE(report->passed());
  bool auto_by_sex = false;
  for (const auto& check : report->parity) {
    if (check.failed && check.attribute == "sex" && check.product.starts_with("auto")) {
      auto_by_sex = true;
      CHECK(check.min_group == "F");
      CHECK(check.candidate_gap > check.baseline_gap + rules.margin);
    }
  }
  CHECK(auto_by_sex);
  MESSAGE(fmt::format("{}", fmt::join(report->failures, "\n")));
  fs::remove_all(fair);
  fs::remove_all(biased);
}

TEST_CASE("the gate's invariants catch a catalog that lost an eligibility rule") {
  Catalog loose = ShippedCatalog();
  // The catalog's own rules removed: only the gate's invariants stand in the way.
  for (Product& p : loose.products) {
    if (p.category == "life" || p.id == "student_contents") p.eligibility = {};
  }
  const std::string dir = TrainSmall("loose", "");
  auto model = RecommenderModel::Load(dir, loose);
  REQUIRE(model.has_value());
  std::vector<CustomerProfile> customers;
  for (const int age : {16, 17, 30, 60}) {
    CustomerProfile c;
    c.age = age;
    c.holds.assign(loose.products.size(), false);
    customers.push_back(c);
  }
  GateRules rules = Rules();
  rules.k = 20;  // every product each customer may be shown
  rules.min_group_customers = 1;
  auto report = RunGate(**model, **model, customers, RankingRules{.max_per_category = 20}, rules);
  REQUIRE(report.has_value());
  CHECK_FALSE(report->passed());
  const std::string text = fmt::format("{}", fmt::join(report->failures, "\n"));
  CHECK(text.find("term_life shown to a customer aged 16") != std::string::npos);
  CHECK(text.find("student_contents shown to a customer aged 30") != std::string::npos);
  // With the shipped catalog the same lists are clean.
  auto strict = RecommenderModel::Load(dir, ShippedCatalog());
  auto clean = RunGate(**strict, **strict, customers, RankingRules{.max_per_category = 20}, rules);
  REQUIRE(clean.has_value());
  CHECK(clean->passed());
  fs::remove_all(dir);
}

TEST_CASE("gate rules are validated with file, line and column") {
  const std::string path =
      (fs::temp_directory_path() / fmt::format("abrec-gate-rules-{}.yaml", ::getpid())).string();
  std::ofstream(path) << "k: 3\nattributes: [sex, shoe_size]\ninvariants:\n  - {category: life}\n";
  auto rules = LoadGateRules(path);
  REQUIRE_FALSE(rules.has_value());
  const std::string text = rules.error()[0].ToString() + "\n" + rules.error()[1].ToString();
  CHECK(text.find(path + ":2:") != std::string::npos);
  CHECK(text.find("shoe_size") != std::string::npos);
  CHECK(text.find("min_age or max_age") != std::string::npos);
  fs::remove(path);
}

}  // namespace abrec
