// What a PortfolioModel is made of, private to this module: training fills it
// (portfolio_model_train.cc), the model folder stores it (portfolio_model_file.cc) and scoring
// reads it (portfolio_model.cc). The encoding of a customer and the ranker's row of features are
// here, once, because training and serving must build them identically.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "recommender/model/gbm.h"
#include "recommender/model/hybrid_mf.h"
#include "recommender/portfolio/portfolio.h"
#include "recommender/portfolio/portfolio_model.h"

namespace abrec::portfolio_model {

// A feature XGBoost treats as missing.
inline constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();
inline constexpr int kAgeBands = 10;  // 0-9, 10-19, ..., 90+

enum class AttributeKind { kCategorical, kNumeric, kDate };

// The whole of `s` as a number; nullopt when it is anything else.
std::optional<double> Number(std::string_view s);
// d/m/yyyy (Zimnat's join_date): the date as a number of years, and its year; nullopt when
// `s` is not such a date.
std::optional<std::pair<double, int>> Date(std::string_view s);
// log(p / (1 − p)), p clamped to [1e-6, 1 − 1e-6]: the input of the Platt scaling.
double Logit(double p);

struct State {
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

  // The vocabulary's key of attribute `a`'s `value`: a date's year, else the value.
  std::string ValueKey(std::size_t a, const std::string& value) const;
  Encoded Encode(const PortfolioCustomer& c) const;
  // The factorisation's features of a customer whose holdings are `input`.
  std::vector<std::uint32_t> UserFeatures(const Encoded& e, const std::vector<bool>& input) const;
  // Every product's score by `with`, else by the model's factorisation; empty when neither.
  std::vector<double> MfScores(const Encoded& e, const std::vector<bool>& input,
                               const HybridMf* with = nullptr) const;

  // Numbers the factorisation's customer features and names the ranker's columns, from the
  // vocabulary and the products.
  void Layout();

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

}  // namespace abrec::portfolio_model
