#include "recommender/portfolio/portfolio_model.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "recommender/portfolio/baselines.h"

namespace abrec {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();
constexpr int kAgeBands = 10;  // 0-9, 10-19, ..., 90+
// The folds of the out-of-fold statistics of training rows.
constexpr std::size_t kStatisticsFolds = 5;

enum class AttributeKind { kCategorical, kNumeric, kDate };

std::optional<double> Number(std::string_view s) {
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// d/m/yyyy (Zimnat's join_date): the date as a number of years, and its year.
std::optional<std::pair<double, int>> Date(std::string_view s) {
  const auto a = s.find('/'), b = s.rfind('/');
  if (a == std::string_view::npos || a == b) return std::nullopt;
  const auto d = Number(s.substr(0, a)), m = Number(s.substr(a + 1, b - a - 1)),
             y = Number(s.substr(b + 1));
  if (!d || !m || !y || *d < 1 || *d > 31 || *m < 1 || *m > 12 || *y < 1000) return std::nullopt;
  return std::pair{*y + (*m - 1) / 12 + (*d - 1) / 372, static_cast<int>(*y)};
}

std::string_view KindName(AttributeKind k) {
  switch (k) {
    case AttributeKind::kNumeric: return "numeric";
    case AttributeKind::kDate: return "date";
    case AttributeKind::kCategorical: return "categorical";
  }
  return "?";
}

double Logit(double p) {
  p = std::clamp(p, 1e-6, 1 - 1e-6);
  return std::log(p / (1 - p));
}

}  // namespace

struct PortfolioModel::State {
  PortfolioModelOptions options;
  std::vector<std::string> products;
  std::vector<std::string> attributes;  // names, sorted
  std::vector<AttributeKind> kinds;
  std::vector<std::vector<std::string>> vocabulary;  // per attribute: code → value
  std::vector<std::map<std::string, int>> codes;
  // The factorisation's customer features: attribute values, then age bands, then holdings.
  std::vector<std::uint32_t> value_feature_offset;
  std::uint32_t age_feature_offset = 0, holds_feature_offset = 0;
  // Statistics of the training customers, for serving.
  std::vector<double> popularity;
  std::vector<std::vector<double>> conditional;              // [q][p] = P(p | q)
  std::vector<std::vector<std::vector<double>>> value_rate;  // [attribute][code][p]
  std::optional<HybridMf> mf;
  std::optional<GbmModel> ranker;
  double platt_a = 1, platt_b = 0;
  std::vector<std::string> feature_names;
  long fit_customers = 0, calibration_customers = 0;
  std::uint64_t data_customers = 0;

  // A customer's attributes as the features see them.
  struct Encoded {
    std::vector<int> codes;     // per attribute, −1 unknown
    std::vector<float> values;  // per attribute, as XGBoost sees it
    std::optional<int> age;
  };

  std::string ValueKey(std::size_t a, const std::string& value) const {
    if (kinds[a] == AttributeKind::kDate) {
      const auto d = Date(value);
      return d ? std::to_string(d->second) : value;
    }
    return value;
  }

