// The model as served: a customer's encoding and scoring. Training is in
// portfolio_model_train.cc, the model folder in portfolio_model_file.cc.
#include "recommender/portfolio/portfolio_model.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "recommender/portfolio/portfolio_model_state.h"

namespace abrec {
namespace portfolio_model {

std::optional<double> Number(std::string_view s) {
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::pair<double, int>> Date(std::string_view s) {
  const auto a = s.find('/'), b = s.rfind('/');
  if (a == std::string_view::npos || a == b) return std::nullopt;
  const auto d = Number(s.substr(0, a)), m = Number(s.substr(a + 1, b - a - 1)),
             y = Number(s.substr(b + 1));
  if (!d || !m || !y || *d < 1 || *d > 31 || *m < 1 || *m > 12 || *y < 1000) return std::nullopt;
  return std::pair{*y + (*m - 1) / 12 + (*d - 1) / 372, static_cast<int>(*y)};
}

double Logit(double p) {
  p = std::clamp(p, 1e-6, 1 - 1e-6);
  return std::log(p / (1 - p));
}

std::string State::ValueKey(std::size_t a, const std::string& value) const {
  if (kinds[a] == AttributeKind::kDate) {
    const auto d = Date(value);
    return d ? std::to_string(d->second) : value;
  }
  return value;
}

State::Encoded State::Encode(const PortfolioCustomer& c) const {
  Encoded e;
  e.age = c.age;
  e.codes.assign(attributes.size(), -1);
  e.values.assign(attributes.size(), kMissing);
  for (std::size_t a = 0; a < attributes.size(); ++a) {
    const auto it = c.attributes.find(attributes[a]);
    if (it == c.attributes.end()) continue;
    const auto code = codes[a].find(ValueKey(a, it->second));
    if (code != codes[a].end()) e.codes[a] = code->second;
    if (kinds[a] == AttributeKind::kNumeric) {
      if (const auto v = Number(it->second)) e.values[a] = static_cast<float>(*v);
    } else if (kinds[a] == AttributeKind::kDate) {
      if (const auto d = Date(it->second)) e.values[a] = static_cast<float>(d->first);
    } else if (e.codes[a] >= 0) {
      e.values[a] = static_cast<float>(e.codes[a]);
    }
  }
  return e;
}

std::vector<std::uint32_t> State::UserFeatures(const Encoded& e,
                                               const std::vector<bool>& input) const {
  std::vector<std::uint32_t> f;
  for (std::size_t a = 0; a < attributes.size(); ++a) {
    if (e.codes[a] >= 0)
      f.push_back(value_feature_offset[a] + static_cast<std::uint32_t>(e.codes[a]));
  }
  if (e.age) {
    f.push_back(age_feature_offset +
                static_cast<std::uint32_t>(std::clamp(*e.age / 10, 0, kAgeBands - 1)));
  }
  for (std::size_t p = 0; p < input.size(); ++p) {
    if (input[p]) f.push_back(holds_feature_offset + static_cast<std::uint32_t>(p));
  }
  return f;
}

std::vector<double> State::MfScores(const Encoded& e, const std::vector<bool>& input,
                                    const HybridMf* with) const {
  if (!with && !mf) return {};
  const HybridMf& m = with ? *with : *mf;
  const Eigen::VectorXf u = m.UserEmbedding(UserFeatures(e, input));
  std::vector<double> s(products.size());
  for (std::size_t p = 0; p < s.size(); ++p) s[p] = m.Score(u, p);
  return s;
}

void State::Layout() {
  std::uint32_t next = 0;
  value_feature_offset.clear();
  for (const auto& values : vocabulary) {
    value_feature_offset.push_back(next);
    next += static_cast<std::uint32_t>(values.size());
  }
  age_feature_offset = next;
  holds_feature_offset = next + kAgeBands;
  feature_names = {"product", "age", "held", "popularity", "cooccurrence_mean", "cooccurrence_max"};
  for (const auto& a : attributes) feature_names.push_back("rate|" + a);
  if (options.mf_features) {
    feature_names.push_back("mf_score");
    feature_names.push_back("mf_rank");
  }
  for (const auto& p : products) feature_names.push_back("holds|" + p);
  for (const auto& a : attributes) feature_names.push_back("attribute|" + a);
}

}  // namespace portfolio_model

using portfolio_model::State;

PortfolioModel::PortfolioModel(std::unique_ptr<State> state) : s_(std::move(state)) {}
PortfolioModel::PortfolioModel(PortfolioModel&&) noexcept = default;
PortfolioModel& PortfolioModel::operator=(PortfolioModel&&) noexcept = default;
PortfolioModel::~PortfolioModel() = default;

const std::vector<std::string>& PortfolioModel::products() const { return s_->products; }
const std::vector<std::string>& PortfolioModel::feature_names() const { return s_->feature_names; }
std::string PortfolioModel::version() const {
  return fmt::format("portfolio-{}-{}{}", s_->options.seed, s_->fit_customers,
                     s_->options.mf_features ? "" : "-nomf");
}

Result<ProductScores> PortfolioModel::Score(const PortfolioCustomer& input) {
  const State& s = *s_;
  const std::size_t n = s.products.size();
  if (input.holds.size() != n) {
    return std::unexpected(
        Error::InvalidArgument(fmt::format("customer {}: {} holdings for the model's {} products",
                                           input.id, input.holds.size(), n),
                               "holds"));
  }
  const auto e = s.Encode(input);
  const auto mf = s.MfScores(e, input.holds);
  std::vector<float> x;
  std::vector<std::size_t> candidates;
  for (std::size_t p = 0; p < n; ++p) {
    if (input.holds[p]) continue;
    candidates.push_back(p);
    s.AppendRow(State::ServingStats{s}, e, input.holds, mf, p, x);
  }
  ProductScores out;
  out.raw.assign(n, kNoFigure);
  out.probability.assign(n, kNoFigure);
  auto raw = s_->ranker->Predict(x, candidates.size());
  if (!raw) return std::unexpected(raw.error());
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const double r = (*raw)[i];
    out.raw[candidates[i]] = r;
    const double z = s.platt_a * portfolio_model::Logit(r) + s.platt_b;
    out.probability[candidates[i]] = 1 / (1 + std::exp(-z));
  }
  return out;
}

std::vector<double> PortfolioModel::MfScores(const PortfolioCustomer& input) const {
  if (input.holds.size() != s_->products.size()) return {};
  return s_->MfScores(s_->Encode(input), input.holds);
}

}  // namespace abrec
