// PortfolioModel::Train, one function per stage of portfolio_model.h's list. Every random choice
// comes from a seed of the options: the calibration share and the statistics' folds from
// `seed`, the factorisations from `mf.seed`, XGBoost's row sampling from `gbm.seed`.
#include <algorithm>
#include <cstdint>
#include <map>
#include <random>

#include <fmt/format.h>

#include "recommender/portfolio/baselines.h"
#include "recommender/portfolio/portfolio_model.h"
#include "recommender/portfolio/portfolio_model_state.h"

namespace abrec {
namespace {

using portfolio_model::AttributeKind;
using portfolio_model::Date;
using portfolio_model::Logit;
using portfolio_model::Number;
using portfolio_model::State;

// The folds of the out-of-fold statistics of training rows.
constexpr std::size_t kStatisticsFolds = 5;

// The training customers' parts: the ranker's (in index order) and the calibration's, and the
// fold of each of the ranker's customers (−1 for every other customer of the portfolio).
struct TrainingSplit {
  std::vector<std::size_t> fit, calibration;
  std::vector<int> fold_of;
};

// One generator draws the calibration customers (the share, rounded down), then deals the
// shuffled fit customers into the folds in turn: the order of its draws is part of every saved
// model, so both stay here, in this order.
TrainingSplit SplitTraining(std::span<const std::size_t> customers, std::size_t portfolio_size,
                            const PortfolioModelOptions& o) {
  TrainingSplit out;
  out.fit.assign(customers.begin(), customers.end());
  std::mt19937_64 rng(o.seed ^ 0xca11b);
  std::shuffle(out.fit.begin(), out.fit.end(), rng);
  const auto n_cal =
      static_cast<std::size_t>(o.calibration_share * static_cast<double>(out.fit.size()));
  out.calibration.assign(out.fit.end() - static_cast<std::ptrdiff_t>(n_cal), out.fit.end());
  out.fit.resize(out.fit.size() - n_cal);
  std::sort(out.fit.begin(), out.fit.end());
  out.fold_of.assign(portfolio_size, -1);
  std::vector<std::size_t> order = out.fit;
  std::shuffle(order.begin(), order.end(), rng);
  for (std::size_t i = 0; i < order.size(); ++i) {
    out.fold_of[order[i]] = static_cast<int>(i % kStatisticsFolds);
  }
  return out;
}

// Stage 1: each attribute's kind and its values seen at least `min_value_count` times.
void BuildVocabulary(const Portfolio& portfolio, const std::vector<std::size_t>& fit,
                     int min_value_count, State& s) {
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
      if (count >= min_value_count) kept.emplace_back(value, count);
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
}

// What the stages after the vocabulary read.
struct TrainingData {
  const Portfolio& portfolio;
  const PortfolioModelOptions& options;
  const TrainingSplit& split;
  std::vector<State::Encoded> encoded;  // per customer of the portfolio (training ones only)
};

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

// The counts over the fit customers that `include` admits.
template <typename Include>
CountedStats CountFit(const TrainingData& t, const State& s, Include include) {
  const std::size_t n = s.products.size();
  CountedStats c;
  c.prior_weight = t.options.prior_weight;
  std::vector<std::size_t> members;
  for (const std::size_t i : t.split.fit) {
    if (include(i)) members.push_back(i);
  }
  c.holdings = HoldingCounts(t.portfolio, members);
  for (std::size_t a = 0; a < s.attributes.size(); ++a) {
    c.values.customers.emplace_back(s.vocabulary[a].size(), 0.0);
    c.values.holders.emplace_back(s.vocabulary[a].size(), std::vector<double>(n, 0.0));
  }
  for (const std::size_t i : members) {
    for (std::size_t a = 0; a < s.attributes.size(); ++a) {
      const int code = t.encoded[i].codes[a];
      if (code < 0) continue;
      const auto k = static_cast<std::size_t>(code);
      c.values.customers[a][k] += 1;
      for (std::size_t p = 0; p < n; ++p) {
        c.values.holders[a][k][p] += t.portfolio.customers[i].holds[p] ? 1 : 0;
      }
    }
  }
  return c;
}

// The statistics, into `s` in their serving form (from every fit customer), and per fold
// those of the other folds, for the fit customers' rows: out-of-fold, as in stacking, because
// counts that include the row's own customer would give away its label (with leave-one-out
// counts a holder's rate is always a little lower than a non-holder's of the same group, and
// the trees find that).
std::vector<CountedStats> CountStatistics(const TrainingData& t, State& s) {
  const std::size_t n = s.products.size();
  std::vector<CountedStats> out_of_fold;
  for (int f = 0; f < static_cast<int>(kStatisticsFolds); ++f) {
    out_of_fold.push_back(CountFit(t, s, [&](std::size_t i) { return t.split.fold_of[i] != f; }));
  }
  const CountedStats all = CountFit(t, s, [](std::size_t) { return true; });
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
  return out_of_fold;
}

// The factorisation of the fit customers but those of `left_out_fold` (−1: none left out).
HybridMf TrainFactorisation(const TrainingData& t, const State& s, int left_out_fold) {
  const std::size_t n = s.products.size();
  std::vector<std::int64_t> holds_feature(n);
  std::vector<std::vector<std::uint32_t>> item_features(n);
  for (std::size_t p = 0; p < n; ++p) {
    item_features[p] = {static_cast<std::uint32_t>(p)};
    holds_feature[p] = static_cast<std::int64_t>(s.holds_feature_offset + p);
  }
  std::vector<std::size_t> members;
  for (const std::size_t c : t.split.fit) {
    if (t.split.fold_of[c] != left_out_fold) members.push_back(c);
  }
  std::vector<std::vector<std::uint32_t>> user_features;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> positives;
  for (std::size_t u = 0; u < members.size(); ++u) {
    const auto& holds = t.portfolio.customers[members[u]].holds;
    user_features.push_back(s.UserFeatures(t.encoded[members[u]], holds));
    for (std::size_t p = 0; p < n; ++p) {
      if (holds[p])
        positives.emplace_back(static_cast<std::uint32_t>(u), static_cast<std::uint32_t>(p));
    }
  }
  return HybridMf::Train(
      user_features, s.holds_feature_offset + n, item_features, n, positives,
      [&](std::uint32_t u, std::uint32_t j) { return !t.portfolio.customers[members[u]].holds[j]; },
      t.options.mf, holds_feature);
}

// Stage 2: the served factorisation into `s` (unless mf_features is off), and the copies that
// score the fit customers' rows. Out-of-fold as well: the factorisation that scores a
// training row has not seen that row's customer (one trained on all of them rates its own
// customers too well, and the trees would trust it more than it deserves on new ones).
// kInvalidArgument when no fit customer holds anything.
Result<std::vector<HybridMf>> TrainFactorisations(const TrainingData& t, State& s,
                                                  const PortfolioModel::Progress& say) {
  std::size_t holdings = 0;
  for (const std::size_t c : t.split.fit) {
    const auto& holds = t.portfolio.customers[c].holds;
    holdings += static_cast<std::size_t>(std::count(holds.begin(), holds.end(), true));
  }
  if (holdings == 0) {
    return std::unexpected(
        Error::InvalidArgument("no training customer holds any product: nothing to learn", "data"));
  }
  std::vector<HybridMf> out_of_fold;
  if (!t.options.mf_features) return out_of_fold;
  s.mf = TrainFactorisation(t, s, -1);
  for (int f = 0; f < static_cast<int>(kStatisticsFolds); ++f) {
    out_of_fold.push_back(TrainFactorisation(t, s, f));
  }
  say(fmt::format(
      "factorisation: {} holdings of {} customers, {} dimensions, {} epochs (and {} out-of-fold "
      "copies for the training rows)",
      holdings, t.split.fit.size(), t.options.mf.dim, t.options.mf.epochs, kStatisticsFolds));
  return out_of_fold;
}

// XGBoost's rows: features row-major, one 0/1 label per row.
struct RankerRows {
  std::vector<float> x, y;
};

// One customer's rows (TrainingRows says which inputs, candidates and labels), their features
// from `stats` and the factorisation `mf` (nullptr: the model's own).
template <typename Stats>
void AppendCustomerRows(const State& s, const std::vector<bool>& holds, const State::Encoded& e,
                        const Stats& stats, const HybridMf* mf, RankerRows& rows) {
  const std::size_t n = s.products.size();
  auto append = [&](const std::vector<bool>& input, const std::vector<double>& mf_scores,
                    std::size_t p, bool label) {
    s.AppendRow(stats, e, input, mf_scores, p, rows.x);
    rows.y.push_back(label ? 1.0f : 0.0f);
  };
  std::vector<bool> input = holds;
  const auto full_mf = s.MfScores(e, holds, mf);
  for (std::size_t h = 0; h < n; ++h) {
    if (s.options.rows == TrainingRows::kLeaveEachOut) {
      input[h] = false;
      append(input, holds[h] ? s.MfScores(e, input, mf) : full_mf, h, holds[h]);
      input[h] = holds[h];
    } else if (holds[h]) {
      input[h] = false;
      const auto mf_scores = s.MfScores(e, input, mf);
      for (std::size_t p = 0; p < n; ++p) {
        if (!input[p]) append(input, mf_scores, p, p == h);
      }
      input[h] = true;
    }
  }
}

// Stage 3's rows: the fit customers' with their fold's out-of-fold statistics and
// factorisation, the calibration customers' as served.
RankerRows FitRows(const TrainingData& t, const State& s,
                   const std::vector<CountedStats>& out_of_fold,
                   const std::vector<HybridMf>& out_of_fold_mf) {
  RankerRows rows;
  for (const std::size_t c : t.split.fit) {
    const auto fold = static_cast<std::size_t>(t.split.fold_of[c]);
    AppendCustomerRows(s, t.portfolio.customers[c].holds, t.encoded[c], out_of_fold[fold],
                       t.options.mf_features ? &out_of_fold_mf[fold] : nullptr, rows);
  }
  return rows;
}

RankerRows CalibrationRows(const TrainingData& t, const State& s) {
  RankerRows rows;
  for (const std::size_t c : t.split.calibration) {
    AppendCustomerRows(s, t.portfolio.customers[c].holds, t.encoded[c], State::ServingStats{s},
                       nullptr, rows);
  }
  return rows;
}

// Stage 4: Platt scaling, σ(a·logit p + b), fitted on the calibration rows; a = 1, b = 0
// when they hold only one label.
Result<void> FitCalibration(const RankerRows& rows, std::size_t customers, State& s,
                            const PortfolioModel::Progress& say) {
  if (rows.y.empty()) return {};
  auto raw = s.ranker->Predict(rows.x, rows.y.size());
  if (!raw) return std::unexpected(raw.error());
  Eigen::MatrixXd logit(static_cast<Eigen::Index>(raw->size()), 1);
  Eigen::VectorXd label(static_cast<Eigen::Index>(raw->size()));
  for (std::size_t i = 0; i < raw->size(); ++i) {
    logit(static_cast<Eigen::Index>(i), 0) = Logit((*raw)[i]);
    label(static_cast<Eigen::Index>(i)) = rows.y[i];
  }
  const double positives = label.sum();
  if (positives > 0 && positives < static_cast<double>(label.size())) {
    auto platt = FitLogistic(logit, label, {.l2 = 0});
    if (!platt) return std::unexpected(platt.error());
    s.platt_a = platt->weights(0);
    s.platt_b = platt->intercept;
  }
  say(fmt::format("calibration: Platt scaling on {} rows of {} customers: a = {:.3f}, b = {:.3f}",
                  rows.y.size(), customers, s.platt_a, s.platt_b));
  return {};
}

}  // namespace

Result<PortfolioModel> PortfolioModel::Train(const Portfolio& portfolio,
                                             std::span<const std::size_t> customers,
                                             const PortfolioModelOptions& o,
                                             const Progress& progress) {
  const Progress say = [&](const std::string& line) {
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
  const TrainingSplit split = SplitTraining(customers, portfolio.customers.size(), o);
  s.fit_customers = static_cast<long>(split.fit.size());
  s.calibration_customers = static_cast<long>(split.calibration.size());
  s.data_customers = customers.size();

  BuildVocabulary(portfolio, split.fit, o.min_value_count, s);
  s.Layout();
  TrainingData t{portfolio, o, split, std::vector<State::Encoded>(portfolio.customers.size())};
  for (const std::size_t c : customers) t.encoded[c] = s.Encode(portfolio.customers[c]);
  const std::vector<CountedStats> out_of_fold = CountStatistics(t, s);

  auto out_of_fold_mf = TrainFactorisations(t, s, say);
  if (!out_of_fold_mf) return std::unexpected(out_of_fold_mf.error());

  const RankerRows rows = FitRows(t, s, out_of_fold, *out_of_fold_mf);
  const RankerRows calibration = CalibrationRows(t, s);
  const std::size_t cols = s.feature_names.size();
  say(fmt::format(
      "ranker rows: {} from {} customers ({} positive), {} features; {} for the calibration",
      rows.y.size(), split.fit.size(), std::count(rows.y.begin(), rows.y.end(), 1.0f), cols,
      calibration.y.size()));
  auto ranker = GbmModel::Train(rows.x, rows.y.size(), cols, rows.y, o.gbm);
  if (!ranker) return std::unexpected(ranker.error());
  s.ranker = *std::move(ranker);
  say(fmt::format("XGBoost: {} rounds, depth {}, eta {}", o.gbm.rounds, o.gbm.max_depth,
                  o.gbm.eta));

  if (auto ok = FitCalibration(calibration, split.calibration.size(), s, say); !ok) {
    return std::unexpected(ok.error());
  }
  return PortfolioModel(std::move(state));
}

}  // namespace abrec
