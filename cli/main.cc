// The `abrec` binary: dispatches to the subcommands in cli/.
#include <cstdio>
#include <string_view>

#include "cli/commands.h"

namespace {

constexpr const char* kUsage = R"(abrec: A/B experiments on an insurance product recommender

usage: abrec COMMAND [ARGS]   (abrec COMMAND --help for each)

commands:
  serve --config FILE        run the HTTP service
  validate FILE...           check experiment and config files
  hash --seed S [--version 1|2] ID...
                             GrowthBook-compatible hash values, one line per id
  assign --experiment KEY USER_ID...
                             explain each user's bucket in an experiment
  backup PATH                online copy of the event database
  plan KEY                   users and days an experiment needs for its MDE
  report KEY [--format json|text]
                             the analyst's report: lifts, SRM, guardrails, uplift, decision
  simulate aa|power|srm      simulation studies of the statistics engine
  train --format synthetic|zimnat|coil|csv --out DIR [--data FILE]
                             train the recommender's models
  models list                the model registry: versions, which is live, their evaluation
  gate --candidate DIR --baseline DIR
                             refuse a model that is less fair or breaks eligibility rules
  precompute                 write each known customer's top candidates to the cache
  recommend --model DIR --input FILE --format zimnat|coil|csv --output FILE
                             score a portfolio file with a trained portfolio model
  keys create|list|revoke    API keys of the HTTP API (scopes serve, read, admin)
)";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string_view cmd = argv[1];
  const abrec::CommandArgs rest(argv + 2, argv + argc);
  if (cmd == "serve") return abrec::ServeCommand(rest);
  if (cmd == "validate") return abrec::ValidateCommand(rest);
  if (cmd == "hash") return abrec::HashCommand(rest);
  if (cmd == "assign") return abrec::AssignCommand(rest);
  if (cmd == "backup") return abrec::BackupCommand(rest);
  if (cmd == "plan") return abrec::PlanCommand(rest);
  if (cmd == "report") return abrec::ReportCommand(rest);
  if (cmd == "simulate") return abrec::SimulateCommand(rest);
  if (cmd == "train") return abrec::TrainCommand(rest);
  if (cmd == "recommend") return abrec::RecommendCommand(rest);
  if (cmd == "models") return abrec::ModelsCommand(rest);
  if (cmd == "precompute") return abrec::PrecomputeCommand(rest);
  if (cmd == "gate") return abrec::GateCommand(rest);
  if (cmd == "keys") return abrec::KeysCommand(rest);
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fprintf(stderr, "abrec: unknown command \"%s\"\n\n%s", argv[1], kUsage);
  return 2;
}
