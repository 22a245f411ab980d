// The offline protocols on real portfolios (issue 5), seeded end to end:
//
// Zimnat (hidden product): a seeded 80/20 split of the customers; each test customer has one
// held product hidden, chosen uniformly; the candidates are every product not held in what
// remains; hit@1, hit@3, NDCG@5 (portfolio_metrics.h), and log loss, AUC and calibration for
// the scorers that give probabilities. Rows: popularity, item co-occurrence, the
// factorisation alone, XGBoost without the factorisation's features, and the full model.
//
// CoIL (caravan propensity): repeated stratified k-fold cross-validation of the training
// file (ticdata2000; folds stratified by CARAVAN): in each test fold, the share of the fold's
// caravan owners found among its top 20% of customers by score (the challenge's measure:
// owners among the 800 of 4,000 selected, over all owners), for the full model (its
// calibrated P(CARAVAN) with CARAVAN removed from the input) and the logistic baseline in the
// same folds.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"
#include "recommender/portfolio/baselines.h"
#include "recommender/portfolio/portfolio.h"
#include "recommender/portfolio/portfolio_metrics.h"
#include "recommender/portfolio/portfolio_model.h"

namespace abrec {

using Progress = std::function<void(const std::string&)>;

struct CustomerSplit {
  std::vector<std::size_t> train, test;  // indices, ascending
};
// A seeded split of customers 0..n−1, `test_share` of them (rounded down) to the test side.
CustomerSplit SplitCustomers(std::size_t n, double test_share, std::uint64_t seed);

struct HiddenCase {
  std::size_t customer = 0;
  std::size_t hidden = 0;  // the product hidden from the input
  bool operator==(const HiddenCase&) const = default;
};
// One case per customer holding at least one product: a held product chosen uniformly.
std::vector<HiddenCase> HideOne(const Portfolio& portfolio, std::span<const std::size_t> customers,
                                std::uint64_t seed);

// The groups a customer is evaluated in: "NAME=value" for each of `attributes` they have,
// and "age=30-39" (10-year bands) when their age is known.
std::vector<std::string> GroupsOf(const PortfolioCustomer& customer,
                                  std::span<const std::string> attributes);

// What a scorer says of every product for one input (holdings with the hidden one removed):
// `score` ranks; `raw` and `probability` (XGBoost's and calibrated) are empty when the scorer
// gives no probabilities.
struct ScorerOutput {
  std::vector<double> score, raw, probability;
};
using Scorer = std::function<Result<ScorerOutput>(const PortfolioCustomer& input)>;

// Scores every case: the input is the customer with the hidden product not held.
Result<std::vector<ScoredCase>> ScoreHiddenCases(const Portfolio& portfolio,
                                                 std::span<const HiddenCase> cases,
                                                 std::span<const std::string> group_attributes,
                                                 const Scorer& scorer);

// A scorer of a trained model: its calibrated probabilities.
Scorer ModelScorer(PortfolioModel& model);

struct ZimnatOptions {
  double test_share = 0.2;
  std::uint64_t seed = 20261129;
  // 0: every customer; else a seeded sample of this many (for quick runs).
  std::size_t max_customers = 0;
  PortfolioModelOptions model;
  std::vector<std::string> group_attributes = {"sex"};
};

struct ProtocolRow {
  std::string name;
  HideOneMetrics metrics;
  double training_seconds = 0;
};

struct ZimnatReport {
  long train_customers = 0, test_cases = 0;
  std::vector<ProtocolRow> rows;  // popularity, co-occurrence, MF alone, XGBoost w/o MF, full
  HoldoutEvaluation full;         // the full model, by group too
};

Result<ZimnatReport> RunZimnatProtocol(const Portfolio& portfolio, const ZimnatOptions& options,
                                       const Progress& progress = {});

struct CoilOptions {
  int repeats = 5, folds = 5;
  double top_share = 0.2;
  std::uint64_t seed = 20261129;
  std::string target = "CARAVAN";
  PortfolioModelOptions model;
  LogisticOptions logistic;
};

struct CoilFold {
  int repeat = 0, fold = 0;
  long customers = 0, owners = 0;
  double model_share = 0, logistic_share = 0;  // of the fold's owners in its top 20%
};

struct CoilReport {
  std::vector<CoilFold> folds;
  double model_mean = 0, model_sd = 0, logistic_mean = 0, logistic_sd = 0;
  double model_auc = 0, logistic_auc = 0;  // pooled over every fold's scores
};

Result<CoilReport> RunCoilProtocol(const Portfolio& portfolio, const CoilOptions& options,
                                   const Progress& progress = {});

// The share of all positives that are among the top `share` of customers by score
// (round(share·n) customers; ties broken by position). 0 when there is no positive.
double TopShareOfPositives(std::span<const double> scores, std::span<const int> labels,
                           double share);

}  // namespace abrec
