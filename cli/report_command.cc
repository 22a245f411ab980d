// abrec report KEY [--config FILE] [--format json|text|html]
#include <filesystem>

#include <fmt/format.h>

#include "base/clock.h"
#include "dashboards/html.h"
#include "dashboards/report.h"
#include "eventstore/open_store.h"
#include "cli/args.h"
#include "cli/command_config.h"
#include "cli/commands.h"
#include "platform/platform.h"

namespace abrec {
namespace {

constexpr const char* kHelp = R"(usage: abrec report KEY [--config FILE] [--format json|text|html]

The analyst's report of experiment KEY, from the event database of the config (default
config/abrec.yaml), read-only: safe while the service runs. --format json (default text)
prints exactly what GET /v1/experiments/KEY/report answers: bucket sizes and the sample
ratio test, each metric of each variant against control (fixed-horizon and always-valid
intervals and p-values, CUPED when covariates were posted, Holm-adjusted p-values for the
secondary metrics), guardrails, uplift of each arm and of the whole program against the
holdout, the daily history of the primary metric's lift, and the decision with its
reasons. --format html writes the page the service serves at /dashboards/KEY (one file,
no external script or style). Exit status 0 whatever the decision; 1 when the report cannot
be made.
)";

}  // namespace

int ReportCommand(const CommandArgs& argv) {
  auto args = ParseCommandArgs("report", argv, {"config", "format"}, kHelp);
  if (!args) return args.error();
  const std::string format = args->Get("format").value_or("text");
  if (args->positionals.size() != 1 || (format != "text" && format != "json" && format != "html")) {
    fmt::print(stderr, "abrec report: give one experiment KEY and --format json|text|html\n{}",
               kHelp);
    return 2;
  }
  const std::string& key = args->positionals[0];
  auto config = CommandConfig(*args);
  if (!config) return config.error();
  const std::string db_path = config->storage.path;
  auto platform = ReadOnlyPlatform("report", std::move(*config));
  if (!platform) return platform.error();
  const auto experiment = (*platform)->experiments()->Find(key);
  if (!experiment) {
    fmt::print(stderr, "abrec report: no experiment \"{}\"\n", key);
    return 1;
  }
  std::error_code ec;
  if (!std::filesystem::exists(db_path, ec)) {
    fmt::print(stderr, "abrec report: no database at {} (storage.path): nothing logged yet\n",
               db_path);
    return 1;
  }
  auto source = OpenAggregateReader(db_path);
  if (!source) {
    fmt::print(stderr, "abrec report: {}\n", source.error().message);
    return 1;
  }
  const auto report = ReportFrom(**source, experiment->def, (*platform)->population().split(),
                                 SystemClock::Instance().NowMicros());
  if (!report) {
    fmt::print(stderr, "abrec report: {}: {}\n", db_path, report.error().message);
    return 1;
  }
  if (format == "json") {
    fmt::print("{}\n", report->dump());
  } else if (format == "html") {
    fmt::print("{}", RenderReportHtml(*report));
  } else {
    fmt::print("{}", RenderReportText(*report));
  }
  return 0;
}

}  // namespace abrec
