#include "recommender/portfolio/baselines.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include <Eigen/Cholesky>
#include <fmt/format.h>

namespace abrec {
namespace {

// Indicator columns need this many customers with the value; rarer values say nothing.
constexpr int kMinIndicatorCount = 5;

std::optional<double> Number(const std::string& s) {
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

double Sigmoid(double z) {
  return z >= 0 ? 1 / (1 + std::exp(-z)) : std::exp(z) / (1 + std::exp(z));
}

// The penalised negative log-likelihood, in the stable form log(1 + e^z) − y·z.
double Objective(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const Eigen::VectorXd& w,
                 double b, double l2) {
  const Eigen::VectorXd z = (x * w).array() + b;
  double loss = 0;
  for (Eigen::Index i = 0; i < z.size(); ++i) {
    loss += std::max(z(i), 0.0) + std::log1p(std::exp(-std::fabs(z(i)))) - y(i) * z(i);
  }
  return loss + l2 / 2 * w.squaredNorm();
}

}  // namespace

HoldingCounts::HoldingCounts(const Portfolio& portfolio, std::span<const std::size_t> customers) {
  const std::size_t n = portfolio.products.size();
  holders_.assign(n, 0);
  pairs_.assign(n, std::vector<double>(n, 0));
  for (const std::size_t c : customers) {
    const auto& holds = portfolio.customers[c].holds;
    customers_ += 1;
    for (std::size_t q = 0; q < n; ++q) {
      if (!holds[q]) continue;
      holders_[q] += 1;
      for (std::size_t p = 0; p < n; ++p) pairs_[q][p] += holds[p] ? 1 : 0;
    }
  }
}

double HoldingCounts::Popularity(std::size_t p) const {
  return customers_ > 0 ? holders_[p] / customers_ : 0;
}

double HoldingCounts::Conditional(std::size_t p, std::size_t q) const {
  return holders_[q] > 0 ? pairs_[q][p] / holders_[q] : 0;
}

std::vector<double> PopularityScores(const HoldingCounts& counts) {
  std::vector<double> s(counts.products());
  for (std::size_t p = 0; p < s.size(); ++p) s[p] = counts.Popularity(p);
  return s;
}

std::vector<double> CooccurrenceScores(const HoldingCounts& counts,
                                       const std::vector<bool>& holds) {
  const std::size_t n = counts.products();
  const long held = std::count(holds.begin(), holds.end(), true);
  if (held == 0) return PopularityScores(counts);
  std::vector<double> s(n, 0);
  for (std::size_t p = 0; p < n; ++p) {
    for (std::size_t q = 0; q < n; ++q) {
      if (holds[q]) s[p] += counts.Conditional(p, q);
    }
    s[p] /= static_cast<double>(held);
  }
  return s;
}

double LogisticModel::Predict(const Eigen::VectorXd& x) const {
  return Sigmoid(intercept + x.dot(weights));
}

Eigen::VectorXd LogisticModel::PredictRows(const Eigen::MatrixXd& x) const {
  Eigen::VectorXd p = (x * weights).array() + intercept;
  for (Eigen::Index i = 0; i < p.size(); ++i) p(i) = Sigmoid(p(i));
  return p;
}

Result<LogisticModel> FitLogistic(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                                  const LogisticOptions& o) {
  if (x.rows() == 0 || x.rows() != y.size()) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("logistic regression: {} rows and {} labels", x.rows(), y.size()), "data"));
  }
  if (!x.allFinite() || !(o.l2 >= 0)) {
    return std::unexpected(Error::InvalidArgument(
        "logistic regression: the features must be finite and the penalty non-negative", "data"));
  }
  for (Eigen::Index i = 0; i < y.size(); ++i) {
    if (y(i) != 0 && y(i) != 1) {
      return std::unexpected(Error::InvalidArgument(
          fmt::format("logistic regression: label {} of row {} is not 0 or 1", y(i), i), "data"));
    }
  }
  const Eigen::Index d = x.cols();
  LogisticModel m;
  m.weights = Eigen::VectorXd::Zero(d);
  // Start the intercept at the log-odds of the base rate (the optimum with no features).
  const double rate = std::clamp(y.mean(), 1e-6, 1 - 1e-6);
  m.intercept = std::log(rate / (1 - rate));
  double objective = Objective(x, y, m.weights, m.intercept, o.l2);
  // Newton on θ = (b, w): gradient Xᵀ(p − y) + λw, Hessian XᵀSX + λI (no penalty on b),
  // S = diag(p(1 − p)).
  for (m.iterations = 1; m.iterations <= o.max_iterations; ++m.iterations) {
    const Eigen::VectorXd p = m.PredictRows(x);
    const Eigen::VectorXd r = p - y;
    const Eigen::VectorXd s = (p.array() * (1 - p.array())).max(1e-12);
    Eigen::VectorXd g(d + 1);
    g(0) = r.sum();
    g.tail(d) = x.transpose() * r + o.l2 * m.weights;
    Eigen::MatrixXd h(d + 1, d + 1);
    h(0, 0) = s.sum();
    h.block(1, 0, d, 1) = x.transpose() * s;
    h.block(0, 1, 1, d) = h.block(1, 0, d, 1).transpose();
    h.block(1, 1, d, d) = x.transpose() * s.asDiagonal() * x;
    h.block(1, 1, d, d).diagonal().array() += o.l2;
    // A tiny ridge keeps an unpenalised, rank-deficient design solvable.
    h.diagonal().array() += 1e-10;
    const Eigen::VectorXd step = h.ldlt().solve(g);
    double t = 1;
    double next = objective;
    for (int halvings = 0; halvings < 30; ++halvings, t /= 2) {
      next = Objective(x, y, m.weights - t * step.tail(d), m.intercept - t * step(0), o.l2);
      if (next <= objective) break;
    }
    m.weights -= t * step.tail(d);
    m.intercept -= t * step(0);
    objective = next;
    if ((t * step).cwiseAbs().maxCoeff() < o.tolerance) {
      m.converged = true;
      break;
    }
  }
  m.iterations = std::min(m.iterations, o.max_iterations);
  return m;
}

