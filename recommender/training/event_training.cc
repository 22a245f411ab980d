// TrainFromEvents (trainer.h): retraining on the service's event log.
#include <chrono>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/fingerprint.h"
#include "eventstore/open_store.h"
#include "recommender/model/features.h"
#include "recommender/training/trainer.h"
#include "recommender/training/training_common.h"

namespace abrec {
namespace {

using json = nlohmann::ordered_json;

struct Shown {
  std::size_t customer = 0, product = 0;
  float weight = 1;
  bool click = false, bind = false;
};

struct Logged {
  std::vector<CustomerProfile> customers;
  std::vector<std::string> ids;
  std::vector<Shown> rows;
  std::int64_t exposures = 0;
};

// The exposures /v1/recommend logged, and the clicks and binds naming their requests.
Result<Logged> ReadLog(const Catalog& catalog, const std::string& path, const Clock& clock) {
  Logged log;
  std::map<std::string, std::size_t> index;
  const int year = std::stoi(FormatRfc3339(clock.NowMicros()).substr(0, 4));
  auto ok = ForEachLoggedList(path, [&](const LoggedList& list) {
    const auto features = json::parse(list.features_json, nullptr, false);
    const auto items = json::parse(list.items_json, nullptr, false);
    if (!features.is_object() || !features.contains("attributes") || !items.is_array()) return;
    auto profile = ProfileFromAttributes(features["attributes"], catalog, year);
    if (!profile) return;
    auto [it, added] = index.try_emplace(list.user_id, log.customers.size());
    if (added) {
      log.customers.push_back(std::move(*profile));
      log.ids.push_back(list.user_id);
    } else {
      log.customers[it->second] = std::move(*profile);  // the latest attributes
    }
    ++log.exposures;
    for (const auto& item : items) {
      const auto product = catalog.IndexOf(item.value("product_id", ""));
      const double propensity = item.value("propensity", 1.0);
      if (!product || !(propensity > 0)) continue;
      const std::string& id = catalog.products[*product].id;
      log.rows.push_back({it->second, *product, static_cast<float>(1.0 / propensity),
                          list.clicked.count(id) > 0, list.bound.count(id) > 0});
    }
  });
  if (!ok) {
    Error e = ok.error();
    if (e.code == ErrorCode::kNotFound) e.field = "from-events";  // the option that named it
    return std::unexpected(std::move(e));
  }
  return log;
}

struct Split {
  std::vector<float> x, y, w;
  std::vector<std::string> sex, band;
  std::size_t rows() const { return y.size(); }
};

}  // namespace

Result<EventTrainReport> TrainFromEvents(const Catalog& catalog, const std::string& database,
                                         const EventTrainOptions& o, const std::string& out_dir,
                                         const std::function<void(const std::string&)>& progress) {
  const auto started = std::chrono::steady_clock::now();
  if (auto ok = RequireNewModelFolder(out_dir); !ok) return std::unexpected(ok.error());
  auto log = ReadLog(catalog, database, *o.clock);
  if (!log) return std::unexpected(log.error());
  if (log->rows.size() < o.min_rows) {
    return std::unexpected(Error{ErrorCode::kFailedPrecondition,
                                 fmt::format("{} holds {} logged impressions from /v1/recommend; "
                                             "at least {} are needed to train",
                                             database, log->rows.size(), o.min_rows),
                                 "from-events"});
  }
  EventTrainReport report;
  report.exposures = log->exposures;
  report.customers = static_cast<std::int64_t>(log->customers.size());
  // Held out by a hash of the id: the same customers whatever the order of the log.
  std::vector<int> role(log->customers.size());  // 0 train, 1 calibration, 2 test
  for (std::size_t u = 0; u < log->customers.size(); ++u) {
    const double h =
        static_cast<double>(std::stoull(Fingerprint(log->ids[u]).substr(0, 8), nullptr, 16)) /
        4294967296.0;
    role[u] = h < 0.2 ? 2 : (h < 0.28 ? 1 : 0);
    report.test_customers += role[u] == 2;
  }
  std::vector<std::vector<std::uint32_t>> user_features;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> positives;
  for (std::size_t u = 0; u < log->customers.size(); ++u) {
    const CustomerProfile& c = log->customers[u];
    user_features.push_back(MfCustomerFeatures(c.View(SexInput::kHidden)));
    if (role[u] == 2) continue;
    for (std::size_t p = 0; p < c.holds.size(); ++p) {
      if (c.holds[p])
        positives.emplace_back(static_cast<std::uint32_t>(u), static_cast<std::uint32_t>(p));
    }
  }
  auto negative_ok = [&](std::uint32_t u, std::uint32_t j) {
    const CustomerProfile& c = log->customers[u];
    return !(j < c.holds.size() && c.holds[j]) && Eligible(catalog.products[j], c.age);
  };
  const HybridMf mf = TrainFactorisation(catalog, user_features, positives, negative_ok, o.mf);
  progress(fmt::format("factorisation: {} logged holdings of {} customers", positives.size(),
                       log->customers.size()));
  // Each customer's embedding once (a customer has many impressions).
  std::vector<Eigen::VectorXf> embedding;
  embedding.reserve(user_features.size());
  for (const auto& f : user_features) embedding.push_back(mf.UserEmbedding(f));
  // Rows per role: P(click) on every impression, P(bind | click) on the clicked ones.
  Split click[3], bind[3];
  for (const Shown& s : log->rows) {
    const CustomerProfile& c = log->customers[s.customer];
    const CustomerView view = c.View(SexInput::kHidden);
    std::vector<float> row;
    AppendFeatures(catalog, mf, view, embedding[s.customer], s.product, row);
    const int r = role[s.customer];
    const std::string sex(1, c.sex), band = c.AgeBand();
    auto add = [&](Split& to, bool label) {
      to.x.insert(to.x.end(), row.begin(), row.end());
      to.y.push_back(label ? 1.0f : 0.0f);
      to.w.push_back(s.weight);
      to.sex.push_back(sex);
      to.band.push_back(band);
    };
    add(click[r], s.click);
    report.rows += 1;
    report.exploration_rows += s.weight > 1.0f;
    report.clicks += s.click;
    if (!s.click) continue;
    add(bind[r], s.bind);
    report.binds += s.bind;
  }
  if (click[0].rows() == 0 || bind[0].rows() == 0 || bind[2].rows() == 0 || bind[1].rows() == 0) {
    return std::unexpected(Error{ErrorCode::kFailedPrecondition,
                                 "too few clicks in the log to train P(bind | click) and hold "
                                 "some out",
                                 "from-events"});
  }
  progress(
      fmt::format("impressions: {} ({} from exploration, weighted by 1/propensity), {} "
                  "clicks, {} binds",
                  report.rows, report.exploration_rows, report.clicks, report.binds));
  auto click_model =
      GbmModel::Train(click[0].x, click[0].rows(), kFeatureCount, click[0].y, o.gbm, click[0].w);
  if (!click_model) return std::unexpected(click_model.error());
  auto bind_model =
      GbmModel::Train(bind[0].x, bind[0].rows(), kFeatureCount, bind[0].y, o.gbm, bind[0].w);
  if (!bind_model) return std::unexpected(bind_model.error());
  auto predict = [](GbmModel& m, const Split& s) { return m.Predict(s.x, s.rows()); };
  auto click_cal = predict(*click_model, click[1]), bind_cal = predict(*bind_model, bind[1]);
  auto click_test = predict(*click_model, click[2]), bind_test = predict(*bind_model, bind[2]);
  for (const auto* r : {&click_cal, &bind_cal, &click_test, &bind_test}) {
    if (!*r) return std::unexpected(r->error());
  }
  auto click_platt = ChoosePlatt(*click_cal, click[1].y);
  auto bind_platt = ChoosePlatt(*bind_cal, bind[1].y);
  if (!click_platt) return std::unexpected(click_platt.error());
  if (!bind_platt) return std::unexpected(bind_platt.error());
  auto calibrated = [](const std::vector<float>& raw, const RecommenderModel::Platt& platt) {
    std::vector<double> out;
    for (const float p : raw) out.push_back(platt.Apply(p));
    return out;
  };
  const json metrics = {
      {"click", ProbabilityMetrics(calibrated(*click_test, click_platt->first), click[2].y,
                                   click[2].sex, click[2].band)},
      {"bind_given_click", ProbabilityMetrics(calibrated(*bind_test, bind_platt->first), bind[2].y,
                                              bind[2].sex, bind[2].band)}};
  report.click_auc = metrics["click"]["auc"].get<double>();
  report.bind_auc = metrics["bind_given_click"]["auc"].get<double>();

  auto folder = CreatePartialFolder(out_dir);
  if (!folder) return std::unexpected(folder.error());
  const std::string tmp = folder->first;
  report.version = folder->second;
  for (auto ok : {mf.Save(tmp + "/mf.bin"), click_model->Save(tmp + "/click.json"),
                  bind_model->Save(tmp + "/bind.json")}) {
    if (!ok) return std::unexpected(ok.error());
  }
  std::vector<CustomerProfile> holders;
  for (std::size_t u = 0; u < log->customers.size(); ++u) {
    if (role[u] != 2) holders.push_back(log->customers[u]);
  }
  std::ofstream(tmp + "/legacy_rules.json") << LegacyRulesJson(catalog, holders).dump(2) << "\n";
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const json meta{{"version", report.version},
                  {"kind", "catalog"},
                  {"created_at", FormatRfc3339(o.clock->NowMicros())},
                  {"catalog", CatalogIdsJson(catalog)},
                  {"data",
                   {{"format", "events"},
                    {"database", database},
                    {"exposures", report.exposures},
                    {"impressions", report.rows},
                    {"exploration_impressions", report.exploration_rows},
                    {"clicks", report.clicks},
                    {"binds", report.binds},
                    {"customers", report.customers},
                    {"weighting", "1/propensity of each logged impression"}}},
                  {"parameters",
                   {{"mf_dim", o.mf.dim},
                    {"mf_epochs", o.mf.epochs},
                    {"gbm_rounds", o.gbm.rounds},
                    {"gbm_max_depth", o.gbm.max_depth}}},
                  {"features", FeatureNamesJson()},
                  {"reads_sex", false},
                  {"objective", o.objective},
                  {"calibration", CalibrationJson(*click_platt, *bind_platt)},
                  {"evaluation",
                   {{"test_customers", report.test_customers},
                    {"probabilities", metrics},
                    {"click_auc", report.click_auc},
                    {"bind_auc", report.bind_auc}}},
                  {"training_seconds", report.seconds}};
  std::ofstream(tmp + "/metadata.json") << meta.dump(2) << "\n";
  // What serving will load must load.
  if (auto served = RecommenderModel::Load(tmp, catalog, {.scorer_copies = 1}); !served) {
    return std::unexpected(served.error());
  }
  if (auto ok = PublishModelFolder(tmp, out_dir); !ok) return std::unexpected(ok.error());
  return report;
}

}  // namespace abrec
