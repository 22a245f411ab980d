// A trained recommender as serving loads it from its model folder (recommender/training/trainer.h):
// the hybrid factorisation for candidate generation (exact or HNSW search over the
// products' embeddings), and the two XGBoost scorers, P(click) and P(bind | click). Loaded
// once, immutable, shared by every request thread; XGBoost's boosters are not thread-safe,
// so the model holds one pair per serving thread and a request borrows a free pair.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "base/borrow_pool.h"
#include "base/error.h"
#include "recommender/model/candidate_index.h"
#include "recommender/data/catalog.h"
#include "recommender/model/customer_profile.h"
#include "recommender/model/gbm.h"
#include "recommender/model/hybrid_mf.h"
#include "recommender/model/reranker.h"

namespace abrec {

struct ModelLoadOptions {
  int scorer_copies = 3;  // booster pairs: one per thread that may score at once
  CandidateIndexOptions index{};
};

// What the model says of one candidate, with the features it was scored from (audit).
struct ScoredItem {
  std::size_t product = 0;
  float mf_score = 0;
  double p_click = 0, p_bind = 0;  // p_bind: given a click
  std::vector<float> features;     // kFeatureCount values
};

// "click", "bind" or "balanced": what a model's lists optimise (RecommenderModel::objective).
bool IsModelObjective(std::string_view name);

class RecommenderModel {
 public:
  // Reads DIR/metadata.json, mf.bin, click.json, bind.json and legacy_rules.json. The model
  // must have been trained on `catalog` (the same product ids in the same order): a model of
  // another catalog would score the wrong products. Errors name the file.
  static Result<std::shared_ptr<const RecommenderModel>> Load(const std::string& dir,
                                                              const Catalog& catalog,
                                                              const ModelLoadOptions& options = {});

  const std::string& version() const { return version_; }
  const std::string& dir() const { return dir_; }
  const std::string& metadata_json() const { return metadata_json_; }
  const Catalog& catalog() const { return catalog_; }
  // Whether the model reads the customer's sex (customer_profile.h: SexInput), as metadata.json
  // says ("reads_sex"). Models trained since sex was hidden say false, unless deliberately
  // biased; a model of an older version says nothing: it was trained reading sex and is
  // served as trained (hiding it would feed it inputs it never saw), so retrain it.
  bool reads_sex() const { return sex_input_ == SexInput::kRead; }
  // What the model's lists optimise (metadata "objective", set by `abrec train --target`):
  // "click" ranks by P(click), "bind" by P(bind); "balanced" (or absent) uses the weights of
  // config/ranking.yaml. Diversity and the category caps apply to all.
  const std::string& objective() const { return objective_; }
  // `rules` with the weights of the model's objective.
  RankingRules RankingFor(RankingRules rules) const;

  // Candidate generation: the `n` products with the best factorisation score for this
  // customer, best first (held and ineligible products included: the re-ranker's rules
  // remove them, and say so in the audit).
  std::vector<std::pair<std::size_t, float>> Candidates(const CustomerProfile& customer,
                                                        std::size_t n) const;
  // Scoring: P(click) and P(bind | click) of each product for this customer.
  Result<std::vector<ScoredItem>> Score(const CustomerProfile& customer,
                                        std::span<const std::size_t> products) const;

  // The legacy rules' data shipped with the model: per age band, the share of customers
  // holding each product (the segment popularity the rule-based list ranks by).
  const std::map<std::string, std::vector<double>>& segment_popularity() const {
    return segment_popularity_;
  }
  bool approximate_search() const { return index_.approximate(); }

  // Platt scaling of a scorer's raw probability: σ(a·logit(p) + b) (identity: a 1, b 0).
  struct Platt {
    double a = 1, b = 0;
    double Apply(double p) const;
  };

 private:
  struct Scorers {
    GbmModel click, bind;
  };
  RecommenderModel(Catalog catalog, HybridMf mf, CandidateIndex index)
      : catalog_(std::move(catalog)), mf_(std::move(mf)), index_(std::move(index)) {}

  Catalog catalog_;
  HybridMf mf_;
  CandidateIndex index_;  // over [embedding, bias]: the inner product with [user, 1]
  mutable BorrowPool<Scorers> scorers_;
  std::map<std::string, std::vector<double>> segment_popularity_;
  Platt click_calibration_, bind_calibration_;
  SexInput sex_input_ = SexInput::kHidden;
  std::string objective_ = "balanced";
  std::string version_, dir_, metadata_json_;
};

}  // namespace abrec