Result<LogisticBaseline> LogisticBaseline::Fit(const Portfolio& portfolio,
                                               std::span<const std::size_t> customers,
                                               std::size_t target, const LogisticOptions& o) {
  if (target >= portfolio.products.size() || customers.empty()) {
    return std::unexpected(
        Error::InvalidArgument("logistic baseline: no customers, or no such product", "data"));
  }
  LogisticBaseline b;
  b.target_ = target;
  b.products_ = portfolio.products.size();
  // Which attributes are numbers (every training value parses), and the values of the others.
  std::map<std::string, bool> numeric;
  std::map<std::pair<std::string, std::string>, int> values;
  for (const std::size_t c : customers) {
    for (const auto& [name, value] : portfolio.customers[c].attributes) {
      auto [it, added] = numeric.emplace(name, true);
      it->second = it->second && Number(value).has_value();
      ++values[{name, value}];
    }
  }
  for (const auto& [name, is_number] : numeric) {
    if (is_number) b.numeric_.push_back(name);
  }
  for (const auto& [key, count] : values) {
    if (!numeric[key.first] && count >= kMinIndicatorCount) b.indicators_.push_back(key);
  }
  b.mean_.assign(b.numeric_.size(), 0);
  b.scale_.assign(b.numeric_.size(), 1);
  Eigen::MatrixXd x(static_cast<Eigen::Index>(customers.size()), 0);
  Eigen::VectorXd y(static_cast<Eigen::Index>(customers.size()));
  for (std::size_t i = 0; i < customers.size(); ++i) {
    const Eigen::VectorXd row = b.Row(portfolio.customers[customers[i]]);
    if (i == 0) x.resize(x.rows(), row.size());
    x.row(static_cast<Eigen::Index>(i)) = row;
    y(static_cast<Eigen::Index>(i)) = portfolio.customers[customers[i]].holds[target] ? 1 : 0;
  }
  // Standardise the numeric columns (the first ones) so that one penalty suits them all.
  for (std::size_t j = 0; j < b.numeric_.size(); ++j) {
    const auto col = x.col(static_cast<Eigen::Index>(j));
    const double mean = col.mean();
    const double sd = std::sqrt((col.array() - mean).square().mean());
    b.mean_[j] = mean;
    b.scale_[j] = sd > 0 ? sd : 1;
    x.col(static_cast<Eigen::Index>(j)) = (col.array() - mean) / b.scale_[j];
  }
  auto model = FitLogistic(x, y, o);
  if (!model) return std::unexpected(model.error());
  b.model_ = *std::move(model);
  return b;
}

Eigen::VectorXd LogisticBaseline::Row(const PortfolioCustomer& c) const {
  const auto n_numeric = static_cast<Eigen::Index>(numeric_.size());
  Eigen::VectorXd row = Eigen::VectorXd::Zero(
      n_numeric + static_cast<Eigen::Index>(indicators_.size() + products_ - 1));
  for (Eigen::Index j = 0; j < n_numeric; ++j) {
    const auto it = c.attributes.find(numeric_[static_cast<std::size_t>(j)]);
    const auto v = it == c.attributes.end() ? std::nullopt : Number(it->second);
    // A missing or non-numeric value counts as the training mean.
    row(j) =
        v ? (*v - mean_[static_cast<std::size_t>(j)]) / scale_[static_cast<std::size_t>(j)] : 0;
  }
  Eigen::Index k = n_numeric;
  for (const auto& [name, value] : indicators_) {
    const auto it = c.attributes.find(name);
    row(k++) = it != c.attributes.end() && it->second == value ? 1 : 0;
  }
  for (std::size_t p = 0; p < products_; ++p) {
    if (p != target_) row(k++) = p < c.holds.size() && c.holds[p] ? 1 : 0;
  }
  return row;
}

double LogisticBaseline::Score(const PortfolioCustomer& c) const { return model_.Predict(Row(c)); }

}  // namespace abrec