  Encoded Encode(const PortfolioCustomer& c) const {
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

  std::vector<std::uint32_t> UserFeatures(const Encoded& e, const std::vector<bool>& input) const {
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

  std::vector<double> MfScores(const Encoded& e, const std::vector<bool>& input,
                               const HybridMf* with = nullptr) const {
    if (!with && !mf) return {};
    const HybridMf& m = with ? *with : *mf;
    const Eigen::VectorXf u = m.UserEmbedding(UserFeatures(e, input));
    std::vector<double> s(products.size());
    for (std::size_t p = 0; p < s.size(); ++p) s[p] = m.Score(u, p);
    return s;
  }

  // Numbers the factorisation's customer features and names the ranker's columns, from the
  // vocabulary and the products.
  void Layout() {
    std::uint32_t next = 0;
    value_feature_offset.clear();
    for (const auto& values : vocabulary) {
      value_feature_offset.push_back(next);
      next += static_cast<std::uint32_t>(values.size());
    }
    age_feature_offset = next;
    holds_feature_offset = next + kAgeBands;
    feature_names = {"product",         "age", "held", "popularity", "cooccurrence_mean",
                     "cooccurrence_max"};
    for (const auto& a : attributes) feature_names.push_back("rate|" + a);
    if (options.mf_features) {
      feature_names.push_back("mf_score");
      feature_names.push_back("mf_rank");
    }
    for (const auto& p : products) feature_names.push_back("holds|" + p);
    for (const auto& a : attributes) feature_names.push_back("attribute|" + a);
  }

  // One row of features of candidate `p` for a customer whose holdings are `input`.
  // `stats` gives popularity, P(p | q) and the attribute-value rates.
  template <typename Stats>
  void AppendRow(const Stats& stats, const Encoded& e, const std::vector<bool>& input,
                 const std::vector<double>& mf_scores, std::size_t p,
                 std::vector<float>& out) const {
    const std::size_t n = products.size();
    double held = 0, cooc_sum = 0, cooc_max = 0;
    for (std::size_t q = 0; q < n; ++q) {
      if (!input[q]) continue;
      held += 1;
      const double c = stats.Conditional(p, q);
      cooc_sum += c;
      cooc_max = std::max(cooc_max, c);
    }
    const double popularity_p = stats.Popularity(p);
    out.push_back(static_cast<float>(p));
    out.push_back(e.age ? static_cast<float>(*e.age) : kMissing);
    out.push_back(static_cast<float>(held));
    out.push_back(static_cast<float>(popularity_p));
    out.push_back(held > 0 ? static_cast<float>(cooc_sum / held) : kMissing);
    out.push_back(held > 0 ? static_cast<float>(cooc_max) : kMissing);
    for (std::size_t a = 0; a < attributes.size(); ++a) {
      out.push_back(static_cast<float>(
          e.codes[a] < 0 ? popularity_p : stats.ValueRate(a, e.codes[a], p, popularity_p)));
    }
    if (options.mf_features) {
      int rank = 0;
      for (std::size_t q = 0; q < n; ++q) {
        if (q != p && !input[q] && mf_scores[q] > mf_scores[p]) ++rank;
      }
      out.push_back(static_cast<float>(mf_scores[p]));
      out.push_back(static_cast<float>(rank));
    }
    for (std::size_t q = 0; q < n; ++q) out.push_back(input[q] ? 1.0f : 0.0f);
    out.insert(out.end(), e.values.begin(), e.values.end());
  }

  // The statistics as served: computed from every training customer.
  struct ServingStats {
    const State& s;
    double Popularity(std::size_t p) const { return s.popularity[p]; }
    double Conditional(std::size_t p, std::size_t q) const { return s.conditional[q][p]; }
    double ValueRate(std::size_t a, int code, std::size_t p, double) const {
      return s.value_rate[a][static_cast<std::size_t>(code)][p];
    }
  };
};

namespace {

// Counts of training customers, and the statistics the features take from them.
struct ValueCounts {
  std::vector<std::vector<double>> customers;             // [attribute][code]
  std::vector<std::vector<std::vector<double>>> holders;  // [attribute][code][p]
};

struct CountedStats {
  HoldingCounts holdings;
  ValueCounts values;
  double prior_weight = 0;

  double Popularity(std::size_t p) const { return holdings.Popularity(p); }
  double Conditional(std::size_t p, std::size_t q) const { return holdings.Conditional(p, q); }
  // P(p | attribute a has value `code`), shrunk towards `prior`.
  double ValueRate(std::size_t a, int code, std::size_t p, double prior) const {
    const auto c = static_cast<std::size_t>(code);
    return (values.holders[a][c][p] + prior_weight * prior) /
           (values.customers[a][c] + prior_weight);
  }
};

}  // namespace

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

Result<PortfolioModel> PortfolioModel::Train(const Portfolio& portfolio,
                                             std::span<const std::size_t> customers,
                                             const PortfolioModelOptions& o,
                                             const Progress& progress) {
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  const std::size_t n = portfolio.products.size();
  if (customers.size() < 10 || n == 0) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("{} customers and {} products: too few to train on", customers.size(), n),
        "data"));
  }
  auto state = std::make_unique<State>();
  State& s = *state;
  s.options = o;
  s.products = portfolio.products;

