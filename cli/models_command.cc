// abrec models list [--config FILE] [--format text|json]: the registry's model versions.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "platform/platform_config.h"
#include "recommender/serving/model_registry.h"
#include "cli/args.h"
#include "cli/command_config.h"
#include "cli/commands.h"

namespace abrec {
namespace {

constexpr const char* kHelp = R"(usage: abrec models list [--config FILE] [--format text|json]

Lists the model versions in recommender.model_dir (MODEL_DIR/NAME/VERSION folders): which
one is live (named in NAME/LIVE, else the newest by created_at), when each was trained, on
what data, and its offline evaluation. The service loads the live version of every name and
hot-swaps it when it changes (or on POST /v1/models/reload).
)";

double Metric(const nlohmann::json& meta, const char* name) {
  const auto e = meta.find("evaluation");
  if (e == meta.end() || !e->is_object() || !e->contains(name) || !(*e)[name].is_number()) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return (*e)[name].get<double>();
}

}  // namespace

int ModelsCommand(const CommandArgs& argv) {
  auto args = ParseCommandArgs("models", argv, {"config", "format"}, kHelp);
  if (!args) return args.error();
  const std::string format = args->Get("format").value_or("text");
  if (args->positionals != std::vector<std::string>{"list"} ||
      (format != "text" && format != "json")) {
    fmt::print(stderr, "abrec models: give `list` and --format text|json\n{}", kHelp);
    return 2;
  }
  auto config = CommandConfig(*args);
  if (!config) return config.error();
  const auto versions = ScanModelDir(config->recommender.model_dir);
  if (format == "json") {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto& v : versions) {
      list.push_back({{"name", v.name},
                      {"version", v.version},
                      {"live", v.live},
                      {"created_at", v.created_at},
                      {"dir", v.dir},
                      {"error", v.error.empty() ? nlohmann::ordered_json(nullptr)
                                                : nlohmann::ordered_json(v.error)},
                      {"metadata", nlohmann::ordered_json::parse(v.metadata_json)}});
    }
    fmt::print("{}\n", nlohmann::ordered_json{{"model_dir", config->recommender.model_dir},
                                              {"models", std::move(list)}}
                           .dump(2));
    return 0;
  }
  if (versions.empty()) {
    fmt::print("no models in {} (train one: abrec train --format synthetic --out {}/{}/v1)\n",
               config->recommender.model_dir, config->recommender.model_dir,
               config->recommender.default_model);
    return 0;
  }
  fmt::print("{:<12} {:<24} {:<4} {:<27} {:>9} {:>9}  {}\n", "NAME", "VERSION", "LIVE", "CREATED",
             "CLICK AUC", "BIND AUC", "NOTE");
  for (const auto& v : versions) {
    const auto meta = nlohmann::json::parse(v.metadata_json, nullptr, false);
    fmt::print("{:<12} {:<24} {:<4} {:<27} {:>9.3f} {:>9.3f}  {}\n", v.name, v.version,
               v.live ? "*" : "", v.created_at, Metric(meta, "click_auc"), Metric(meta, "bind_auc"),
               v.error);
  }
  return 0;
}

}  // namespace abrec
