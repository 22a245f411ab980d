// The serving half of the recommender: customer attributes, the arm policies, the p99
// monitor, the model registry's choice and hot swap, and the candidate cache.
#include "recommender/serving/serving.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "recommender/serving/candidate_cache.h"
#include "recommender/data/synthetic_world.h"
#include "recommender/training/trainer.h"
#include "tests/recommender/shipped_catalog.h"

namespace abrec {
namespace fs = std::filesystem;
namespace {

std::string TempPath(const std::string& name) {
  return (fs::temp_directory_path() / fmt::format("abrec-serving-{}-{}", ::getpid(), name))
      .string();
}

// A small model, trained once for the tests of this file.
const std::string& SmallModelDir() {
  static const std::string dir = [] {
    const std::string d = TempPath("models") + "/hybrid/v1";
    fs::remove_all(TempPath("models"));
    fs::create_directories(fs::path(d).parent_path());
    TrainOptions o;
    o.customers = 1'500;
    o.mf.epochs = 5;
    o.gbm.rounds = 20;
    auto r = TrainSynthetic(ShippedCatalog(), o, d, [](const std::string&) {});
    REQUIRE(r.has_value());
    return d;
  }();
  return dir;
}

CustomerProfile Profile(const Catalog& c, const nlohmann::json& attributes) {
  auto p = ProfileFromAttributes(attributes, c, 2026);
  REQUIRE(p.has_value());
  return *p;
}

std::size_t Index(const Catalog& c, const std::string& id) { return *c.IndexOf(id); }

}  // namespace

TEST_CASE("attributes are validated and each error names its field") {
  const Catalog c = ShippedCatalog();
  const auto p = Profile(c, {{"birth_year", 1990},
                             {"sex", "female"},
                             {"region", "coast"},
                             {"occupation", "retired"},
                             {"holdings", {"pet", "gadget"}}});
  CHECK(p.age == 36);
  CHECK(p.sex == 'F');
  CHECK(p.AgeBand() == "35-44");
  CHECK(p.holds[Index(c, "pet")]);
  CHECK_FALSE(p.holds[Index(c, "funeral")]);
  // The attributes written back read as the same profile (the cache stores them).
  const auto again = Profile(c, ProfileToAttributes(p, c));
  CHECK(again.age == p.age);
  CHECK(again.holds == p.holds);
  CHECK(again.region == p.region);

  const std::vector<std::pair<nlohmann::json, std::string>> bad = {
      {{{"age", "forty"}}, "attributes.age"},
      {{{"age", 121}}, "attributes.age"},
      {{{"birth_year", 2027}}, "attributes.birth_year"},
      {{{"sex", "x"}}, "attributes.sex"},
      {{{"region", "mars"}}, "attributes.region"},
      {{{"occupation", 3}}, "attributes.occupation"},
      {{{"holdings", {"no_such_product"}}}, "attributes.holdings"},
      {{{"holdings", "pet"}}, "attributes.holdings"},
      {{{"ocupation", "student"}}, "attributes.ocupation"},
      {nlohmann::json::array(), "attributes"},
  };
  for (const auto& [attributes, field] : bad) {
    auto r = ProfileFromAttributes(attributes, c, 2026);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().field == field);
  }
  CHECK(Profile(c, nullptr).holds.size() == c.products.size());
  CHECK(CustomerProfile{}.AgeBand() == "unknown");
}

