// PortfolioModel::Save and Load: the model folder of portfolio_model.h (mf.bin, ranker.json,
// metadata.json). The only file of the model that calls nlohmann/json.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "recommender/portfolio/portfolio_model.h"
#include "recommender/portfolio/portfolio_model_state.h"

namespace abrec {
namespace {

using portfolio_model::AttributeKind;
using portfolio_model::State;

std::string_view KindName(AttributeKind k) {
  switch (k) {
    case AttributeKind::kNumeric: return "numeric";
    case AttributeKind::kDate: return "date";
    case AttributeKind::kCategorical: return "categorical";
  }
  return "?";
}

AttributeKind KindNamed(const std::string& name) {
  return name == "numeric" ? AttributeKind::kNumeric
         : name == "date"  ? AttributeKind::kDate
                           : AttributeKind::kCategorical;
}

nlohmann::ordered_json MetricsJson(const HideOneMetrics& m) {
  auto number = [](double v) -> nlohmann::ordered_json {
    return std::isnan(v) ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(v);
  };
  return {{"cases", m.cases},
          {"hit_at_1", m.hit1},
          {"hit_at_3", m.hit3},
          {"ndcg_at_5", m.ndcg5},
          {"auc", number(m.auc)},
          {"log_loss", number(m.log_loss)},
          {"ece_before_calibration", number(m.ece_raw)},
          {"ece_after_calibration", number(m.ece)}};
}

Error Io(const std::string& what) { return Error{ErrorCode::kIo, what, "model"}; }

// metadata.json's object; the field order is the file's.
nlohmann::ordered_json Metadata(const State& s, const std::string& version,
                                const ModelRecord& record) {
  using Json = nlohmann::ordered_json;
  Json vocabulary = Json::array();
  for (std::size_t a = 0; a < s.attributes.size(); ++a) {
    vocabulary.push_back({{"attribute", s.attributes[a]},
                          {"kind", KindName(s.kinds[a])},
                          {"values", s.vocabulary[a]}});
  }
  Json by_group = Json::object();
  for (const auto& [group, m] : record.evaluation.by_group) by_group[group] = MetricsJson(m);
  Json evaluation = MetricsJson(record.evaluation.all);
  evaluation["by_group"] = by_group;
  const PortfolioModelOptions& o = s.options;
  return {
      {"kind", "portfolio"},
      {"version", version},
      {"data",
       {{"format", record.format}, {"file", record.data_path}, {"customers", record.customers}}},
      {"products", s.products},
      {"vocabulary", vocabulary},
      {"features", s.feature_names},
      {"parameters",
       {{"seed", o.seed},
        {"rows", o.rows == TrainingRows::kLeaveEachOut ? "leave_each_out" : "hide_each_held"},
        {"mf_features", o.mf_features},
        {"mf_dim", o.mf.dim},
        {"mf_epochs", o.mf.epochs},
        {"gbm_rounds", o.gbm.rounds},
        {"gbm_max_depth", o.gbm.max_depth},
        {"gbm_eta", o.gbm.eta},
        {"calibration_share", o.calibration_share},
        {"min_value_count", o.min_value_count},
        {"prior_weight", o.prior_weight},
        {"fit_customers", s.fit_customers},
        {"calibration_customers", s.calibration_customers}}},
      {"calibration", {{"method", "platt"}, {"a", s.platt_a}, {"b", s.platt_b}}},
      {"statistics",
       {{"popularity", s.popularity},
        {"conditional", s.conditional},
        {"attribute_rates", s.value_rate}}},
      {"evaluation", evaluation},
      {"training_seconds", record.seconds}};
}

// Reads metadata.json's object into `s`: the vocabulary, the options, the calibration and the
// statistics. Its errors say what is wrong, for "not a portfolio model: ...";
// nlohmann::json::exception when a field is missing or of the wrong type.
std::optional<std::string> ReadMetadata(const nlohmann::json& j, State& s) {
  if (j.value("kind", "") != "portfolio") return "\"kind\" is not \"portfolio\"";
  s.products = j.at("products").get<std::vector<std::string>>();
  const std::size_t n = s.products.size();
  for (const auto& v : j.at("vocabulary")) {
    s.attributes.push_back(v.at("attribute").get<std::string>());
    s.kinds.push_back(KindNamed(v.at("kind").get<std::string>()));
    s.vocabulary.push_back(v.at("values").get<std::vector<std::string>>());
    auto& codes = s.codes.emplace_back();
    for (std::size_t i = 0; i < s.vocabulary.back().size(); ++i) {
      codes[s.vocabulary.back()[i]] = static_cast<int>(i);
    }
  }
  const auto& p = j.at("parameters");
  s.options.seed = p.at("seed").get<std::uint64_t>();
  s.options.mf_features = p.at("mf_features").get<bool>();
  s.options.rows =
      p.at("rows") == "hide_each_held" ? TrainingRows::kHideEachHeld : TrainingRows::kLeaveEachOut;
  s.options.mf.dim = p.at("mf_dim").get<int>();
  s.options.mf.epochs = p.at("mf_epochs").get<int>();
  s.options.gbm.rounds = p.at("gbm_rounds").get<int>();
  s.options.gbm.max_depth = p.at("gbm_max_depth").get<int>();
  s.options.gbm.eta = p.at("gbm_eta").get<double>();
  s.options.calibration_share = p.at("calibration_share").get<double>();
  s.options.min_value_count = p.at("min_value_count").get<int>();
  s.options.prior_weight = p.at("prior_weight").get<double>();
  s.fit_customers = p.at("fit_customers").get<long>();
  s.calibration_customers = p.at("calibration_customers").get<long>();
  s.platt_a = j.at("calibration").at("a").get<double>();
  s.platt_b = j.at("calibration").at("b").get<double>();
  const auto& st = j.at("statistics");
  s.popularity = st.at("popularity").get<std::vector<double>>();
  s.conditional = st.at("conditional").get<std::vector<std::vector<double>>>();
  s.value_rate = st.at("attribute_rates").get<std::vector<std::vector<std::vector<double>>>>();
  bool sizes = s.popularity.size() == n && s.conditional.size() == n &&
               s.value_rate.size() == s.attributes.size();
  for (const auto& row : s.conditional) sizes = sizes && row.size() == n;
  for (std::size_t a = 0; sizes && a < s.value_rate.size(); ++a) {
    sizes = s.value_rate[a].size() == s.vocabulary[a].size();
    for (const auto& rates : s.value_rate[a]) sizes = sizes && rates.size() == n;
  }
  if (!sizes) return "the statistics do not match the products and the vocabulary";
  return std::nullopt;
}

}  // namespace

Result<void> PortfolioModel::Save(const std::string& dir, const ModelRecord& record) const {
  namespace fs = std::filesystem;
  const State& s = *s_;
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("{} exists: choose a new folder for the model", dir), "out"));
  }
  const std::string tmp = dir + ".partial";
  fs::remove_all(tmp, ec);
  if (!fs::create_directories(tmp, ec)) return std::unexpected(Io("cannot create " + tmp));
  if (s.mf) {
    if (auto ok = s.mf->Save(tmp + "/mf.bin"); !ok) return ok;
  }
  if (auto ok = s.ranker->Save(tmp + "/ranker.json"); !ok) return ok;
  std::ofstream out(tmp + "/metadata.json");
  out << Metadata(s, version(), record).dump(2) << "\n";
  out.close();
  if (!out) return std::unexpected(Io("cannot write " + tmp + "/metadata.json"));
  fs::rename(tmp, dir, ec);
  if (ec) return std::unexpected(Io(fmt::format("cannot rename {} to {}", tmp, dir)));
  return {};
}