  // The calibration customers: a seeded share, at least one when there are enough.
  std::vector<std::size_t> fit(customers.begin(), customers.end()), calibration;
  std::mt19937_64 rng(o.seed ^ 0xca11b);
  std::shuffle(fit.begin(), fit.end(), rng);
  const auto n_cal =
      static_cast<std::size_t>(o.calibration_share * static_cast<double>(fit.size()));
  calibration.assign(fit.end() - static_cast<std::ptrdiff_t>(n_cal), fit.end());
  fit.resize(fit.size() - n_cal);
  std::sort(fit.begin(), fit.end());
  s.fit_customers = static_cast<long>(fit.size());
  s.calibration_customers = static_cast<long>(calibration.size());
  s.data_customers = customers.size();

  // 1. The vocabulary.
  std::map<std::string, std::map<std::string, int>> seen;
  for (const std::size_t c : fit) {
    for (const auto& [name, value] : portfolio.customers[c].attributes) ++seen[name][value];
  }
  for (const auto& [name, values] : seen) {
    bool numeric = true, date = true;
    for (const auto& [value, count] : values) {
      numeric = numeric && Number(value).has_value();
      date = date && Date(value).has_value();
    }
    const AttributeKind kind = numeric ? AttributeKind::kNumeric
                               : date  ? AttributeKind::kDate
                                       : AttributeKind::kCategorical;
    s.attributes.push_back(name);
    s.kinds.push_back(kind);
    std::map<std::string, int> keyed;
    for (const auto& [value, count] : values) {
      keyed[s.ValueKey(s.attributes.size() - 1, value)] += count;
    }
    std::vector<std::pair<std::string, int>> kept;
    for (const auto& [value, count] : keyed) {
      if (count >= o.min_value_count) kept.emplace_back(value, count);
    }
    // Numbers (and years) in numeric order, so that a code keeps their order; other values
    // by frequency.
    std::sort(kept.begin(), kept.end(), [&](const auto& x, const auto& y) {
      if (kind != AttributeKind::kCategorical) return *Number(x.first) < *Number(y.first);
      return x.second != y.second ? x.second > y.second : x.first < y.first;
    });
    auto& vocabulary = s.vocabulary.emplace_back();
    auto& codes = s.codes.emplace_back();
    for (const auto& [value, count] : kept) {
      codes[value] = static_cast<int>(vocabulary.size());
      vocabulary.push_back(value);
    }
  }
  s.Layout();
  const std::size_t n_user_features = s.holds_feature_offset + n;

  std::vector<State::Encoded> encoded(portfolio.customers.size());
  for (const std::size_t c : customers) encoded[c] = s.Encode(portfolio.customers[c]);

