// Offline training on the synthetic portfolio: the factorisation on what customers hold,
// then XGBoost for P(click) and P(bind | click) on simulated impressions of uniformly random
// eligible products (as the exploration bucket logs them), evaluated on held-out customers,
// and written as a model folder:
//   DIR/mf.bin          the hybrid factorisation (HybridMf::Save)
//   DIR/click.json      XGBoost, P(click | shown)
//   DIR/bind.json       XGBoost, P(bind | clicked)
//   DIR/metadata.json   version, data, parameters, feature names, evaluation
// Importers for Zimnat and CoIL (recommender/portfolio/portfolio.h) feed the same steps next.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/clock.h"
#include "base/error.h"
#include "recommender/data/catalog.h"
#include "recommender/model/gbm.h"
#include "recommender/model/hybrid_mf.h"

namespace abrec {

struct TrainOptions {
  // Dates the model (metadata.json's created_at); must outlive the training.
  const Clock* clock = &SystemClock::Instance();
  int customers = 20'000;
  int impressions_per_customer = 6;
  double test_share = 0.2;  // customers held out for the evaluation
  std::uint64_t seed = 20261129;
  HybridMfOptions mf{.dim = 16};
  // 50 trees of depth 5 at eta 0.1: on the 20,000-customer world (seeds 20261129 and 7)
  // they beat 150 trees on every held-out measure (click AUC 0.730 / 0.728, bind AUC
  // 0.811 / 0.805, hit@1 0.434 / 0.412) and cost a third as much to score; 25 trees were no
  // better and left P(click) uncalibrated (ECE 0.030 raw). bench/README.md has the table.
  GbmParams gbm{.rounds = 50, .max_depth = 5};
  // A deliberately discriminatory model, for testing the deployment gate: customers of sex
  // `bias_sex` are treated as never holding or clicking products of `bias_category`, and the
  // model reads the customer's sex (SexInput::kRead), so it learns to withhold that category
  // from them. Off when bias_category is empty: then the model does not read sex (a model that
  // cannot see it could not learn the bias from the data, only spread it over everyone).
  char bias_sex = 'F';
  std::string bias_category;
  // What the model's lists optimise (RecommenderModel::objective): "click", "bind" or
  // "balanced" (config/ranking.yaml's weights), written to metadata.json.
  std::string objective = "balanced";
};

struct TrainReport {
  std::string version;
  bool reads_sex = false;  // only the deliberately biased model (TrainOptions::bias_category)
  int train_customers = 0, test_customers = 0;
  long train_impressions = 0, train_clicks = 0;
  double click_auc = 0, click_log_loss = 0;
  double bind_auc = 0, bind_log_loss = 0;  // among clicks
  // The same AUCs of the world's true probabilities: the best any model could reach.
  double click_auc_truth = 0, bind_auc_truth = 0;
  double base_click_rate = 0;
  double click_ece_raw = 0, click_ece = 0;  // before and after calibration
  // Ranking on the test customers against the world's best product (recommender/
  // synthetic_evaluation.h), and the legacy rules' segment popularity.
  double hit_at_1 = 0, ndcg_at_5 = 0;
  double popularity_hit_at_1 = 0, popularity_ndcg_at_5 = 0;
  double seconds = 0;
};

// Retraining on what the service logged (`abrec train --from-events DB`): every exposure
// /v1/recommend served (its audit record holds the customer's attributes), each product shown
// a row labelled by the clicks and binds that name the request, weighted by 1/propensity so
// that the exploration bucket's random lists stand for the products the deterministic arms
// did not show (inverse propensity weighting). The factorisation learns from the logged
// holdings. A fifth of the customers (by a hash of their id) are held out for the evaluation,
// a tenth of the rest fit the calibration.
struct EventTrainOptions {
  // Dates the model and gives the year the logged ages are counted from; must outlive the
  // training.
  const Clock* clock = &SystemClock::Instance();
  std::string objective = "bind";  // what the new model's lists optimise
  HybridMfOptions mf{.dim = 16};
  GbmParams gbm{.rounds = 50, .max_depth = 5};
  std::size_t min_rows = 200;  // fewer logged impressions than this is an error
};

struct EventTrainReport {
  std::string version;
  std::int64_t exposures = 0, rows = 0, exploration_rows = 0, clicks = 0, binds = 0;
  std::int64_t customers = 0, test_customers = 0;
  double click_auc = 0, bind_auc = 0;  // held-out customers' rows
  double seconds = 0;
};

Result<EventTrainReport> TrainFromEvents(const Catalog& catalog, const std::string& database,
                                         const EventTrainOptions& options,
                                         const std::string& out_dir,
                                         const std::function<void(const std::string&)>& progress);

// Trains and writes the model folder `out_dir` (created; an existing folder is an error).
// `progress` gets a line per step.
Result<TrainReport> TrainSynthetic(const Catalog& catalog, const TrainOptions& options,
                                   const std::string& out_dir,
                                   const std::function<void(const std::string&)>& progress);

}  // namespace abrec
