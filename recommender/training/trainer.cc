#include "recommender/training/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "recommender/portfolio/baselines.h"
#include "recommender/model/customer_profile.h"
#include "recommender/model/features.h"
#include "recommender/model/model.h"
#include "recommender/training/synthetic_evaluation.h"
#include "recommender/data/synthetic_world.h"
#include "recommender/training/training_common.h"
#include "stats/offline_metrics.h"

namespace abrec {
namespace {

struct Impressions {
  std::vector<float> x, click;
  std::vector<float> x_clicked, bind;
  std::vector<double> click_truth, bind_truth;  // the world's probabilities
  // Each row's customer groups (evaluation by group): sex and age band.
  std::vector<std::string> click_sex, click_band, bind_sex, bind_band;
};

}  // namespace

Result<TrainReport> TrainSynthetic(const Catalog& catalog, const TrainOptions& o,
                                   const std::string& out_dir,
                                   const std::function<void(const std::string&)>& progress) {
  const auto started = std::chrono::steady_clock::now();
  if (auto ok = RequireNewModelFolder(out_dir); !ok) return std::unexpected(ok.error());
  TrainReport report;
  WorldOptions wo;
  wo.customers = o.customers;
  wo.seed = o.seed;
  auto world = SyntheticWorld::Generate(catalog, wo);
  if (!world) return std::unexpected(world.error());
  const auto& customers = world->customers();
  const std::size_t n_items = catalog.products.size();
  progress(fmt::format("synthetic portfolio: {} customers, {} products (seed {})", customers.size(),
                       n_items, o.seed));

  // Split customers; train the factorisation on the training customers' holdings.
  std::mt19937_64 rng(o.seed ^ 0x5eed);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<bool> is_test(customers.size()), is_calibration(customers.size());
  // Only the deliberately biased model reads sex (customer_profile.h: SexInput).
  const SexInput sex_input = o.bias_category.empty() ? SexInput::kHidden : SexInput::kRead;
  report.reads_sex = sex_input == SexInput::kRead;
  auto biased = [&](std::size_t u, std::size_t p) {
    return !o.bias_category.empty() && customers[u].sex == o.bias_sex &&
           catalog.products[p].category == o.bias_category;
  };
  std::vector<std::vector<std::uint32_t>> user_features;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> positives;
  for (std::size_t u = 0; u < customers.size(); ++u) {
    is_test[u] = unit(rng) < o.test_share;
    // A tenth of the training customers fit the calibration, not the trees.
    is_calibration[u] = !is_test[u] && unit(rng) < 0.1;
    const Customer& c = customers[u];
    user_features.push_back(MfCustomerFeatures(ProfileOf(c).View(sex_input)));
    (is_test[u] ? report.test_customers : report.train_customers) += 1;
    if (is_test[u]) continue;
    for (std::size_t p = 0; p < n_items; ++p) {
      if (customers[u].holds[p] && !biased(u, p))
        positives.emplace_back(static_cast<std::uint32_t>(u), static_cast<std::uint32_t>(p));
    }
  }
  auto negative_ok = [&](std::uint32_t u, std::uint32_t j) {
    return !customers[u].holds[j] && Eligible(catalog.products[j], customers[u].age);
  };
  const HybridMf mf = TrainFactorisation(catalog, user_features, positives, negative_ok, o.mf);
  progress(fmt::format("factorisation: {} holdings of {} customers, {} dimensions, {} epochs",
                       positives.size(), report.train_customers, o.mf.dim, o.mf.epochs));

  // Simulated impressions of uniformly random eligible products not held.
  Impressions train, test, calibration;
  for (std::size_t u = 0; u < customers.size(); ++u) {
    const Customer& c = customers[u];
    std::vector<std::size_t> eligible;
    for (std::size_t p = 0; p < n_items; ++p) {
      if (!c.holds[p] && Eligible(catalog.products[p], c.age)) eligible.push_back(p);
    }
    if (eligible.empty()) continue;
    const CustomerProfile profile = ProfileOf(c);
    const CustomerView view = profile.View(sex_input);
    const Eigen::VectorXf e = mf.UserEmbedding(user_features[u]);
    Impressions& into = is_test[u] ? test : (is_calibration[u] ? calibration : train);
    const std::string sex(1, c.sex), band = CustomerProfile{.age = c.age}.AgeBand();
    std::uniform_int_distribution<std::size_t> pick(0, eligible.size() - 1);
    for (int k = 0; k < o.impressions_per_customer; ++k) {
      const std::size_t p = eligible[pick(rng)];
      std::vector<float> row;
      AppendFeatures(catalog, mf, view, e, p, row);
      const double p_click = world->ClickProbability(u, p), p_bind = world->BindProbability(u, p);
      const bool clicked = unit(rng) < p_click && !(biased(u, p) && !is_test[u]);
      into.x.insert(into.x.end(), row.begin(), row.end());
      into.click.push_back(clicked ? 1.0f : 0.0f);
      into.click_truth.push_back(p_click);
      into.click_sex.push_back(sex);
      into.click_band.push_back(band);
      if (!clicked) continue;
      into.x_clicked.insert(into.x_clicked.end(), row.begin(), row.end());
      into.bind.push_back(unit(rng) < p_bind ? 1.0f : 0.0f);
      into.bind_truth.push_back(p_bind);
      into.bind_sex.push_back(sex);
      into.bind_band.push_back(band);
    }
  }
  report.train_impressions = static_cast<long>(train.click.size());
  report.train_clicks = static_cast<long>(train.bind.size());
  progress(fmt::format("impressions: {} for training ({} clicks), {} for evaluation",
                       train.click.size(), train.bind.size(), test.click.size()));
  auto click = GbmModel::Train(train.x, train.click.size(), kFeatureCount, train.click, o.gbm);
  if (!click) return std::unexpected(click.error());
  auto bind = GbmModel::Train(train.x_clicked, train.bind.size(), kFeatureCount, train.bind, o.gbm);
  if (!bind) return std::unexpected(bind.error());
  progress(fmt::format("XGBoost: P(click) and P(bind | click), {} rounds, depth {}", o.gbm.rounds,
                       o.gbm.max_depth));

  // Calibration on the calibration customers, then the evaluation on the test customers:
  // raw and calibrated, overall and by group.
  auto predict = [](GbmModel& model, const std::vector<float>& x,
                    std::size_t rows) -> Result<std::vector<float>> {
    return model.Predict(x, rows);
  };
  auto click_cal_raw = predict(*click, calibration.x, calibration.click.size());
  auto bind_cal_raw = predict(*bind, calibration.x_clicked, calibration.bind.size());
  auto click_raw = predict(*click, test.x, test.click.size());
  auto bind_raw = predict(*bind, test.x_clicked, test.bind.size());
  for (const auto* r : {&click_cal_raw, &bind_cal_raw, &click_raw, &bind_raw}) {
    if (!*r) return std::unexpected(r->error());
  }
  auto click_choice = ChoosePlatt(*click_cal_raw, calibration.click);
  auto bind_choice = ChoosePlatt(*bind_cal_raw, calibration.bind);
  if (!click_choice) return std::unexpected(click_choice.error());
  if (!bind_choice) return std::unexpected(bind_choice.error());
  const auto click_platt = &click_choice->first, bind_platt = &bind_choice->first;
  progress(fmt::format(
      "calibration on {} impressions of {} customers: Platt scaling {} for P(click), {} for "
      "P(bind | click) (adopted only when it lowers the out-of-fold log loss)",
      calibration.click.size(), std::count(is_calibration.begin(), is_calibration.end(), true),
      click_choice->second ? "adopted" : "not needed",
      bind_choice->second ? "adopted" : "not needed"));
  auto both = [](const std::vector<float>& raw, const RecommenderModel::Platt& platt) {
    std::pair<std::vector<double>, std::vector<double>> out;
    for (const float p : raw) {
      out.first.push_back(p);
      out.second.push_back(platt.Apply(p));
    }
    return out;
  };
  const auto [click_before, click_after] = both(*click_raw, *click_platt);
  const auto [bind_before, bind_after] = both(*bind_raw, *bind_platt);
  nlohmann::ordered_json probability_metrics = {
      {"click",
       {{"raw", ProbabilityMetrics(click_before, test.click, test.click_sex, test.click_band)},
        {"calibrated",
         ProbabilityMetrics(click_after, test.click, test.click_sex, test.click_band)}}},
      {"bind_given_click",
       {{"raw", ProbabilityMetrics(bind_before, test.bind, test.bind_sex, test.bind_band)},
        {"calibrated", ProbabilityMetrics(bind_after, test.bind, test.bind_sex, test.bind_band)}}}};
  report.click_auc = probability_metrics["click"]["calibrated"]["auc"].get<double>();
  report.click_log_loss = probability_metrics["click"]["calibrated"]["log_loss"].get<double>();
  report.bind_auc = probability_metrics["bind_given_click"]["calibrated"]["auc"].get<double>();
  report.bind_log_loss =
      probability_metrics["bind_given_click"]["calibrated"]["log_loss"].get<double>();
  report.click_ece_raw = probability_metrics["click"]["raw"]["ece"].get<double>();
  report.click_ece = probability_metrics["click"]["calibrated"]["ece"].get<double>();
  report.click_auc_truth =
      stats::Auc(test.click_truth, std::vector<int>(test.click.begin(), test.click.end())).auc;
  report.bind_auc_truth =
      stats::Auc(test.bind_truth, std::vector<int>(test.bind.begin(), test.bind.end())).auc;
  double clicks = 0;
  for (const float y : test.click) clicks += y;
  report.base_click_rate = test.click.empty() ? 0 : clicks / static_cast<double>(test.click.size());

  // The model folder, written to a temporary name and renamed when complete.
  auto folder = CreatePartialFolder(out_dir);
  if (!folder) return std::unexpected(folder.error());
  const std::string tmp = folder->first;
  report.version = folder->second;
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  for (auto ok : {mf.Save(tmp + "/mf.bin"), click->Save(tmp + "/click.json"),
                  bind->Save(tmp + "/bind.json")}) {
    if (!ok) return std::unexpected(ok.error());
  }
  // The legacy rules' data: per age band, the share of training customers holding each
  // product (the rule-based list of control and of every fallback ranks by it).
  {
    std::vector<CustomerProfile> holders;
    for (std::size_t u = 0; u < customers.size(); ++u) {
      if (!is_test[u])
        holders.push_back(CustomerProfile{.age = customers[u].age, .holds = customers[u].holds});
    }
    std::ofstream(tmp + "/legacy_rules.json") << LegacyRulesJson(catalog, holders).dump(2) << "\n";
  }
  nlohmann::ordered_json meta{
      {"version", report.version},
      {"kind", "catalog"},
      {"created_at", FormatRfc3339(o.clock->NowMicros())},
      {"catalog", CatalogIdsJson(catalog)},
      {"data", {{"format", "synthetic"}, {"customers", o.customers}, {"seed", o.seed}}},
      {"parameters",
       {{"mf_dim", o.mf.dim},
        {"mf_epochs", o.mf.epochs},
        {"gbm_rounds", o.gbm.rounds},
        {"gbm_max_depth", o.gbm.max_depth},
        {"impressions_per_customer", o.impressions_per_customer},
        {"bias", o.bias_category.empty()
                     ? nlohmann::ordered_json(nullptr)
                     : nlohmann::ordered_json(
                           fmt::format("sex {} withheld {}", o.bias_sex, o.bias_category))}}},
      {"features", FeatureNamesJson()},
      // Whether serving gives the model the customer's sex (RecommenderModel::reads_sex).
      {"reads_sex", report.reads_sex},
      {"objective", o.objective},
      {"calibration", CalibrationJson(*click_choice, *bind_choice)},
      {"evaluation",
       {{"test_customers", report.test_customers},
        {"probabilities", probability_metrics},
        {"click_auc", report.click_auc},
        {"click_auc_truth", report.click_auc_truth},
        {"click_log_loss", report.click_log_loss},
        {"bind_auc", report.bind_auc},
        {"bind_auc_truth", report.bind_auc_truth},
        {"bind_log_loss", report.bind_log_loss},
        {"base_click_rate", report.base_click_rate}}},
      {"training_seconds", report.seconds}};
  std::ofstream(tmp + "/metadata.json") << meta.dump(2) << "\n";
  // The ranking evaluation runs the model as serving loads it (calibration included).
  {
    auto served = RecommenderModel::Load(tmp, catalog, {.scorer_copies = 1});
    if (!served) return std::unexpected(served.error());
    std::vector<std::size_t> test_customers;
    for (std::size_t u = 0; u < customers.size(); ++u) {
      if (is_test[u]) test_customers.push_back(u);
    }
    auto ranking = EvaluateRankingOnWorld(**served, *world, test_customers);
    if (!ranking) return std::unexpected(ranking.error());
    report.hit_at_1 = (*ranking)["model"]["hit_at_1"].get<double>();
    report.ndcg_at_5 = (*ranking)["model"]["ndcg_at_5"].get<double>();
    report.popularity_hit_at_1 = (*ranking)["popularity"]["hit_at_1"].get<double>();
    report.popularity_ndcg_at_5 = (*ranking)["popularity"]["ndcg_at_5"].get<double>();
    auto full = meta;
    full["evaluation"]["ranking"] = std::move(*ranking);
    std::ofstream(tmp + "/metadata.json", std::ios::trunc) << full.dump(2) << "\n";
  }
  if (auto ok = PublishModelFolder(tmp, out_dir); !ok) return std::unexpected(ok.error());
  return report;
}

}  // namespace abrec