  // The statistics, and their serving form. A training row's statistics come from the other
  // folds of the fit customers (out-of-fold, as in stacking): counts that include the row's
  // own customer would give away its label (with leave-one-out counts a holder's rate is
  // always a little lower than a non-holder's of the same group, and the trees find that).
  auto count = [&](auto&& include) {
    CountedStats c;
    c.prior_weight = o.prior_weight;
    std::vector<std::size_t> members;
    for (const std::size_t i : fit) {
      if (include(i)) members.push_back(i);
    }
    c.holdings = HoldingCounts(portfolio, members);
    for (std::size_t a = 0; a < s.attributes.size(); ++a) {
      c.values.customers.emplace_back(s.vocabulary[a].size(), 0.0);
      c.values.holders.emplace_back(s.vocabulary[a].size(), std::vector<double>(n, 0.0));
    }
    for (const std::size_t i : members) {
      for (std::size_t a = 0; a < s.attributes.size(); ++a) {
        const int code = encoded[i].codes[a];
        if (code < 0) continue;
        const auto k = static_cast<std::size_t>(code);
        c.values.customers[a][k] += 1;
        for (std::size_t p = 0; p < n; ++p) {
          c.values.holders[a][k][p] += portfolio.customers[i].holds[p] ? 1 : 0;
        }
      }
    }
    return c;
  };
  std::vector<int> fold_of(portfolio.customers.size(), -1);
  {
    std::vector<std::size_t> order = fit;
    std::shuffle(order.begin(), order.end(), rng);
    for (std::size_t i = 0; i < order.size(); ++i) {
      fold_of[order[i]] = static_cast<int>(i % kStatisticsFolds);
    }
  }
  std::vector<CountedStats> out_of_fold;
  for (int f = 0; f < static_cast<int>(kStatisticsFolds); ++f) {
    out_of_fold.push_back(count([&](std::size_t i) { return fold_of[i] != f; }));
  }
  const CountedStats all = count([](std::size_t) { return true; });
  s.popularity.resize(n);
  s.conditional.assign(n, std::vector<double>(n));
  for (std::size_t p = 0; p < n; ++p) {
    s.popularity[p] = all.Popularity(p);
    for (std::size_t q = 0; q < n; ++q) s.conditional[q][p] = all.Conditional(p, q);
  }
  s.value_rate.resize(s.attributes.size());
  for (std::size_t a = 0; a < s.attributes.size(); ++a) {
    for (std::size_t code = 0; code < s.vocabulary[a].size(); ++code) {
      auto& rates = s.value_rate[a].emplace_back(n);
      for (std::size_t p = 0; p < n; ++p) {
        rates[p] = all.ValueRate(a, static_cast<int>(code), p, s.popularity[p]);
      }
    }
  }

  // 2. The factorisation.
  std::size_t holdings = 0;
  for (const std::size_t c : fit) {
    holdings += static_cast<std::size_t>(
        std::count(portfolio.customers[c].holds.begin(), portfolio.customers[c].holds.end(), true));
  }
  if (holdings == 0) {
    return std::unexpected(
        Error::InvalidArgument("no training customer holds any product: nothing to learn", "data"));
  }
  // Out-of-fold as well: the factorisation that scores a training row has not seen that
  // row's customer (one trained on all of them rates its own customers too well, and the
  // trees would trust it more than it deserves on new ones).
  std::vector<HybridMf> out_of_fold_mf;
  if (o.mf_features) {
    std::vector<std::int64_t> holds_feature(n);
    std::vector<std::vector<std::uint32_t>> item_features(n);
    for (std::size_t p = 0; p < n; ++p) {
      item_features[p] = {static_cast<std::uint32_t>(p)};
      holds_feature[p] = static_cast<std::int64_t>(s.holds_feature_offset + p);
    }
    auto train_mf = [&](int left_out_fold) {
      std::vector<std::size_t> members;
      for (const std::size_t c : fit) {
        if (fold_of[c] != left_out_fold) members.push_back(c);
      }
      std::vector<std::vector<std::uint32_t>> user_features;
      std::vector<std::pair<std::uint32_t, std::uint32_t>> positives;
      for (std::size_t u = 0; u < members.size(); ++u) {
        const auto& holds = portfolio.customers[members[u]].holds;
        user_features.push_back(s.UserFeatures(encoded[members[u]], holds));
        for (std::size_t p = 0; p < n; ++p) {
          if (holds[p])
            positives.emplace_back(static_cast<std::uint32_t>(u), static_cast<std::uint32_t>(p));
        }
      }
      return HybridMf::Train(
          user_features, n_user_features, item_features, n, positives,
          [&](std::uint32_t u, std::uint32_t j) {
            return !portfolio.customers[members[u]].holds[j];
          },
          o.mf, holds_feature);
    };
    s.mf = train_mf(-1);
    for (int f = 0; f < static_cast<int>(kStatisticsFolds); ++f)
      out_of_fold_mf.push_back(train_mf(f));
    say(
        fmt::format("factorisation: {} holdings of {} customers, {} dimensions, {} epochs (and "
                    "{} out-of-fold copies for the training rows)",
                    holdings, fit.size(), o.mf.dim, o.mf.epochs, kStatisticsFolds));
  }