TEST_CASE("the random policy draws uniformly among the explorable products: eligible, not held") {
  const Catalog c = ShippedCatalog();
  const auto p = Profile(c, {{"age", 16}, {"holdings", {"pet"}}});
  std::vector<std::size_t> eligible;
  for (std::size_t i = 0; i < c.products.size(); ++i) {
    if (Eligible(c.products[i], 16) && i != Index(c, "pet")) eligible.push_back(i);
  }
  // Explorable (the off-policy log's support) is that set, and nothing outside the catalog.
  for (std::size_t i = 0; i <= c.products.size(); ++i) {
    CAPTURE(i);
    CHECK(Explorable(c, p, i) == std::count(eligible.begin(), eligible.end(), i));
  }
  std::mt19937_64 rng(7);
  std::map<std::size_t, int> shown;
  constexpr int kLists = 20'000;
  for (int i = 0; i < kLists; ++i) {
    const PolicyList l = RandomList(c, p, 3, rng);
    REQUIRE(l.items.size() == 3);
    std::set<std::size_t> distinct;
    for (const auto& item : l.items) {
      CHECK(Eligible(c.products[item.product], 16));
      CHECK(item.product != Index(c, "pet"));
      CHECK(item.propensity == doctest::Approx(3.0 / static_cast<double>(eligible.size())));
      distinct.insert(item.product);
      ++shown[item.product];
    }
    CHECK(distinct.size() == 3);
  }
  // Every eligible product is shown with its logged propensity (binomial, 5 standard errors).
  const double q = 3.0 / static_cast<double>(eligible.size());
  for (const std::size_t e : eligible) {
    CHECK(std::abs(shown[e] / double(kLists) - q) < 5 * std::sqrt(q * (1 - q) / kLists));
  }
}

TEST_CASE("legacy rules rank by segment popularity under the hard filters") {
  const Catalog c = ShippedCatalog();
  std::map<std::string, std::vector<double>> segments;
  std::vector<double> shares(c.products.size(), 0.01);
  shares[Index(c, "student_contents")] = 0.9;  // popular, but not past 25
  shares[Index(c, "pet")] = 0.8;               // popular, but held
  shares[Index(c, "funeral")] = 0.5;
  segments["45-54"] = shares;
  const auto p = Profile(c, {{"age", 50}, {"holdings", {"pet"}}});
  const PolicyList l = LegacyRulesList(c, &segments, p, 3, RankingRules{});
  REQUIRE_FALSE(l.items.empty());
  CHECK(c.products[l.items[0].product].id == "funeral");
  for (const auto& item : l.items) {
    CHECK(c.products[item.product].id != "student_contents");
    CHECK(c.products[item.product].id != "pet");
    CHECK(item.propensity == 1.0);
  }
  const std::string rules = fmt::format("{}", fmt::join(l.rules_applied, "\n"));
  CHECK(rules.find("eligibility: removed student_contents") != std::string::npos);
  CHECK(rules.find("held: removed pet") != std::string::npos);
}

// LegacyRulesList hands the re-ranker only the most popular products; the oracle is the
// re-ranker over the whole catalog. Shares with many ties (tenths), ages across every
// eligibility rule, random holdings and category caps of 1 and 2.
TEST_CASE("legacy rules over 2,100 products equal the re-ranker over the whole catalog") {
  const Catalog c = EnlargedShippedCatalog(100);
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<int> tenth(0, 10), age(15, 90);
  std::map<std::string, std::vector<double>> segments;
  for (const std::string band :
       {"under_18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+", "unknown"}) {
    auto& shares = segments[band];
    for (std::size_t p = 0; p < c.products.size(); ++p) shares.push_back(tenth(rng) / 10.0);
  }
  std::bernoulli_distribution holds(0.2);
  for (int cap : {1, 2}) {
    RankingRules rules;
    rules.max_per_category = cap;
    for (int i = 0; i < 200; ++i) {
      CustomerProfile customer;
      customer.age = age(rng);
      customer.holds.resize(c.products.size());
      for (std::size_t p = 0; p < c.products.size(); ++p) customer.holds[p] = holds(rng);
      const int k = 1 + i % 6;
      const PolicyList l = LegacyRulesList(c, &segments, customer, k, rules);
      const auto& shares = segments.at(customer.AgeBand());
      std::vector<ScoredCandidate> all;
      for (std::size_t p = 0; p < c.products.size(); ++p) all.push_back({p, shares[p], 0.0});
      RankingRules legacy = rules;
      legacy.list_size = k;
      legacy.w_value = 0;
      legacy.w_diversity = 0;
      const RerankResult oracle = Rerank(c, all, customer.age, customer.holds, legacy);
      REQUIRE(l.items.size() == oracle.shown.size());
      for (std::size_t r = 0; r < l.items.size(); ++r) {
        CHECK(l.items[r].product == oracle.shown[r].product);
        CHECK(l.items[r].score == oracle.shown[r].score);
      }
      CHECK(l.rules_applied.size() <= oracle.rules_applied.size());
    }
  }
}

