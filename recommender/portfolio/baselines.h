// The reference scorers beside the portfolio model, and the counts the model's own features
// are made of:
//   - HoldingCounts: how many customers hold each product and each pair of products;
//   - popularity: P(holds p), the share of customers holding p;
//   - item co-occurrence: the mean over the held products q of P(holds p | holds q)
//     (item-to-item collaborative filtering, Sarwar et al. 2001, with conditional
//     probabilities as the similarity); popularity when nothing is held;
//   - logistic regression with an L2 penalty, fitted by iteratively reweighted least squares
//     (Newton's method on the penalised log-likelihood, step halving when a step does not
//     decrease it), and LogisticBaseline, which fits it on a portfolio's attributes and
//     other holdings to predict one product.
// All are plain values, safe to read from many threads once built.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "base/error.h"
#include "recommender/portfolio/portfolio.h"

namespace abrec {

class HoldingCounts {
 public:
  HoldingCounts() = default;
  // Counts over `customers` (indices into portfolio.customers).
  HoldingCounts(const Portfolio& portfolio, std::span<const std::size_t> customers);

  std::size_t products() const { return holders_.size(); }
  // P(holds p).
  double Popularity(std::size_t p) const;
  // P(holds p | holds q), 0 when nobody holds q.
  double Conditional(std::size_t p, std::size_t q) const;

 private:
  double customers_ = 0;
  std::vector<double> holders_;             // per product
  std::vector<std::vector<double>> pairs_;  // [q][p]: customers holding both
};

// Popularity and co-occurrence scores for every product, given what a customer holds.
std::vector<double> PopularityScores(const HoldingCounts& counts);
std::vector<double> CooccurrenceScores(const HoldingCounts& counts, const std::vector<bool>& holds);

struct LogisticOptions {
  // The penalty λ/2·‖w‖² on the weights, not the intercept; larger shrinks more (and keeps
  // separable data finite).
  double l2 = 1.0;
  int max_iterations = 100;
  double tolerance = 1e-9;  // stop when no coefficient moves more than this
};

struct LogisticModel {
  Eigen::VectorXd weights;
  double intercept = 0;
  int iterations = 0;
  bool converged = false;

  // P(y = 1 | x) for one row; for every row of a matrix.
  double Predict(const Eigen::VectorXd& x) const;
  Eigen::VectorXd PredictRows(const Eigen::MatrixXd& x) const;
};

// Fits P(y = 1 | x) = σ(b + xᵀw) to rows `x` and 0/1 labels `y`. Errors: kInvalidArgument
// for mismatched sizes, no rows, labels other than 0/1, or non-finite values.
Result<LogisticModel> FitLogistic(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                                  const LogisticOptions& options = {});

// Logistic regression for "holds `target`" from a customer's attributes (numeric values as
// standardised numbers, other values as one indicator each) and their other holdings.
class LogisticBaseline {
 public:
  static Result<LogisticBaseline> Fit(const Portfolio& portfolio,
                                      std::span<const std::size_t> customers, std::size_t target,
                                      const LogisticOptions& options = {});
  // P(holds target) for a customer (whatever they hold of the target is ignored).
  double Score(const PortfolioCustomer& customer) const;

 private:
  Eigen::VectorXd Row(const PortfolioCustomer& customer) const;

  std::size_t target_ = 0, products_ = 0;
  std::vector<std::string> numeric_;                             // attribute names
  std::vector<double> mean_, scale_;                             // per numeric attribute
  std::vector<std::pair<std::string, std::string>> indicators_;  // attribute, value
  LogisticModel model_;
};

}  // namespace abrec