  // 3. XGBoost on the rows of the fit customers (statistics out-of-fold), and the rows of
  // the calibration customers (statistics as served).
  auto rows_of = [&](const std::vector<std::size_t>& group, bool fitting, std::vector<float>& x,
                     std::vector<float>& y) {
    for (const std::size_t c : group) {
      const auto& holds = portfolio.customers[c].holds;
      const State::ServingStats served{s};
      auto append = [&](const std::vector<bool>& input, const std::vector<double>& mf,
                        std::size_t p, bool label) {
        if (fitting) {
          s.AppendRow(out_of_fold[static_cast<std::size_t>(fold_of[c])], encoded[c], input, mf, p,
                      x);
        } else {
          s.AppendRow(served, encoded[c], input, mf, p, x);
        }
        y.push_back(label ? 1.0f : 0.0f);
      };
      const HybridMf* mf_of_row = fitting && o.mf_features
                                      ? &out_of_fold_mf[static_cast<std::size_t>(fold_of[c])]
                                      : nullptr;
      std::vector<bool> input = holds;
      const auto full_mf = s.MfScores(encoded[c], holds, mf_of_row);
      for (std::size_t h = 0; h < n; ++h) {
        if (o.rows == TrainingRows::kLeaveEachOut) {
          input[h] = false;
          append(input, holds[h] ? s.MfScores(encoded[c], input, mf_of_row) : full_mf, h, holds[h]);
          input[h] = holds[h];
        } else if (holds[h]) {
          input[h] = false;
          const auto mf = s.MfScores(encoded[c], input, mf_of_row);
          for (std::size_t p = 0; p < n; ++p) {
            if (!input[p]) append(input, mf, p, p == h);
          }
          input[h] = true;
        }
      }
    }
  };
  std::vector<float> x, y, cal_x, cal_y;
  rows_of(fit, true, x, y);
  rows_of(calibration, false, cal_x, cal_y);
  const std::size_t cols = s.feature_names.size();
  say(
      fmt::format("ranker rows: {} from {} customers ({} positive), {} features; {} for the "
                  "calibration",
                  y.size(), fit.size(), std::count(y.begin(), y.end(), 1.0f), cols, cal_y.size()));
  auto ranker = GbmModel::Train(x, y.size(), cols, y, o.gbm);
  if (!ranker) return std::unexpected(ranker.error());
  s.ranker = *std::move(ranker);
  say(fmt::format("XGBoost: {} rounds, depth {}, eta {}", o.gbm.rounds, o.gbm.max_depth,
                  o.gbm.eta));

  // 4. Platt scaling on the calibration rows.
  if (!cal_y.empty()) {
    auto raw = s.ranker->Predict(cal_x, cal_y.size());
    if (!raw) return std::unexpected(raw.error());
    Eigen::MatrixXd logit(static_cast<Eigen::Index>(raw->size()), 1);
    Eigen::VectorXd label(static_cast<Eigen::Index>(raw->size()));
    for (std::size_t i = 0; i < raw->size(); ++i) {
      logit(static_cast<Eigen::Index>(i), 0) = Logit((*raw)[i]);
      label(static_cast<Eigen::Index>(i)) = cal_y[i];
    }
    const double positives = label.sum();
    if (positives > 0 && positives < static_cast<double>(label.size())) {
      auto platt = FitLogistic(logit, label, {.l2 = 0});
      if (!platt) return std::unexpected(platt.error());
      s.platt_a = platt->weights(0);
      s.platt_b = platt->intercept;
    }
    say(fmt::format("calibration: Platt scaling on {} rows of {} customers: a = {:.3f}, b = {:.3f}",
                    cal_y.size(), calibration.size(), s.platt_a, s.platt_b));
  }
  return PortfolioModel(std::move(state));
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
    const double z = s.platt_a * Logit(r) + s.platt_b;
    out.probability[candidates[i]] = 1 / (1 + std::exp(-z));
  }
  return out;
}

