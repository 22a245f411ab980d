// The recommender's model for an imported portfolio (Zimnat, CoIL, abrec CSV: any product
// list): P(the customer holds product p | what else they hold, their attributes), for every
// product they do not hold.
//
// Training, on the given customers (a seeded share of them kept apart for the calibration):
//   1. a vocabulary of attribute=value (values seen at least `min_value_count` times; numbers
//      coded in numeric order), age bands of 10 years, and "holds p" per product;
//   2. the hybrid factorisation (HybridMf) on the holdings, the holding features left out of
//      the pair they would predict (holds_feature), and five copies each trained without a
//      fifth of the customers, which score the training rows of that fifth (out-of-fold);
//   3. XGBoost (binary:logistic) on (customer, candidate) rows. kLeaveEachOut: for every
//      customer and product p, the input is the customer's holdings without p and the label
//      whether they hold p (the conditional the ranking needs); kHideEachHeld: for every held
//      h, the input is the holdings without h, the candidates every product not in the input
//      and the label p == h. The features (feature_names()): product, age, number held,
//      popularity, co-occurrence with the held products (mean and max of P(p | q)), the
//      smoothed share of customers with the same attribute value who hold p, the
//      factorisation's score and rank (unless mf_features is off), the held products and the
//      attribute codes. The count-based features of a training row come from the other four
//      fifths of the training customers (out-of-fold), so a row never sees its own label;
//   4. Platt scaling (σ(a·logit p + b), FitLogistic) on the calibration customers' rows.
//
// The folder (Save / Load):
//   DIR/mf.bin          the factorisation (absent when mf_features is off)
//   DIR/ranker.json     XGBoost
//   DIR/metadata.json   "kind": "portfolio", version, data (format, file, customers), products,
//                       vocabulary, features, parameters, calibration, the statistics the
//                       features need, the evaluation on held-out customers, training time
// written as DIR.partial and renamed when complete.
//
// A model is a value; Score is not thread-safe (XGBoost's prediction buffers): one model per
// thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"
#include "recommender/model/gbm.h"
#include "recommender/model/hybrid_mf.h"
#include "recommender/portfolio/portfolio.h"
#include "recommender/portfolio/portfolio_metrics.h"

namespace abrec {
namespace portfolio_model {
struct State;  // portfolio_model_state.h, private to this module
}  // namespace portfolio_model

enum class TrainingRows { kLeaveEachOut, kHideEachHeld };

struct PortfolioModelOptions {
  HybridMfOptions mf{.dim = 16, .epochs = 20};
  GbmParams gbm{.rounds = 300, .max_depth = 6, .eta = 0.05};
  bool mf_features = true;  // off: XGBoost without the factorisation (the ablation)
  TrainingRows rows = TrainingRows::kLeaveEachOut;
  // Customers kept apart to fit the calibration: more calibrates better, fewer trains more.
  double calibration_share = 0.15;
  // Rarer attribute values are "unknown": a rare value's statistics are noise.
  int min_value_count = 5;
  // P(p | attribute value) is shrunk towards P(p) as if this many customers had P(p).
  double prior_weight = 20;
  std::uint64_t seed = 20261129;
};

// Where a saved model comes from, for its metadata.
struct ModelRecord {
  std::string format;     // zimnat, coil, csv
  std::string data_path;  // the training file
  long customers = 0;     // the training customers
  double seconds = 0;     // training time
  HoldoutEvaluation evaluation;
};

struct ProductScores {
  // Per product of the model; NaN for the products the customer holds.
  std::vector<double> raw;          // XGBoost's probability
  std::vector<double> probability;  // calibrated
};

class PortfolioModel {
 public:
  using Progress = std::function<void(const std::string&)>;

  // Trains on `customers` (indices into portfolio.customers). Errors: kInvalidArgument when
  // there are fewer than 10 customers or no holdings; XGBoost's errors.
  static Result<PortfolioModel> Train(const Portfolio& portfolio,
                                      std::span<const std::size_t> customers,
                                      const PortfolioModelOptions& options,
                                      const Progress& progress = {});
  static Result<PortfolioModel> Load(const std::string& dir);

  PortfolioModel(PortfolioModel&&) noexcept;
  PortfolioModel& operator=(PortfolioModel&&) noexcept;
  ~PortfolioModel();

  // Probabilities for every product the customer does not hold (`input.holds`, one per
  // product of the model). kInvalidArgument when holds has the wrong size.
  Result<ProductScores> Score(const PortfolioCustomer& input);
  // The factorisation's score of every product (MF alone, for the ablation); empty when the
  // model has no factorisation.
  std::vector<double> MfScores(const PortfolioCustomer& input) const;

  const std::vector<std::string>& products() const;
  const std::vector<std::string>& feature_names() const;
  std::string version() const;

  // Writes the folder `dir` (it must not exist). Errors: kInvalidArgument when it exists,
  // kIo.
  Result<void> Save(const std::string& dir, const ModelRecord& record) const;

 private:
  explicit PortfolioModel(std::unique_ptr<portfolio_model::State> state);
  std::unique_ptr<portfolio_model::State> s_;
};

}  // namespace abrec
