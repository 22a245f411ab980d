// The steps every way of training the recommender shares (trainer.cc: the synthetic
// portfolio; event_training.cc: what the service logged): the factorisation on holdings,
// Platt calibration when it helps, the probability metrics, the legacy rules' segments.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "recommender/data/catalog.h"
#include "recommender/model/customer_profile.h"
#include "recommender/model/hybrid_mf.h"
#include "recommender/model/model.h"

namespace abrec {

// The hybrid factorisation of customers (`user_features`, MfCustomerFeatures) and products
// (their id and category) on the holdings `positives` (customer, product); negatives are
// drawn where `negative_ok`.
HybridMf TrainFactorisation(const Catalog& catalog,
                            const std::vector<std::vector<std::uint32_t>>& user_features,
                            const std::vector<std::pair<std::uint32_t, std::uint32_t>>& positives,
                            const std::function<bool(std::uint32_t, std::uint32_t)>& negative_ok,
                            const HybridMfOptions& options);

// Platt scaling when it helps: fitted on each half of the calibration rows and scored on the
// other; adopted (second: true) only if that out-of-fold log loss beats the raw
// probabilities' (XGBoost's logistic objective is often calibrated already).
Result<std::pair<RecommenderModel::Platt, bool>> ChoosePlatt(std::span<const float> raw,
                                                             std::span<const float> y);

// AUC, log loss and expected calibration error of probabilities `p` for labels `y`, overall
// and by group (sex, age band).
nlohmann::ordered_json ProbabilityMetrics(std::span<const double> p, std::span<const float> y,
                                          const std::vector<std::string>& sex,
                                          const std::vector<std::string>& band);

// legacy_rules.json: per age band, the share of `customers` holding each product (the
// segment popularity the rule-based list ranks by).
nlohmann::ordered_json LegacyRulesJson(const Catalog& catalog,
                                       std::span<const CustomerProfile> customers);

// Parts of every model folder's metadata.json: the catalog's product ids in order, the
// scorer's feature names, and the calibration chosen for each scorer.
nlohmann::ordered_json CatalogIdsJson(const Catalog& catalog);
nlohmann::ordered_json FeatureNamesJson();
nlohmann::ordered_json CalibrationJson(const std::pair<RecommenderModel::Platt, bool>& click,
                                       const std::pair<RecommenderModel::Platt, bool>& bind);

// Model folders are written beside their place, as OUT_DIR.partial (which the registry
// ignores), then moved into place. RequireNewModelFolder: OUT_DIR must not exist yet.
// CreatePartialFolder: a fresh OUT_DIR.partial; answers its path and the version (OUT_DIR's
// name).
Result<void> RequireNewModelFolder(const std::string& out_dir);
Result<std::pair<std::string, std::string>> CreatePartialFolder(const std::string& out_dir);
// Moves a finished model folder (written at `tmp`) to `out_dir`, where the registry sees it.
Result<void> PublishModelFolder(const std::string& tmp, const std::string& out_dir);

}  // namespace abrec
