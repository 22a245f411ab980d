// abrec assign --experiment KEY [--config FILE] [--format text|json] USER_ID...
#include <fmt/format.h>

#include "base/clock.h"
#include "cli/args.h"
#include "cli/command_config.h"
#include "cli/commands.h"
#include "platform/platform.h"
#include "platform/views.h"

namespace abrec {

namespace {
constexpr const char* kHelp =
    R"(usage: abrec assign --experiment KEY [--config FILE] [--format text|json] USER_ID...

Explains each user's bucket in experiment KEY: the three hash values, the ranges they were
compared with, and the rule that decided. --format json prints what GET /v1/assign returns.
The config defaults to config/abrec.yaml.
)";

std::string Ranges(const Experiment& e, const AssignmentSpec& spec) {
  std::string out;
  for (std::size_t i = 0; i < e.variants.size(); ++i) {
    out += fmt::format("{}{} [{:.4f}, {:.4f})", i ? ", " : "", e.variants[i].name,
                       spec.ranges()[i].start, spec.ranges()[i].end);
  }
  return out;
}

std::string RuleSentence(const AssignOutcome& o, const PopulationSplit& split) {
  const Experiment& e = o.experiment->def;
  const Decision& d = o.decision;
  const std::string cf = o.counterfactual_variant ? std::string(*o.counterfactual_variant) : "";
  switch (d.rule) {
    case AssignRule::kHoldout:
      return fmt::format(
          "the population hash is below {}: the permanent holdout (no "
          "recommendations); in the experiment as its holdout, it would have had {}",
          split.holdout, cf);
    case AssignRule::kExploration:
      return fmt::format(
          "the population hash is in [{}, {}): the exploration bucket (random "
          "products); in the experiment, it would have had {}",
          split.holdout, split.holdout + split.exploration, cf);
    case AssignRule::kVariantRange:
      return fmt::format("the experiment hash {:.4f} lies in {}'s range", d.experiment_hash,
                         o.bucket);
    case AssignRule::kRollout:
      return fmt::format("phase rollout: everyone in the namespace gets {}", e.RolloutVariant());
    case AssignRule::kOutsideNamespace:
      return fmt::format("the namespace hash {:.3f} is outside [{}, {}) of namespace {}",
                         d.namespace_hash.value_or(0), e.ns->start, e.ns->end, e.ns->name);
    case AssignRule::kOutsideCoverage:
      return fmt::format(
          "the experiment hash {:.4f} is outside every variant's range (coverage {})",
          d.experiment_hash, e.coverage);
    case AssignRule::kStopped: return "the experiment is stopped: nobody is enrolled";
  }
  return "";
}

void PrintExplanation(const std::string& user, const AssignOutcome& o, const Platform& platform) {
  const Experiment& e = o.experiment->def;
  const Decision& d = o.decision;
  const PopulationSplit& split = platform.config().population;
  fmt::print("user \"{}\" in experiment {} (phase {}, surface {})\n", user, e.key,
             PhaseName(e.phase), e.surface);
  fmt::print(
      "  population  hash_v2(\"{}\", user) = {:.4f}   holdout [0, {}), exploration [{}, {}), "
      "experiments [{}, 1) -> {}\n",
      platform.population().seed(), d.population_hash, split.holdout, split.holdout,
      split.holdout + split.exploration, split.holdout + split.exploration,
      PopulationBucketName(d.population));
  if (e.ns) {
    fmt::print("  namespace   hash_v1(\"__{}\", user) = {:.3f}   range [{}, {}) -> {}\n",
               e.ns->name, d.namespace_hash.value_or(0), e.ns->start, e.ns->end,
               d.in_namespace ? "inside" : "outside");
  } else {
    fmt::print("  namespace   none (every user of the surface is eligible)\n");
  }
  fmt::print("  experiment  hash_v2(\"{}\", user) = {:.4f}   {}\n", e.HashSeed(), d.experiment_hash,
             Ranges(e, o.experiment->spec));
  fmt::print("  bucket      {}   ({}: {})\n", o.bucket, AssignRuleName(d.rule),
             RuleSentence(o, split));
  fmt::print("  policy      {}{}\n", PolicyName(o.arm.policy),
             e.phase == Phase::kShadow && o.variant ? " (shadow: the assigned variant is computed "
                                                      "and logged, control is shown)"
                                                    : "");
}

}  // namespace

int AssignCommand(const CommandArgs& argv) {
  auto args = ParseCommandArgs("assign", argv, {"experiment", "config", "format"}, kHelp);
  if (!args) return args.error();
  const auto key = args->Get("experiment");
  const std::string format = args->Get("format").value_or("text");
  if (!key || args->positionals.empty() || (format != "text" && format != "json")) {
    fmt::print(stderr, "abrec assign: need --experiment KEY, --format text|json and USER_IDs\n{}",
               kHelp);
    return 2;
  }
  auto config = CommandConfig(*args);
  if (!config) return config.error();
  auto platform = ReadOnlyPlatform("assign", std::move(*config));
  if (!platform) return platform.error();
  for (const auto& d : (*platform)->experiments()->errors) {
    fmt::print(stderr, "warning: {}\n", d.ToString());
  }
  int status = 0;
  for (const auto& user : args->positionals) {
    auto o = (*platform)->Assign(user, *key);
    if (!o) {
      fmt::print(stderr, "abrec assign: {}: {}\n", o.error().field, o.error().message);
      status = 1;
      continue;
    }
    if (format == "json") {
      fmt::print("{}\n", AssignView(user, *o).dump());
    } else {
      PrintExplanation(user, *o, **platform);
    }
  }
  return status;
}

}  // namespace abrec