TEST_CASE("the pipeline scores candidates, removes ineligible products and is deterministic") {
  const Catalog c = ShippedCatalog();
  auto model = RecommenderModel::Load(SmallModelDir(), c);
  REQUIRE(model.has_value());
  CHECK((*model)->version() == "v1");
  const auto p = Profile(c, {{"age", 70}, {"sex", "M"}, {"holdings", {"auto_third_party"}}});
  auto a = PipelineList(**model, p, 4, RankingRules{}, {});
  auto b = PipelineList(**model, p, 4, RankingRules{}, {});
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  REQUIRE_FALSE(a->items.empty());
  std::set<std::string> categories;
  for (std::size_t i = 0; i < a->items.size(); ++i) {
    const auto& item = a->items[i];
    CHECK(item.product == b->items[i].product);
    CHECK(Eligible(c.products[item.product], 70));
    CHECK(c.products[item.product].id != "auto_third_party");
    REQUIRE(item.p_click.has_value());
    CHECK(*item.p_click > 0);
    CHECK(*item.p_bind <= *item.p_click);
    CHECK(item.features.size() == kFeatureCount);
    CHECK(categories.insert(c.products[item.product].category).second);  // one per category
    if (i > 0) CHECK(item.score <= a->items[i - 1].score);
  }
  // Candidates given (the batch cache) are the only ones considered.
  const std::vector<std::size_t> only{Index(c, "funeral"), Index(c, "pet")};
  auto cached = PipelineList(**model, p, 4, RankingRules{}, only);
  REQUIRE(cached.has_value());
  for (const auto& item : cached->items) {
    CHECK((item.product == only[0] || item.product == only[1]));
  }
  // A model of another catalog is refused at load.
  Catalog other = c;
  other.products[0].id = "renamed";
  auto refused = RecommenderModel::Load(SmallModelDir(), other);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().message.find("another catalog") != std::string::npos);
}

TEST_CASE("a model does not read the customer's sex; one of an older version does") {
  const Catalog c = ShippedCatalog();
  auto model = RecommenderModel::Load(SmallModelDir(), c);
  REQUIRE(model.has_value());
  CHECK_FALSE((*model)->reads_sex());
  // The oracle of fairness through unawareness: the same customer as a woman, a man and of
  // unknown sex gets the same list, scored from the same features (sex_female missing).
  auto world = SyntheticWorld::Generate(c, {.customers = 200, .seed = 5});
  REQUIRE(world.has_value());
  const std::size_t sex_female = 1;
  REQUIRE(FeatureNames()[sex_female] == "sex_female");
  for (const Customer& customer : world->customers()) {
    CustomerProfile p = ProfileOf(customer);
    std::vector<PolicyList> lists;
    for (const char sex : {'F', 'M', '?'}) {
      p.sex = sex;
      auto list = PipelineList(**model, p, 3, RankingRules{}, {});
      REQUIRE(list.has_value());
      lists.push_back(std::move(*list));
    }
    for (const PolicyList& other : {lists[1], lists[2]}) {
      REQUIRE(other.items.size() == lists[0].items.size());
      for (std::size_t i = 0; i < other.items.size(); ++i) {
        CHECK(other.items[i].product == lists[0].items[i].product);
        CHECK(*other.items[i].p_click == *lists[0].items[i].p_click);
        CHECK(*other.items[i].p_bind == *lists[0].items[i].p_bind);
        CHECK(std::isnan(other.items[i].features[sex_female]));
      }
    }
  }
  // A model folder of an older version has no "reads_sex": it was trained reading sex, and
  // is served so. A malformed value is refused at load.
  const std::string old = TempPath("old-model");
  fs::remove_all(old);
  fs::copy(SmallModelDir(), old, fs::copy_options::recursive);
  auto rewrite = [&old](const std::function<void(nlohmann::json&)>& edit) {
    std::ifstream in(old + "/metadata.json");
    auto meta = nlohmann::json::parse(in);
    in.close();
    edit(meta);
    std::ofstream(old + "/metadata.json", std::ios::trunc) << meta.dump();
  };
  rewrite([](nlohmann::json& meta) { meta.erase("reads_sex"); });
  auto older = RecommenderModel::Load(old, c);
  REQUIRE(older.has_value());
  CHECK((*older)->reads_sex());
  rewrite([](nlohmann::json& meta) { meta["reads_sex"] = "no"; });
  auto malformed = RecommenderModel::Load(old, c);
  REQUIRE_FALSE(malformed.has_value());
  CHECK(malformed.error().message.find("reads_sex") != std::string::npos);
  fs::remove_all(old);
}