Result<PortfolioModel> PortfolioModel::Load(const std::string& dir) {
  const std::string path = dir + "/metadata.json";
  std::ifstream in(path);
  if (!in) return std::unexpected(Io("cannot read " + path));
  auto state = std::make_unique<State>();
  State& s = *state;
  auto bad = [&](const std::string& why) {
    return std::unexpected(
        Error::InvalidArgument(fmt::format("{}: not a portfolio model: {}", path, why), "model"));
  };
  try {
    if (const auto why = ReadMetadata(nlohmann::json::parse(in), s)) return bad(*why);
  } catch (const nlohmann::json::exception& e) {
    return bad(e.what());
  }
  s.Layout();
  if (s.options.mf_features) {
    auto mf = HybridMf::Load(dir + "/mf.bin");
    if (!mf) return std::unexpected(mf.error());
    if (static_cast<std::size_t>(mf->item_embeddings().rows()) != s.products.size()) {
      return bad("mf.bin does not have one row per product");
    }
    s.mf = *std::move(mf);
  }
  auto ranker = GbmModel::Load(dir + "/ranker.json");
  if (!ranker) return std::unexpected(ranker.error());
  if (ranker->cols() != s.feature_names.size()) {
    return bad(fmt::format("ranker.json takes {} features, the metadata names {}", ranker->cols(),
                           s.feature_names.size()));
  }
  s.ranker = *std::move(ranker);
  return PortfolioModel(std::move(state));
}

}  // namespace abrec