std::vector<double> PortfolioModel::MfScores(const PortfolioCustomer& input) const {
  if (input.holds.size() != s_->products.size()) return {};
  return s_->MfScores(s_->Encode(input), input.holds);
}

namespace {

nlohmann::ordered_json MetricsJson(const HideOneMetrics& m) {
  auto number = [](double v) -> nlohmann::ordered_json {
    return std::isnan(v) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(v);
  };
  return {{"cases", m.cases},
          {"hit_at_1", m.hit1},
          {"hit_at_3", m.hit3},
          {"ndcg_at_5", m.ndcg5},
          {"auc", number(m.auc)},
          {"log_loss", number(m.log_loss)},
          {"ece_before_calibration", number(m.ece_raw)},
          {"ece_after_calibration", number(m.ece)}};
}

Error Io(const std::string& what) { return Error{ErrorCode::kIo, what, "model"}; }

}  // namespace

Result<void> PortfolioModel::Save(const std::string& dir, const ModelRecord& record) const {
  namespace fs = std::filesystem;
  const State& s = *s_;
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("{} exists: choose a new folder for the model", dir), "out"));
  }
  const std::string tmp = dir + ".partial";
  fs::remove_all(tmp, ec);
  if (!fs::create_directories(tmp, ec)) return std::unexpected(Io("cannot create " + tmp));
  if (s.mf) {
    if (auto ok = s.mf->Save(tmp + "/mf.bin"); !ok) return ok;
  }
  if (auto ok = s.ranker->Save(tmp + "/ranker.json"); !ok) return ok;
  using Json = nlohmann::ordered_json;
  Json vocabulary = Json::array();
  for (std::size_t a = 0; a < s.attributes.size(); ++a) {
    vocabulary.push_back({{"attribute", s.attributes[a]},
                          {"kind", KindName(s.kinds[a])},
                          {"values", s.vocabulary[a]}});
  }
  Json by_group = Json::object();
  for (const auto& [group, m] : record.evaluation.by_group) by_group[group] = MetricsJson(m);
  Json evaluation = MetricsJson(record.evaluation.all);
  evaluation["by_group"] = by_group;
  const PortfolioModelOptions& o = s.options;
  const Json meta{
      {"kind", "portfolio"},
      {"version", version()},
      {"data",
       {{"format", record.format}, {"file", record.data_path}, {"customers", record.customers}}},
      {"products", s.products},
      {"vocabulary", vocabulary},
      {"features", s.feature_names},
      {"parameters",
       {{"seed", o.seed},
        {"rows", o.rows == TrainingRows::kLeaveEachOut ? "leave_each_out" : "hide_each_held"},
        {"mf_features", o.mf_features},
        {"mf_dim", o.mf.dim},
        {"mf_epochs", o.mf.epochs},
        {"gbm_rounds", o.gbm.rounds},
        {"gbm_max_depth", o.gbm.max_depth},
        {"gbm_eta", o.gbm.eta},
        {"calibration_share", o.calibration_share},
        {"min_value_count", o.min_value_count},
        {"prior_weight", o.prior_weight},
        {"fit_customers", s.fit_customers},
        {"calibration_customers", s.calibration_customers}}},
      {"calibration", {{"method", "platt"}, {"a", s.platt_a}, {"b", s.platt_b}}},
      {"statistics",
       {{"popularity", s.popularity},
        {"conditional", s.conditional},
        {"attribute_rates", s.value_rate}}},
      {"evaluation", evaluation},
      {"training_seconds", record.seconds}};
  std::ofstream out(tmp + "/metadata.json");
  out << meta.dump(2) << "\n";
  out.close();
  if (!out) return std::unexpected(Io("cannot write " + tmp + "/metadata.json"));
  fs::rename(tmp, dir, ec);
  if (ec) return std::unexpected(Io(fmt::format("cannot rename {} to {}", tmp, dir)));
  return {};
}

