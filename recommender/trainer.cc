#include "recommender/trainer.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "recommender/features.h"
#include "recommender/synthetic_world.h"
#include "stats/offline_metrics.h"

namespace abrec {
namespace {

// The factorisation's customer features, numbered arithmetically so that serving computes
// the same numbers: sex (2), age band (10), occupation (4), region (6), then one per product
// held.
constexpr std::uint32_t kSex = 0, kAge = 2, kOccupation = 12, kRegion = 16, kHolds = 22;

std::vector<std::uint32_t> CustomerFeatures(const Customer& c) {
  std::vector<std::uint32_t> f{kSex + (c.sex == 'F' ? 0u : 1u),
                               kAge + static_cast<std::uint32_t>(std::clamp(c.age / 10, 0, 9))};
  if (const int o = VocabularyCode(c.occupation, kOccupations); o >= 0) {
    f.push_back(kOccupation + static_cast<std::uint32_t>(o));
  }
  if (const int r = VocabularyCode(c.region, kRegions); r >= 0)
    f.push_back(kRegion + static_cast<std::uint32_t>(r));
  for (std::size_t p = 0; p < c.holds.size(); ++p) {
    if (c.holds[p]) f.push_back(kHolds + static_cast<std::uint32_t>(p));
  }
  return f;
}

struct Impressions {
  std::vector<float> x, click;
  std::vector<float> x_clicked, bind;
  std::vector<double> click_truth, bind_truth;  // the world's probabilities
};

}  // namespace

Result<TrainReport> TrainSynthetic(const Catalog& catalog, const TrainOptions& o,
                                   const std::string& out_dir,
                                   const std::function<void(const std::string&)>& progress) {
  namespace fs = std::filesystem;
  const auto started = std::chrono::steady_clock::now();
  std::error_code ec;
  if (fs::exists(out_dir, ec)) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("{} exists: choose a new folder for the model", out_dir), "out"));
  }
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
  std::vector<bool> is_test(customers.size());
  std::vector<std::vector<std::uint32_t>> user_features;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> positives;
  for (std::size_t u = 0; u < customers.size(); ++u) {
    is_test[u] = unit(rng) < o.test_share;
    user_features.push_back(CustomerFeatures(customers[u]));
    (is_test[u] ? report.test_customers : report.train_customers) += 1;
    if (is_test[u]) continue;
    for (std::size_t p = 0; p < n_items; ++p) {
      if (customers[u].holds[p])
        positives.emplace_back(static_cast<std::uint32_t>(u), static_cast<std::uint32_t>(p));
    }
  }
  std::vector<std::vector<std::uint32_t>> item_features;
  std::vector<std::int64_t> holds_feature;
  for (std::size_t p = 0; p < n_items; ++p) {
    item_features.push_back({static_cast<std::uint32_t>(p),
                             static_cast<std::uint32_t>(
                                 n_items + static_cast<std::size_t>(catalog.category_codes[p]))});
    holds_feature.push_back(kHolds + static_cast<std::int64_t>(p));
  }
  const std::size_t n_categories =
      catalog.category_codes.empty()
          ? 0
          : static_cast<std::size_t>(
                *std::max_element(catalog.category_codes.begin(), catalog.category_codes.end())) +
                1;
  auto negative_ok = [&](std::uint32_t u, std::uint32_t j) {
    return !customers[u].holds[j] && Eligible(catalog.products[j], customers[u].age);
  };
  const HybridMf mf =
      HybridMf::Train(user_features, kHolds + n_items, item_features, n_items + n_categories,
                      positives, negative_ok, o.mf, holds_feature);
  progress(fmt::format("factorisation: {} holdings of {} customers, {} dimensions, {} epochs",
                       positives.size(), report.train_customers, o.mf.dim, o.mf.epochs));

  // Simulated impressions of uniformly random eligible products not held.
  Impressions train, test;
  for (std::size_t u = 0; u < customers.size(); ++u) {
    const Customer& c = customers[u];
    std::vector<std::size_t> eligible;
    for (std::size_t p = 0; p < n_items; ++p) {
      if (!c.holds[p] && Eligible(catalog.products[p], c.age)) eligible.push_back(p);
    }
    if (eligible.empty()) continue;
    const CustomerView view{c.age, c.sex, VocabularyCode(c.occupation, kOccupations),
                            VocabularyCode(c.region, kRegions), &c.holds};
    const Eigen::VectorXf e = mf.UserEmbedding(user_features[u]);
    Impressions& into = is_test[u] ? test : train;
    std::uniform_int_distribution<std::size_t> pick(0, eligible.size() - 1);
    for (int k = 0; k < o.impressions_per_customer; ++k) {
      const std::size_t p = eligible[pick(rng)];
      std::vector<float> row;
      AppendFeatures(catalog, mf, view, e, p, row);
      const double p_click = world->ClickProbability(u, p), p_bind = world->BindProbability(u, p);
      const bool clicked = unit(rng) < p_click;
      into.x.insert(into.x.end(), row.begin(), row.end());
      into.click.push_back(clicked ? 1.0f : 0.0f);
      into.click_truth.push_back(p_click);
      if (!clicked) continue;
      into.x_clicked.insert(into.x_clicked.end(), row.begin(), row.end());
      into.bind.push_back(unit(rng) < p_bind ? 1.0f : 0.0f);
      into.bind_truth.push_back(p_bind);
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

  auto evaluate = [](GbmModel& model, const std::vector<float>& x, const std::vector<float>& y,
                     double* auc, double* log_loss) -> Result<void> {
    auto p = model.Predict(x, y.size());
    if (!p) return std::unexpected(p.error());
    const std::vector<double> scores(p->begin(), p->end());
    const std::vector<int> labels(y.begin(), y.end());
    *auc = stats::Auc(scores, labels).auc;
    *log_loss = stats::LogLoss(scores, labels);
    return {};
  };
  if (auto ok = evaluate(*click, test.x, test.click, &report.click_auc, &report.click_log_loss);
      !ok) {
    return std::unexpected(ok.error());
  }
  if (auto ok = evaluate(*bind, test.x_clicked, test.bind, &report.bind_auc, &report.bind_log_loss);
      !ok) {
    return std::unexpected(ok.error());
  }
  report.click_auc_truth =
      stats::Auc(test.click_truth, std::vector<int>(test.click.begin(), test.click.end())).auc;
  report.bind_auc_truth =
      stats::Auc(test.bind_truth, std::vector<int>(test.bind.begin(), test.bind.end())).auc;
  double clicks = 0;
  for (const float y : test.click) clicks += y;
  report.base_click_rate = test.click.empty() ? 0 : clicks / static_cast<double>(test.click.size());

  // The model folder, written to a temporary name and renamed when complete.
  const std::string tmp = out_dir + ".partial";
  fs::remove_all(tmp, ec);
  if (!fs::create_directories(tmp, ec)) {
    return std::unexpected(Error{ErrorCode::kIo, fmt::format("cannot create {}", tmp), "out"});
  }
  report.version = fmt::format("hybrid-{}-{}", o.seed, o.customers);
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  for (auto ok : {mf.Save(tmp + "/mf.bin"), click->Save(tmp + "/click.json"),
                  bind->Save(tmp + "/bind.json")}) {
    if (!ok) return std::unexpected(ok.error());
  }
  nlohmann::ordered_json features = nlohmann::ordered_json::array();
  for (const auto name : FeatureNames()) features.push_back(name);
  const nlohmann::ordered_json meta{
      {"version", report.version},
      {"data", {{"format", "synthetic"}, {"customers", o.customers}, {"seed", o.seed}}},
      {"parameters",
       {{"mf_dim", o.mf.dim},
        {"mf_epochs", o.mf.epochs},
        {"gbm_rounds", o.gbm.rounds},
        {"gbm_max_depth", o.gbm.max_depth},
        {"impressions_per_customer", o.impressions_per_customer}}},
      {"features", features},
      {"evaluation",
       {{"test_customers", report.test_customers},
        {"click_auc", report.click_auc},
        {"click_auc_truth", report.click_auc_truth},
        {"click_log_loss", report.click_log_loss},
        {"bind_auc", report.bind_auc},
        {"bind_auc_truth", report.bind_auc_truth},
        {"bind_log_loss", report.bind_log_loss},
        {"base_click_rate", report.base_click_rate}}},
      {"training_seconds", report.seconds}};
  std::ofstream(tmp + "/metadata.json") << meta.dump(2) << "\n";
  fs::rename(tmp, out_dir, ec);
  if (ec) {
    return std::unexpected(
        Error{ErrorCode::kIo, fmt::format("cannot rename {} to {}", tmp, out_dir), "out"});
  }
  return report;
}

}  // namespace abrec