TEST_CASE("the p99 monitor trips past its threshold and closes after the cool-down") {
  LatencyMonitor m(
      {.threshold_ms = 10, .window = 100, .min_samples = 50, .cooldown_us = 1'000'000});
  std::int64_t now = 0;
  for (int i = 0; i < 200; ++i) m.Record(2'000, now += 1000);  // 2 ms: fine
  CHECK(m.Allow(now));
  CHECK(m.snapshot(now).p99_ms == doctest::Approx(2.0));
  // 2 slow runs in 100 put the p99 past 10 ms.
  for (int i = 0; i < 100; ++i) m.Record(i % 50 == 0 ? 50'000 : 2'000, now += 1000);
  CHECK_FALSE(m.Allow(now));
  CHECK(m.snapshot(now).tripped);
  CHECK(m.snapshot(now).trips == 1);
  // It tripped during the last 100 runs (100 ms), so it is open for at most a second more.
  CHECK_FALSE(m.Allow(now + 800'000));
  now += 1'000'000;
  CHECK(m.Allow(now));
  CHECK(m.snapshot(now).samples == 0);  // measures afresh
  // One slow run in 100 stays under the p99 (while fewer than 100 are in, one is the max).
  for (int i = 0; i < 100; ++i) m.Record(i == 99 ? 50'000 : 2'000, now += 1000);
  CHECK(m.Allow(now));
}

TEST_CASE("the registry serves the live version, hot-swaps, and keeps the old one on failure") {
  const Catalog c = ShippedCatalog();
  const std::string root = fs::path(SmallModelDir()).parent_path().parent_path().string();
  const std::string v2 = root + "/hybrid/v2";
  fs::remove_all(v2);
  fs::copy(SmallModelDir(), v2);
  {  // v2 is newer by created_at
    std::ifstream in(v2 + "/metadata.json");
    auto meta = nlohmann::json::parse(in);
    meta["version"] = "v2";
    meta["created_at"] = "2999-01-01T00:00:00.000000Z";
    std::ofstream(v2 + "/metadata.json") << meta.dump();
  }
  ModelRegistry registry(root, c, {});
  auto results = registry.Reload();
  REQUIRE(results.size() == 1);
  CHECK(results[0].status == "loaded");
  CHECK(registry.Get("hybrid")->version() == "v2");
  // LIVE pins a version.
  std::ofstream(root + "/hybrid/LIVE") << "v1\n";
  registry.Reload();
  const auto v1 = registry.Get("hybrid");
  CHECK(v1->version() == "v1");
  CHECK(registry.Reload()[0].status == "unchanged");
  // A broken live version does not take the loaded one down.
  std::ofstream(root + "/hybrid/LIVE", std::ios::trunc) << "v2\n";
  std::ofstream(v2 + "/click.json", std::ios::trunc) << "{ not json";
  results = registry.Reload();
  CHECK(results[0].status == "failed");
  CHECK(registry.Get("hybrid") == v1);
  const auto list = registry.List();
  REQUIRE(list.size() == 2);
  CHECK(list[0].loaded);  // v1
  CHECK(list[1].live);    // v2, chosen but not loadable
  CHECK(registry.Get("other") == nullptr);
  // A swap is approved first (the service's audit entry): refused, nothing changes and the
  // error is reported; approved, it swaps; nothing to swap, nobody is asked.
  fs::copy_file(SmallModelDir() + "/click.json", v2 + "/click.json",
                fs::copy_options::overwrite_existing);
  int asked = 0;
  results = registry.Reload([&asked](const std::vector<ModelReloadResult>& r) -> Result<void> {
    ++asked;
    CHECK(r.at(0).status == "loaded");
    return std::unexpected(Error{ErrorCode::kIo, "the audit log cannot be written", "audit"});
  });
  CHECK(asked == 1);
  CHECK(results[0].status == "failed");
  CHECK(results[0].error.find("the audit log cannot be written") != std::string::npos);
  CHECK(registry.Get("hybrid") == v1);
  const std::uint64_t swaps = registry.swaps();
  auto approve = [&asked](const std::vector<ModelReloadResult>&) -> Result<void> {
    ++asked;
    return {};
  };
  results = registry.Reload(approve);
  CHECK(asked == 2);
  CHECK(results[0].status == "loaded");
  CHECK(registry.Get("hybrid")->version() == "v2");
  CHECK(registry.swaps() == swaps + 1);
  CHECK(registry.Reload(approve)[0].status == "unchanged");
  CHECK(asked == 2);
  // The folder watcher backs off while swaps are refused: each try loads the models from
  // disk. Polling every 10 ms for 300 ms, it asks at about 0, 20, 60, 140 and 300 ms (the
  // wait doubling from the interval), not 30 times.
  std::ofstream(root + "/hybrid/LIVE", std::ios::trunc) << "v1\n";
  std::atomic<int> refusals{0};
  registry.StartWatching(10, [&refusals](const std::vector<ModelReloadResult>&) -> Result<void> {
    ++refusals;
    return std::unexpected(Error{ErrorCode::kIo, "the audit log cannot be written", "audit"});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  registry.StopWatching();
  CHECK(refusals >= 1);
  CHECK(refusals <= 6);
  CHECK(registry.Get("hybrid")->version() == "v2");  // nothing swapped
  fs::remove(root + "/hybrid/LIVE");
  fs::remove_all(v2);
}

TEST_CASE("the SQLite candidate cache stores, replaces and erases entries") {
  const std::string path = TempPath("cache.db");
  fs::remove(path);
  auto cache = OpenSqliteCandidateCache(path, 2);
  REQUIRE(cache.has_value());
  CHECK((*cache)->Get("u1")->has_value() == false);
  REQUIRE(
      (*cache)->Put({{"u1", "v1", R"({"age":30})", {"pet", "funeral"}}, {"u2", "v1", "{}", {}}}));
  auto e = (*cache)->Get("u1");
  REQUIRE(e.has_value());
  REQUIRE(e->has_value());
  CHECK((*e)->model_version == "v1");
  CHECK((*e)->attributes_json == R"({"age":30})");
  CHECK((*e)->product_ids == std::vector<std::string>{"pet", "funeral"});
  CHECK((*(*cache)->Get("u2"))->product_ids.empty());
  REQUIRE((*cache)->Put({{"u1", "v2", "{}", {"gadget"}}}));
  CHECK((*(*cache)->Get("u1"))->model_version == "v2");
  CHECK(*(*cache)->Erase("u1") == 1);
  CHECK(*(*cache)->Erase("u1") == 0);
  CHECK_FALSE((*cache)->Get("u1")->has_value());
  // The Redis value format round-trips, and a malformed value is an error, not a crash.
  const CachedCandidates entry{"u3", "v9", R"({"age":41})", {"pet"}};
  auto decoded = DecodeCachedCandidates("u3", EncodeCachedCandidates(entry));
  REQUIRE(decoded.has_value());
  CHECK(decoded->product_ids == entry.product_ids);
  CHECK(decoded->model_version == "v9");
  CHECK_FALSE(DecodeCachedCandidates("u3", "[1,2]").has_value());
  CHECK_FALSE(DecodeCachedCandidates("u3", R"({"model_version":1})").has_value());
  cache->reset();
  fs::remove(path);
}

}  // namespace abrec