Result<PortfolioModel> PortfolioModel::Load(const std::string& dir) {
  const std::string path = dir + "/metadata.json";
  std::ifstream in(path);
  if (!in) return std::unexpected(Io("cannot read " + path));
  auto state = std::make_unique<State>();
  State& s = *state;
  auto bad = [&](const std::string& why) {
    return std::unexpected(
        Error::InvalidArgument(fmt::format("{}: not a portfolio model: {}", path, why), "model"));
  };
  try {
    const auto j = nlohmann::json::parse(in);
    if (j.value("kind", "") != "portfolio") return bad("\"kind\" is not \"portfolio\"");
    s.products = j.at("products").get<std::vector<std::string>>();
    const std::size_t n = s.products.size();
    for (const auto& v : j.at("vocabulary")) {
      s.attributes.push_back(v.at("attribute").get<std::string>());
      const auto kind = v.at("kind").get<std::string>();
      s.kinds.push_back(kind == "numeric" ? AttributeKind::kNumeric
                        : kind == "date"  ? AttributeKind::kDate
                                          : AttributeKind::kCategorical);
      s.vocabulary.push_back(v.at("values").get<std::vector<std::string>>());
      auto& codes = s.codes.emplace_back();
      for (std::size_t i = 0; i < s.vocabulary.back().size(); ++i) {
        codes[s.vocabulary.back()[i]] = static_cast<int>(i);
      }
    }
    const auto& p = j.at("parameters");
    s.options.seed = p.at("seed").get<std::uint64_t>();
    s.options.mf_features = p.at("mf_features").get<bool>();
    s.options.rows = p.at("rows") == "hide_each_held" ? TrainingRows::kHideEachHeld
                                                      : TrainingRows::kLeaveEachOut;
    s.options.mf.dim = p.at("mf_dim").get<int>();
    s.options.mf.epochs = p.at("mf_epochs").get<int>();
    s.options.gbm.rounds = p.at("gbm_rounds").get<int>();
    s.options.gbm.max_depth = p.at("gbm_max_depth").get<int>();
    s.options.gbm.eta = p.at("gbm_eta").get<double>();
    s.options.calibration_share = p.at("calibration_share").get<double>();
    s.options.min_value_count = p.at("min_value_count").get<int>();
    s.options.prior_weight = p.at("prior_weight").get<double>();
    s.fit_customers = p.at("fit_customers").get<long>();
    s.calibration_customers = p.at("calibration_customers").get<long>();
    s.platt_a = j.at("calibration").at("a").get<double>();
    s.platt_b = j.at("calibration").at("b").get<double>();
    const auto& st = j.at("statistics");
    s.popularity = st.at("popularity").get<std::vector<double>>();
    s.conditional = st.at("conditional").get<std::vector<std::vector<double>>>();
    s.value_rate = st.at("attribute_rates").get<std::vector<std::vector<std::vector<double>>>>();
    bool sizes = s.popularity.size() == n && s.conditional.size() == n &&
                 s.value_rate.size() == s.attributes.size();
    for (const auto& row : s.conditional) sizes = sizes && row.size() == n;
    for (std::size_t a = 0; sizes && a < s.value_rate.size(); ++a) {
      sizes = s.value_rate[a].size() == s.vocabulary[a].size();
      for (const auto& rates : s.value_rate[a]) sizes = sizes && rates.size() == n;
    }
    if (!sizes) return bad("the statistics do not match the products and the vocabulary");
  } catch (const nlohmann::json::exception& e) {
    return bad(e.what());
  }
  s.Layout();
  if (s.options.mf_features) {
    auto mf = HybridMf::Load(dir + "/mf.bin");
    if (!mf) return std::unexpected(mf.error());
    if (static_cast<std::size_t>(mf->item_embeddings().rows()) != s.products.size()) {
      return bad("mf.bin does not have one row per product");
    }
    s.mf = *std::move(mf);
  }
  auto ranker = GbmModel::Load(dir + "/ranker.json");
  if (!ranker) return std::unexpected(ranker.error());
  if (ranker->cols() != s.feature_names.size()) {
    return bad(fmt::format("ranker.json takes {} features, the metadata names {}", ranker->cols(),
                           s.feature_names.size()));
  }
  s.ranker = *std::move(ranker);
  return PortfolioModel(std::move(state));
}

}  // namespace abrec
