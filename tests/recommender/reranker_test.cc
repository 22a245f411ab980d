#include "recommender/model/reranker.h"

#include <algorithm>
#include <string>

#include <doctest/doctest.h>

#include "tests/recommender/shipped_catalog.h"

namespace abrec {
namespace {

std::vector<std::string> Ids(const Catalog& c, const RerankResult& r) {
  std::vector<std::string> out;
  for (const auto& s : r.shown) out.push_back(c.products[s.product].id);
  return out;
}

bool Mentions(const RerankResult& r, const std::string& text) {
  return std::any_of(r.rules_applied.begin(), r.rules_applied.end(),
                     [&](const std::string& s) { return s.find(text) != std::string::npos; });
}

}  // namespace

TEST_CASE("hard filters: no student discount at 50, no life cover at 17, nothing already held") {
  const Catalog c = ShippedCatalog();
  const auto id = [&](const char* name) { return *c.IndexOf(name); };
  const std::vector<ScoredCandidate> candidates{{id("student_contents"), 0.9, 0.5},
                                                {id("term_life"), 0.8, 0.5},
                                                {id("home_contents"), 0.3, 0.3},
                                                {id("travel_annual"), 0.2, 0.3}};
  std::vector<bool> holds(c.products.size(), false);
  holds[id("home_contents")] = true;
  RankingRules rules;
  const RerankResult at50 = Rerank(c, candidates, 50, holds, rules);
  CHECK(Ids(c, at50) == std::vector<std::string>{"term_life", "travel_annual"});
  CHECK(Mentions(at50, "eligibility: removed student_contents (age 50; allowed 17..25)"));
  CHECK(Mentions(at50, "held: removed home_contents"));
  const RerankResult at17 = Rerank(c, candidates, 17, holds, rules);
  CHECK(Ids(c, at17) == std::vector<std::string>{"student_contents", "travel_annual"});
  CHECK(Mentions(at17, "eligibility: removed term_life"));
}

TEST_CASE("diversity: one product per category at most, the cap recorded") {
  const Catalog c = ShippedCatalog();
  const auto id = [&](const char* name) { return *c.IndexOf(name); };
  const std::vector<ScoredCandidate> candidates{{id("auto_comprehensive"), 0.50, 0.3},
                                                {id("auto_third_party"), 0.49, 0.3},
                                                {id("roadside"), 0.48, 0.3},
                                                {id("pet"), 0.20, 0.3},
                                                {id("funeral"), 0.10, 0.3}};
  const RerankResult r = Rerank(c, candidates, 40, std::vector<bool>(c.products.size()), {});
  CHECK(Ids(c, r) == std::vector<std::string>{"auto_comprehensive", "pet", "funeral"});
  CHECK(Mentions(r, "category cap: at most 1 of auto; auto_third_party not shown"));
}

TEST_CASE("the value weight keeps clickbait from crowding out what sells") {
  // gadget: clicked often, rarely bought, cheap; whole_life: clicked less, bought, valuable.
  const Catalog c = ShippedCatalog();
  const auto id = [&](const char* name) { return *c.IndexOf(name); };
  const std::vector<ScoredCandidate> candidates{{id("gadget"), 0.30, 0.02},
                                                {id("whole_life"), 0.12, 0.40}};
  const std::vector<bool> none(c.products.size());
  RankingRules clicks_only;
  clicks_only.w_value = 0;
  CHECK(Ids(c, Rerank(c, candidates, 40, none, clicks_only)).front() == "gadget");
  CHECK(Ids(c, Rerank(c, candidates, 40, none, RankingRules{})).front() == "whole_life");
}

TEST_CASE("ranking rules load from config and are validated") {
  auto rules = LoadRankingRules(std::string(ABREC_SOURCE_DIR) + "/config/ranking.yaml");
  REQUIRE(rules.has_value());
  CHECK(rules->list_size == 3);
  CHECK(rules->max_per_category == 1);
  auto tree = ParseConfigText("list_size: 0\nweights: {clik: 1}\n", "ranking.yaml", ParseLimits{});
  REQUIRE(tree.has_value());
  auto bad = ReadRankingRules(*tree, "ranking.yaml");
  REQUIRE_FALSE(bad.has_value());
  std::string m;
  for (const auto& d : bad.error()) m += d.ToString() + "\n";
  CHECK(m.find("ranking.yaml:1:12: list_size") != std::string::npos);
  CHECK(m.find("unknown key \"clik\"") != std::string::npos);
}

}  // namespace abrec
