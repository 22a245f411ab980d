#include "recommender/portfolio/portfolio_evaluation.h"

#include <algorithm>
#include <set>

#include <doctest/doctest.h>

#include "tests/recommender/synthetic_portfolio.h"

namespace abrec {

TEST_CASE("the customer split and the hidden products are seeded and well-formed") {
  const auto a = SplitCustomers(1'000, 0.2, 7);
  CHECK(a.test.size() == 200);
  CHECK(a.train.size() == 800);
  std::set<std::size_t> all(a.train.begin(), a.train.end());
  all.insert(a.test.begin(), a.test.end());
  CHECK(all.size() == 1'000);
  CHECK(std::is_sorted(a.test.begin(), a.test.end()));
  CHECK(SplitCustomers(1'000, 0.2, 7).test == a.test);
  CHECK(SplitCustomers(1'000, 0.2, 8).test != a.test);

  const Portfolio p = SyntheticPortfolio(300, 5);
  const auto split = SplitCustomers(300, 0.5, 7);
  const auto cases = HideOne(p, split.test, 11);
  CHECK(cases == HideOne(p, split.test, 11));
  std::set<std::size_t> hidden_products;
  for (const HiddenCase& h : cases) {
    CHECK(p.customers[h.customer].holds[h.hidden]);  // a held product
    hidden_products.insert(h.hidden);
  }
  CHECK(hidden_products.size() == 6);  // uniformly chosen: every product comes up
  // Customers holding nothing have no case.
  const auto nobody_holding =
      std::count_if(split.test.begin(), split.test.end(), [&](std::size_t c) {
        return std::none_of(p.customers[c].holds.begin(), p.customers[c].holds.end(),
                            [](bool b) { return b; });
      });
  CHECK(static_cast<long>(cases.size()) == static_cast<long>(split.test.size()) - nobody_holding);
}

TEST_CASE("hidden-product metrics on cases checked by hand") {
  // Case 1: the hidden product ranks first; case 2: third.
  std::vector<ScoredCase> cases(2);
  cases[0].groups = {"sex=F"};
  cases[0].candidates = {{0, 0.9, 0.9, 0.9, true}, {1, 0.5, 0.5, 0.5, false}};
  cases[1].groups = {"sex=M"};
  cases[1].candidates = {
      {0, 0.2, 0.2, 0.2, true}, {1, 0.7, 0.7, 0.7, false}, {2, 0.4, 0.4, 0.4, false}};
  const auto e = ComputeHoldoutEvaluation(cases);
  CHECK(e.all.cases == 2);
  CHECK(e.all.hit1 == 0.5);
  CHECK(e.all.hit3 == 1);
  CHECK(e.all.ndcg5 == doctest::Approx((1 + 1 / std::log2(4)) / 2));
  CHECK(e.all.auc == doctest::Approx(0.5));  // 3 of the 6 (positive, negative) pairs in order
  CHECK(e.by_group.at("sex=F").hit1 == 1);
  CHECK(e.by_group.at("sex=M").hit1 == 0);
  // Scores that are not probabilities leave the probability figures out.
  cases[0].candidates[0].raw = kNoFigure;
  CHECK(std::isnan(ComputeHideOneMetrics(cases).log_loss));

  CHECK(
      GroupsOf({"c", 34, {{"sex", "F"}, {"region", "r1"}}, {}}, std::vector<std::string>{"sex"}) ==
      std::vector<std::string>{"sex=F", "age=30-39"});
}

TEST_CASE("the top-share measure counts the positives among the best-scored") {
  const std::vector<double> scores{0.9, 0.1, 0.8, 0.3, 0.2, 0.7, 0.0, 0.6, 0.5, 0.4};
  const std::vector<int> labels{1, 1, 0, 0, 0, 1, 0, 0, 0, 0};
  CHECK(TopShareOfPositives(scores, labels, 0.2) == doctest::Approx(1.0 / 3));  // 0.9, 0.8
  CHECK(TopShareOfPositives(scores, labels, 0.3) == doctest::Approx(2.0 / 3));  // + 0.7
  CHECK(TopShareOfPositives(scores, labels, 1.0) == 1);
  CHECK(TopShareOfPositives(scores, std::vector<int>(10, 0), 0.2) == 0);
}

TEST_CASE("the Zimnat and CoIL protocols are deterministic for a seed") {
  const Portfolio p = SyntheticPortfolio(400, 6);
  ZimnatOptions z;
  z.model.mf.dim = 8;
  z.model.mf.epochs = 3;
  z.model.gbm.rounds = 20;
  z.model.gbm.max_depth = 3;
  z.model.gbm.threads = 1;
  auto a = RunZimnatProtocol(p, z);
  auto b = RunZimnatProtocol(p, z);
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  REQUIRE(a->rows.size() == 5);
  CHECK(a->rows[0].name == "popularity");
  CHECK(a->rows[4].name == "full model");
  CHECK(a->test_cases > 60);
  for (std::size_t i = 0; i < a->rows.size(); ++i) {
    CHECK(a->rows[i].metrics.hit1 == b->rows[i].metrics.hit1);
    CHECK(a->rows[i].metrics.ndcg5 == b->rows[i].metrics.ndcg5);
  }
  // The structure is there to find: co-occurrence and the model beat popularity.
  CHECK(a->rows[1].metrics.ndcg5 > a->rows[0].metrics.ndcg5);
  CHECK(a->rows[4].metrics.ndcg5 > a->rows[0].metrics.ndcg5);
  CHECK(a->full.by_group.contains("sex=F"));

  CoilOptions c;
  c.repeats = 1;
  c.folds = 2;
  c.target = "funeral";  // driven by region
  c.model = z.model;
  auto x = RunCoilProtocol(p, c);
  auto y = RunCoilProtocol(p, c);
  REQUIRE(x.has_value());
  REQUIRE(y.has_value());
  CHECK(x->folds.size() == 2);
  CHECK(x->model_mean == y->model_mean);
  CHECK(x->logistic_mean == y->logistic_mean);
  CHECK(x->folds[0].owners + x->folds[1].owners ==
        std::count_if(p.customers.begin(), p.customers.end(),
                      [](const PortfolioCustomer& pc) { return pc.holds[4]; }));
  // Stratified: the owners split evenly.
  CHECK(std::abs(x->folds[0].owners - x->folds[1].owners) <= 1);
  CHECK(x->model_mean > 0.4);  // the top 20% holds far more than 20% of the owners
  c.target = "boat";
  CHECK(RunCoilProtocol(p, c).error().code == ErrorCode::kInvalidArgument);
}

}  // namespace abrec
