// abrec simulate aa|power|srm [options] [--format text|json]
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/simulate_decisions.h"
#include "sim/scenario.h"
#include "sim/studies.h"

namespace abrec {
namespace {

constexpr const char* kHelp = R"(usage: abrec simulate STUDY [options] [--format text|json]

Simulation studies of the statistics engine on experiments whose truth is known (seeded:
the same options print the same table).

  aa     A/A experiments read at every look exactly as the report reads them (the same
         functions, from bucket totals to decision.code): the share of runs ever decided
         ship, clickbait or stop_guardrail (every one is wrong: nothing changes), and each
         decision code's rate over the run and by look, with standard errors.
  power  the same with a true relative effect on the primary metric in the first treatment:
         how often, and how early, the report ships it.
         Both: --variants N treatments (1..5, default 1) --looks L (100) --users-per-look U
         (400, the arms' users per look) --metric bind_rate|click_rate|binds_per_user|
         premium_per_user|revenue_per_user (bind_rate) --effect E or E1,E2,... (power:
         0.02,0.05,0.1) --runs N (2000) --analysis sequential|fixed (fixed decides at
         --planned-users, default the users of all looks but one) --guardrail LIMIT|none
         (bind rate, -0.02)
         --non-inferiority MARGIN (a bind-rate non-inferiority guardrail) --cap Q (winsorise
         premium and revenue at the Q quantile) --experiment FILE (an experiment's own
         definition instead) --base-rate P (bind rate, 0.04) --click-rate P (0.08)
         --premium-sigma S (lognormal premium, 1) --covariates yes|no --threads N
         power only: --size-for-mde M (as many users as `abrec plan` asks for to detect a
         relative M with 80% power, measured on the study's world, over the looks)
  srm    detection of a loss of exposures in one arm by the sample ratio tests, and their
         false alarms without a loss, with the users arriving over daily looks: Pearson's
         chi-squared at the end only (against its closed form, non-central chi-squared) and
         peeked at every look, and the anytime-valid Dirichlet-multinomial test (Lindon and
         Malek; concentration 10000) at every look.
         --totals A,B,... (10000,100000,1000000,5000000) --loss L (0.01)
         --threshold T (0.001) --looks L (30) --simulations N (1000)

  scenario FILE  a closed-loop scenario (config/scenarios/*.yaml): customers of the seeded
         ground-truth world visit the in-process platform day by day, are assigned, see the
         arm's list, click and bind with the world's probabilities; the scenario's steps train
         models, put experiments, move phases (through the gate) and check the report's
         decision and intervals against the truth. A progress line per day on stderr; exit
         status 1 when a check fails.
         --dir DIR (a new folder for the database, experiments and models; default a
         temporary one, removed) --config FILE (config/abrec.yaml: catalog, ranking, gate)
         --url http://HOST:PORT drives a running `abrec serve` instead, through its API
         (/v1/recommend, /v1/events, the admin PUT, phase and model reload, the report);
         --config is then that service's config (its model folder and admin token are used)
         and the days pass in real time (the service stamps the events)

Common: --alpha A (0.05) --tuning-n N (5000, the sequential test's N*) --seed S.
)";

double Num(const Args& a, const char* name, double fallback, double low, double high) {
  return NumberOption(a, name, low, high).value_or(fallback);
}

template <typename T>
std::vector<T> List(const Args& a, const char* name, std::vector<T> fallback, double low,
                    double high) {
  const auto v = NumberListOption(a, name, low, high);
  if (!v) return fallback;
  return std::vector<T>(v->begin(), v->end());
}

int Srm(const Args& a, bool json) {
  sim::SrmOptions o;
  o.totals = List<std::int64_t>(a, "totals", o.totals, 10, 1e11);
  o.loss = Num(a, "loss", o.loss, 0, 0.99);
  o.threshold = Num(a, "threshold", o.threshold, 1e-12, 0.5);
  o.looks = static_cast<int>(Num(a, "looks", o.looks, 1, 1e5));
  o.simulations = static_cast<int>(Num(a, "simulations", o.simulations, 1, 1e7));
  o.seed = static_cast<std::uint64_t>(Num(a, "seed", static_cast<double>(o.seed), 0, 9e15));
  const auto rows = sim::RunSrm(o);
  if (json) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto& r : rows) {
      list.push_back({{"total", r.total},
                      {"closed_form", r.closed_form},
                      {"detected", r.detected},
                      {"false_alarm", r.false_alarm},
                      {"detected_peeking", r.detected_peeking},
                      {"false_alarm_peeking", r.false_alarm_peeking},
                      {"detected_sequential", r.detected_sequential},
                      {"false_alarm_sequential", r.false_alarm_sequential},
                      {"sequential_median_fraction", r.sequential_median_fraction}});
    }
    fmt::print("{}\n", nlohmann::ordered_json{{"loss", o.loss},
                                              {"threshold", o.threshold},
                                              {"simulations", o.simulations},
                                              {"looks", o.looks},
                                              {"concentration", o.concentration},
                                              {"rows", list}}
                           .dump());
    return 0;
  }
  fmt::print(
      "SRM: treatment loses {:g}% of its exposures; buckets 5/5/45/45%; threshold {:g}; "
      "{} simulations; {} looks up to each total\n",
      100 * o.loss, o.threshold, o.simulations, o.looks);
  fmt::print(
      "               detected with the loss                                false alarms without "
      "it\n"
      "  users        chi2 end (closed form)  peeked  sequential (median)  chi2 end  peeked  "
      "sequential\n");
  for (const auto& r : rows) {
    fmt::print(
        "  {:>11}  {:.3f}    ({:.3f})        {:.3f}   {:.3f}      ({:3.0f}%)  {:.4f}    {:.4f}  "
        "{:.4f}\n",
        r.total, r.detected, r.closed_form, r.detected_peeking, r.detected_sequential,
        100 * r.sequential_median_fraction, r.false_alarm, r.false_alarm_peeking,
        r.false_alarm_sequential);
  }
  fmt::print(
      "  peeked: at every look; sequential: anytime valid (its false alarms stay under the "
      "threshold however often it is read), median: share of the users seen at its first "
      "alarm\n");
  return 0;
}

int Scenario(const Args& a, bool json) {
  namespace fs = std::filesystem;
  const std::string file = a.positionals.size() == 2 ? a.positionals[1] : "";
  if (file.empty()) {
    fmt::print(stderr, "abrec simulate scenario: give the scenario FILE\n");
    return 2;
  }
  auto scenario = sim::LoadScenario(file, ParseLimits{});
  if (!scenario) {
    for (const auto& d : scenario.error()) fmt::print(stderr, "{}\n", d.ToString());
    return 1;
  }
  sim::ScenarioOptions o;
  o.config = a.Get("config").value_or("config/abrec.yaml");
  o.url = a.Get("url").value_or("");
  if (!o.url.empty() && a.Get("dir")) {
    fmt::print(stderr, "abrec simulate scenario: --dir goes with the in-process mode, not --url\n");
    return 2;
  }
  if (a.Get("seed")) o.seed = static_cast<std::uint64_t>(Num(a, "seed", 0, 0, 9e15));
  const bool temporary = !a.Get("dir") && o.url.empty();
  // Over --url the service owns its folder: no workspace (and no --dir to read).
  o.workspace = temporary ? (fs::temp_directory_path() /
                             fmt::format("abrec-scenario-{}-{}", scenario->name, ::getpid()))
                                .string()
                          : a.Get("dir").value_or("");
  o.progress = [](const std::string& line) { fmt::print(stderr, "{}\n", line); };
  auto result = sim::RunScenario(*scenario, o);
  if (temporary) {
    std::error_code ec;
    fs::remove_all(o.workspace, ec);
  }
  if (!result) {
    fmt::print(stderr, "abrec simulate scenario: {}: {}\n", result.error().field,
               result.error().message);
    return 1;
  }
  const bool ok = (*result)["ok"].get<bool>();
  if (json) {
    fmt::print("{}\n", result->dump(2));
  } else {
    fmt::print("scenario {} (seed {}): {}\n", scenario->name,
               (*result)["seed"].get<std::uint64_t>(),
               ok ? "every check passed" : "A CHECK FAILED");
    for (const auto& step : (*result)["steps"]) {
      if (step["step"] != "check") continue;
      fmt::print("  {} {} ({}): decision {}{}\n", step["day"].get<std::string>(),
                 step["experiment"].get<std::string>(), step["phase"].get<std::string>(),
                 step["decision"].get<std::string>(), step["ok"].get<bool>() ? "" : "  FAILED");
      if (step.contains("uplift_vs_holdout") &&
          step["uplift_vs_holdout"]["absolute"].contains("ci")) {
        const auto& u = step["uplift_vs_holdout"]["absolute"];
        fmt::print("      program vs holdout, {}: {:+.4f} [{:+.4f}, {:+.4f}]\n",
                   step["uplift_vs_holdout"]["metric"].get<std::string>(),
                   u["estimate"].get<double>(), u["ci"][0].get<double>(), u["ci"][1].get<double>());
      }
      for (const auto& t : step["truth"]) {
        fmt::print("      {} {}: true effect {:+.4f}, estimate {:+.4f} [{:+.4f}, {:+.4f}] {}\n",
                   t["metric"].get<std::string>(), t["variant"].get<std::string>(),
                   t["true_effect"].get<double>(), t["estimate"].get<double>(),
                   t["ci"][0].get<double>(), t["ci"][1].get<double>(),
                   t["covered"].get<bool>() ? "covered" : "MISSED");
      }
    }
  }
  return ok ? 0 : 1;
}

}  // namespace

int SimulateCommand(const CommandArgs& argv) {
  auto args = ParseCommandArgs(
      "simulate", argv,
      [] {
        std::set<std::string> names{"totals", "loss",   "threshold", "format",
                                    "dir",    "config", "url"};
        for (const char* name : kDecisionStudyOptions) names.insert(name);
        return names;
      }(),
      kHelp);
  if (!args) return args.error();
  const std::string format = args->Get("format").value_or("text");
  const bool scenario = !args->positionals.empty() && args->positionals[0] == "scenario";
  if (args->positionals.size() != (scenario ? 2u : 1u) || (format != "text" && format != "json")) {
    fmt::print(stderr,
               "abrec simulate: give one STUDY (aa, power, srm, or scenario FILE) and --format "
               "text|json\n{}",
               kHelp);
    return 2;
  }
  const std::string& study = args->positionals[0];
  try {
    if (study == "aa") return SimulateAa(*args, format == "json");
    if (study == "power") return SimulatePower(*args, format == "json");
    if (study == "srm") return Srm(*args, format == "json");
    if (scenario) return Scenario(*args, format == "json");
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "abrec simulate {}: {}\n", study, e.what());
    return 2;
  }
  fmt::print(stderr, "abrec simulate: unknown study \"{}\" (aa, power, srm, scenario)\n{}", study,
             kHelp);
  return 2;
}

}  // namespace abrec
