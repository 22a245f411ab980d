// abrec validate [--config FILE] FILE...
#include <algorithm>
#include <filesystem>
#include <tuple>

#include <fmt/format.h>

#include "experiments/experiment_reader.h"
#include "experiments/experiment_set.h"
#include "platform/platform_config.h"
#include "cli/args.h"
#include "cli/commands.h"

namespace abrec {

namespace {
constexpr const char* kHelp = R"(usage: abrec validate [--config FILE] FILE...

Checks experiment files (YAML, or the seed document's JSON form) and platform config files.
Every problem is printed as FILE:LINE:COL: field: message. Experiments are also checked
against each other (duplicate keys, overlapping namespaces on one surface) and their
surfaces against the platform config: --config, a config among FILEs, or config/abrec.yaml
when it exists. Exit status 0 when all files are valid, 1 otherwise.
)";
}  // namespace

int ValidateCommand(const CommandArgs& argv) {
  auto args = ParseCommandArgs("validate", argv, {"config"}, kHelp);
  if (!args) return args.error();
  if (args->positionals.empty()) {
    fmt::print(stderr, "abrec validate: give at least one file\n{}", kHelp);
    return 2;
  }
  Diagnostics problems;
  std::optional<PlatformConfig> config;
  std::string config_source;
  auto load_config = [&](const std::string& path) {
    auto c = LoadPlatformConfig(path);
    if (!c) {
      problems.insert(problems.end(), c.error().begin(), c.error().end());
    } else if (!config) {
      config = std::move(*c);
      config_source = path;
    }
  };
  if (const auto path = args->Get("config")) load_config(*path);

  std::vector<Experiment> experiments;
  for (const auto& path : args->positionals) {
    auto tree = ParseConfigFile(path, config ? config->parse_limits() : ParseLimits{});
    if (!tree) {
      problems.insert(problems.end(), tree.error().begin(), tree.error().end());
      continue;
    }
    if (LooksLikePlatformConfig(*tree)) {
      auto c = ReadPlatformConfig(*tree, path);
      if (!c) {
        problems.insert(problems.end(), c.error().begin(), c.error().end());
      } else if (!config) {
        config = std::move(*c);
        config_source = path;
      }
      continue;
    }
    auto e = ReadExperiment(*tree, path);
    if (!e) {
      problems.insert(problems.end(), e.error().begin(), e.error().end());
      continue;
    }
    experiments.push_back(std::move(*e));
  }
  if (!config && std::filesystem::exists(kDefaultConfig)) load_config(kDefaultConfig);

  std::vector<const Experiment*> accepted;
  for (auto& e : experiments) {
    if (config) {
      auto d = ResolveSurface(e, config->surface_settings());
      problems.insert(problems.end(), d.begin(), d.end());
    }
    auto d = CheckAgainstOthers(e, accepted);
    problems.insert(problems.end(), d.begin(), d.end());
    accepted.push_back(&e);
  }
  std::stable_sort(problems.begin(), problems.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
  });
  for (const auto& d : problems) fmt::print(stderr, "{}\n", d.ToString());
  if (!problems.empty()) {
    fmt::print(stderr, "{} problem{} in {} file{}\n", problems.size(),
               problems.size() == 1 ? "" : "s", args->positionals.size(),
               args->positionals.size() == 1 ? "" : "s");
    return 1;
  }
  fmt::print("ok: {} file{} valid{}\n", args->positionals.size(),
             args->positionals.size() == 1 ? "" : "s",
             config ? fmt::format(" (surfaces checked against {})", config_source) : "");
  return 0;
}

}  // namespace abrec
