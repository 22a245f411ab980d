#include "recommender/portfolio/baselines.h"

#include <doctest/doctest.h>

#include "tests/recommender/synthetic_portfolio.h"

namespace abrec {
namespace {

// Products A, B, C; customers {A, B}, {A}, {A, C}, {B, C}.
Portfolio FourCustomers() {
  Portfolio p;
  p.products = {"A", "B", "C"};
  for (const auto& holds : {std::vector<bool>{true, true, false},
                            {true, false, false},
                            {true, false, true},
                            {false, true, true}}) {
    p.customers.push_back({"c", std::nullopt, {}, holds});
  }
  return p;
}

std::vector<std::size_t> All(const Portfolio& p) {
  std::vector<std::size_t> all(p.customers.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  return all;
}

}  // namespace

TEST_CASE("popularity and co-occurrence on a portfolio small enough to count by hand") {
  const Portfolio p = FourCustomers();
  const HoldingCounts counts(p, All(p));
  CHECK(PopularityScores(counts) == std::vector<double>{0.75, 0.5, 0.5});
  CHECK(counts.Conditional(1, 0) == doctest::Approx(1.0 / 3));  // P(B | A)
  CHECK(counts.Conditional(0, 1) == doctest::Approx(0.5));      // P(A | B)
  CHECK(counts.Conditional(0, 0) == 1);
  // Holding A: P(· | A).
  const auto a = CooccurrenceScores(counts, {true, false, false});
  CHECK(a[1] == doctest::Approx(1.0 / 3));
  CHECK(a[2] == doctest::Approx(1.0 / 3));
  // Holding B and C: the mean of P(· | B) and P(· | C).
  const auto bc = CooccurrenceScores(counts, {false, true, true});
  CHECK(bc[0] == doctest::Approx(0.5));
  CHECK(bc[1] == doctest::Approx(0.75));
  // Holding nothing: popularity.
  CHECK(CooccurrenceScores(counts, {false, false, false}) == PopularityScores(counts));
  // Counting a subset counts only it.
  const std::vector<std::size_t> first_two{0, 1};
  CHECK(PopularityScores(HoldingCounts(p, first_two)) == std::vector<double>{1.0, 0.5, 0.0});
}

TEST_CASE("logistic regression reproduces statsmodels' maximum-likelihood fit") {
  // The reference: statsmodels 0.13.5, sm.Logit(y, sm.add_constant(x)).fit(), on the same
  // data: x = 0..9, y = 0 0 0 1 0 1 0 1 1 1 gives (−3.04517592, 0.67670576); the two-column
  // case gives (−0.53573085, 1.31469451, 0.99880622).
  Eigen::MatrixXd x(10, 1);
  Eigen::VectorXd y(10);
  for (int i = 0; i < 10; ++i) x(i, 0) = i;
  y << 0, 0, 0, 1, 0, 1, 0, 1, 1, 1;
  auto m = FitLogistic(x, y, {.l2 = 0});
  REQUIRE(m.has_value());
  CHECK(m->converged);
  CHECK(m->intercept == doctest::Approx(-3.04517592).epsilon(1e-6));
  CHECK(m->weights(0) == doctest::Approx(0.67670576).epsilon(1e-6));

  Eigen::MatrixXd x2(12, 2);
  x2 << 0.5, 1.0, 1.5, -0.5, -1.0, 0.3, 2.0, 1.2, 0.1, -1.1, -0.7, 0.8, 1.1, 0.2, -1.5, -0.4, 0.9,
      -0.9, -0.2, 1.5, 1.7, 0.6, -0.9, -1.3;
  Eigen::VectorXd y2(12);
  y2 << 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0;
  auto m2 = FitLogistic(x2, y2, {.l2 = 0});
  REQUIRE(m2.has_value());
  CHECK(m2->intercept == doctest::Approx(-0.53573085).epsilon(1e-6));
  CHECK(m2->weights(0) == doctest::Approx(1.31469451).epsilon(1e-6));
  CHECK(m2->weights(1) == doctest::Approx(0.99880622).epsilon(1e-6));

  // With a penalty the optimum solves Xᵀ(p − y) + λw = 0 and 1ᵀ(p − y) = 0.
  auto ridge = FitLogistic(x2, y2, {.l2 = 2.0});
  REQUIRE(ridge.has_value());
  const Eigen::VectorXd r = ridge->PredictRows(x2) - y2;
  CHECK(r.sum() == doctest::Approx(0).epsilon(1e-8));
  const Eigen::VectorXd g = x2.transpose() * r + 2.0 * ridge->weights;
  CHECK(g.cwiseAbs().maxCoeff() < 1e-8);
  CHECK(ridge->weights.norm() < m2->weights.norm());  // shrunk

  // Separable data stays finite under a penalty.
  Eigen::VectorXd separable(10);
  separable << 0, 0, 0, 0, 0, 1, 1, 1, 1, 1;
  auto s = FitLogistic(x, separable, {.l2 = 0.1});
  REQUIRE(s.has_value());
  CHECK(std::isfinite(s->weights(0)));
  CHECK(s->Predict(Eigen::VectorXd::Constant(1, 9.0)) > 0.99);
}

TEST_CASE("logistic regression refuses what it cannot fit") {
  Eigen::MatrixXd x(3, 1);
  x << 1, 2, 3;
  Eigen::VectorXd y(3);
  y << 0, 2, 1;
  CHECK(FitLogistic(x, y).error().code == ErrorCode::kInvalidArgument);
  CHECK(FitLogistic(x, Eigen::VectorXd::Zero(2)).error().code == ErrorCode::kInvalidArgument);
  x(0, 0) = std::nan("");
  CHECK(FitLogistic(x, Eigen::VectorXd::Zero(3)).error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("the logistic baseline finds the attribute that drives a product") {
  const Portfolio p = SyntheticPortfolio(1'500, 3);
  auto travel = LogisticBaseline::Fit(p, All(p), 3);  // travel: 0.5 for women, 0.1 for men
  REQUIRE(travel.has_value());
  PortfolioCustomer woman = p.customers[0], man = p.customers[0];
  woman.attributes["sex"] = "F";
  man.attributes["sex"] = "M";
  CHECK(travel->Score(woman) > 0.3);
  CHECK(travel->Score(man) < 0.2);
  auto home = LogisticBaseline::Fit(p, All(p), 1);  // follows motor, another holding
  REQUIRE(home.has_value());
  PortfolioCustomer with_motor = p.customers[0], without = p.customers[0];
  with_motor.holds[0] = true;
  without.holds[0] = false;
  CHECK(home->Score(with_motor) > home->Score(without) + 0.3);
  CHECK(LogisticBaseline::Fit(p, All(p), 9).error().code == ErrorCode::kInvalidArgument);
}

}  // namespace abrec
