#include "cli/simulate_decisions.h"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "experiments/experiment_reader.h"
#include "analysis/metric_analysis.h"
#include "sim/decision_study.h"

namespace abrec {
namespace {

using json = nlohmann::ordered_json;

double Num(const Args& a, const char* name, double fallback, double low, double high) {
  return NumberOption(a, name, low, high).value_or(fallback);
}

std::string OneOf(const Args& a, const char* name, std::string fallback,
                  std::initializer_list<std::string_view> allowed) {
  const auto v = a.Get(name);
  if (!v) return fallback;
  for (std::string_view ok : allowed) {
    if (*v == ok) return *v;
  }
  std::string list;
  for (std::string_view ok : allowed) list += (list.empty() ? "" : ", ") + std::string(ok);
  throw std::invalid_argument(fmt::format("--{} must be one of {}, got \"{}\"", name, list, *v));
}

// --effect E or E1,E2,... (--lifts, the older name, too).
std::vector<double> Lifts(const Args& a, std::vector<double> fallback) {
  const char* name = a.Get("lifts") ? "lifts" : "effect";
  return NumberListOption(a, name, -0.99, 10).value_or(std::move(fallback));
}

// The study from the options: the experiment (from --experiment FILE, or built), the world
// and the run settings.
sim::DecisionStudyOptions Options(const Args& a) {
  sim::DecisionStudyOptions o;
  const std::string metric =
      OneOf(a, "metric", "bind_rate",
            {"bind_rate", "click_rate", "binds_per_user", "premium_per_user", "revenue_per_user"});
  if (const auto file = a.Get("experiment")) {
    auto loaded = LoadExperimentFile(*file, ParseLimits{});
    if (!loaded) {
      std::string message;
      for (const auto& d : loaded.error()) message += "\n" + d.ToString();
      throw std::invalid_argument(fmt::format("--experiment {} is not valid:{}", *file, message));
    }
    o.experiment = std::move(*loaded);
    o.experiment.phase = Phase::kAbTest;
  } else {
    const int variants = static_cast<int>(Num(a, "variants", 1, 1, 5));
    o.experiment = sim::StudyExperiment(variants, metric);
    const auto guardrail = a.Get("guardrail");
    if (guardrail && *guardrail == "none") {
      o.experiment.metrics.guardrails.clear();
    } else if (guardrail) {
      o.experiment.metrics.guardrails[0].min_relative_change = Num(a, "guardrail", -0.02, -1, 0);
    }
    if (const auto margin = NumberOption(a, "non-inferiority", 1e-6, 1)) {
      Guardrail g;
      g.metric = "bind_rate";
      g.type = GuardrailType::kNonInferiority;
      g.min_relative_change = -*margin;
      o.experiment.metrics.guardrails.push_back(g);
    }
  }
  AnalysisSpec& an = o.experiment.analysis;
  an.alpha = Num(a, "alpha", an.alpha, 1e-6, 0.5);
  an.tuning_n = Num(a, "tuning-n", an.tuning_n, 1, 1e12);
  an.sequential = OneOf(a, "analysis", an.sequential ? "sequential" : "fixed",
                        {"sequential", "fixed"}) == "sequential";
  an.premium_cap_quantile = Num(a, "cap", an.premium_cap_quantile, 0, 1);
  o.looks = static_cast<int>(Num(a, "looks", o.looks, 1, 1e5));
  o.users_per_look = static_cast<int>(Num(a, "users-per-look", o.users_per_look, 2, 1e8));
  // A fixed horizon decides by default at the start of the last look (every run reaches it:
  // the arms' users per look are random).
  an.planned_users = static_cast<std::int64_t>(
      Num(a, "planned-users",
          an.planned_users > 0 ? static_cast<double>(an.planned_users)
                               : static_cast<double>(o.looks - 1) * o.users_per_look,
          1, 1e12));
  o.runs = static_cast<int>(Num(a, "runs", Num(a, "simulations", o.runs, 1, 1e7), 1, 1e7));
  o.seed = static_cast<std::uint64_t>(Num(a, "seed", static_cast<double>(o.seed), 0, 9e15));
  o.threads = static_cast<int>(Num(a, "threads", 0, 0, 256));
  o.world.bind_rate = Num(a, "base-rate", o.world.bind_rate, 1e-4, 0.5);
  o.world.click_rate = Num(a, "click-rate", o.world.click_rate, 1e-4, 0.9);
  o.world.premium_sigma = Num(a, "premium-sigma", o.world.premium_sigma, 0, 4);
  o.world.covariates = OneOf(a, "covariates", "yes", {"yes", "no"}) == "yes";
  return o;
}

json RateJson(const sim::Rate& r) { return {{"rate", r.rate}, {"se", r.se}}; }

json StudyJson(const sim::DecisionStudyOptions& o, const sim::DecisionStudyResult& r) {
  json ever = json::object(), final_code = json::object();
  for (const auto& [code, rate] : r.ever) ever[code] = RateJson(rate);
  for (const auto& [code, rate] : r.final_code) final_code[code] = RateJson(rate);
  json looks = json::array();
  for (const sim::StudyLook& l : r.by_look) {
    // Binomial standard errors of the shares over the runs.
    json ever_se = json::object();
    for (const auto& [code, share] : l.ever) {
      ever_se[code] = std::sqrt(share * (1 - share) / r.runs);
    }
    looks.push_back({{"look", l.look},
                     {"arm_users", l.arm_users},
                     {"ever", l.ever},
                     {"ever_se", std::move(ever_se)},
                     {"at", l.at}});
  }
  const Experiment& e = o.experiment;
  return {{"treatments", static_cast<int>(e.variants.size()) - 1},
          {"metric", e.metrics.primary},
          {"analysis", e.analysis.sequential ? "sequential" : "fixed"},
          {"effect", o.effect},
          {"runs", r.runs},
          {"looks", r.looks},
          {"users_per_look", o.users_per_look},
          {"alpha", r.alpha},
          {"wrong_decision", RateJson(r.wrong)},
          {"ever", std::move(ever)},
          {"final", std::move(final_code)},
          {"shipped_effect", RateJson(r.shipped_effect)},
          {"median_users_fraction_at_ship", r.median_users_fraction},
          {"dropped_clickbait", RateJson(r.dropped_clickbait)},
          {"dropped_guardrail", RateJson(r.dropped_guardrail)},
          {"comparison",
           {{"fixed_horizon_peeking", r.fixed_peeking},
            {"fixed_horizon_final", r.fixed_final},
            {"delta_relative_sequential", r.delta_relative_sequential}}},
          {"by_look", std::move(looks)}};
}

void PrintSetting(const sim::DecisionStudyOptions& o) {
  const Experiment& e = o.experiment;
  std::string guardrails;
  for (const Guardrail& g : e.metrics.guardrails) {
    guardrails +=
        fmt::format("{}{} {} {:+g}", guardrails.empty() ? "" : ", ", g.metric,
                    g.type == GuardrailType::kNonInferiority ? "non-inferiority" : "limit",
                    g.min_relative_change.value_or(g.max_relative_change.value_or(0)));
  }
  fmt::print(
      "{} treatment(s) against control, primary {}, {} analysis (alpha {:g}, N* {:g}{}), "
      "guardrails: {}\n",
      e.variants.size() - 1, e.metrics.primary,
      e.analysis.sequential ? "sequential" : "fixed-horizon", e.analysis.alpha, e.analysis.tuning_n,
      e.analysis.sequential ? "" : fmt::format(", horizon {} users", e.analysis.planned_users),
      guardrails.empty() ? "none" : guardrails);
  fmt::print(
      "{} runs, a look after each of {} batches of {} users; world: bind rate {:g}, click rate "
      "{:g}, premium lognormal sigma {:g}, covariates {}{}\n",
      o.runs, o.looks, o.users_per_look, o.world.bind_rate, o.world.click_rate,
      o.world.premium_sigma, o.world.covariates ? "yes" : "no",
      e.analysis.premium_cap_quantile > 0
          ? fmt::format(", premium capped at its {:g} quantile", e.analysis.premium_cap_quantile)
          : "");
}

void PrintCodes(const sim::DecisionStudyResult& r) {
  fmt::print("  decision code      ever decided         at the last look\n");
  for (const auto& [code, rate] : r.ever) {
    fmt::print("  {:<17}  {:.4f} (se {:.4f})   {:.4f}\n", code, rate.rate, rate.se,
               r.final_code.at(code).rate);
  }
}

}  // namespace

int SimulateAa(const Args& a, bool as_json) {
  sim::DecisionStudyOptions o = Options(a);
  o.effect = 0;
  const sim::DecisionStudyResult r = sim::RunDecisionStudy(o);
  if (as_json) {
    json out{{"simulations", r.runs},
             {"looks", r.looks},
             {"alpha", r.alpha},
             {"fpr_sequential", r.wrong.rate},
             {"fpr_sequential_se", r.wrong.se},
             {"fpr_fixed_peeking", r.fixed_peeking},
             {"fpr_fixed_final", r.fixed_final}};
    out["decisions"] = StudyJson(o, r);
    fmt::print("{}\n", out.dump());
    return 0;
  }
  fmt::print("A/A (no treatment changes anything), the report's decision path at every look:\n");
  PrintSetting(o);
  fmt::print("  wrong decisions (ever ship, clickbait or stop_guardrail): {:.4f} (se {:.4f})  {}\n",
             r.wrong.rate, r.wrong.se,
             r.wrong.rate <= r.alpha                    ? "within alpha"
             : r.wrong.rate <= r.alpha + 3 * r.wrong.se ? "within alpha's Monte-Carlo error"
                                                        : "ABOVE alpha");
  PrintCodes(r);
  fmt::print("  treatments dropped: click-bait {:.4f}, breached guardrail {:.4f}\n",
             r.dropped_clickbait.rate, r.dropped_guardrail.rate);
  fmt::print("  by look (ever decided ship | clickbait | stop_guardrail):\n");
  for (const sim::StudyLook& l : r.by_look) {
    if (l.look > 5 && l.look % 10 != 0 && l.look != r.looks) continue;
    fmt::print("    look {:>4} ({:>8.0f} users)  {:.4f} | {:.4f} | {:.4f}\n", l.look, l.arm_users,
               l.ever.at("ship"), l.ever.at("clickbait"), l.ever.at("stop_guardrail"));
  }
  fmt::print(
      "  for comparison, the primary metric's fixed-horizon test at alpha (not the "
      "product's path): peeked at every look {:.4f}, at the last look only {:.4f}\n",
      r.fixed_peeking, r.fixed_final);
  return 0;
}

int SimulatePower(const Args& a, bool as_json) {
  sim::DecisionStudyOptions o = Options(a);
  // --size-for-mde M: as many users as `abrec plan` asks for to detect M (80% power), spread
  // over the looks (a fixed horizon decides there).
  double planned_per_arm = 0;
  if (const auto mde = NumberOption(a, "size-for-mde", 1e-4, 10)) {
    planned_per_arm = sim::PlannedUsersPerArm(o, *mde);
    if (!(planned_per_arm > 0)) {
      throw std::invalid_argument("--size-for-mde: the study's primary metric cannot be planned");
    }
    const double arms = static_cast<double>(o.experiment.variants.size());
    o.experiment.analysis.planned_users =
        static_cast<std::int64_t>(std::ceil(planned_per_arm * arms));
    // The horizon falls two looks before the last, so that every run reaches it.
    o.users_per_look = static_cast<int>(std::ceil(planned_per_arm * arms / (o.looks - 2)));
  }
  json rows = json::array();
  if (!as_json) {
    fmt::print(
        "power: the first treatment changes the primary metric by the effect; the report's "
        "decision path at every look\n");
    PrintSetting(o);
    if (planned_per_arm > 0) {
      fmt::print("  sized by the plan: {:.0f} users per arm, {} in all arms\n", planned_per_arm,
                 o.experiment.analysis.planned_users);
    }
    fmt::print("  effect   shipped it        median share of users at ship   wrong code ever\n");
  }
  for (const double effect : Lifts(a, {0.02, 0.05, 0.10})) {
    o.effect = effect;
    const sim::DecisionStudyResult r = sim::RunDecisionStudy(o);
    if (as_json) {
      json row = StudyJson(o, r);
      if (planned_per_arm > 0) row["planned_users_per_arm"] = planned_per_arm;
      rows.push_back(std::move(row));
      continue;
    }
    fmt::print(
        "  {:+6.1f}%  {:.4f} (se {:.4f})  {:>6.0f}%                          "
        "clickbait {:.4f}, stop_guardrail {:.4f}\n",
        100 * effect, r.shipped_effect.rate, r.shipped_effect.se, 100 * r.median_users_fraction,
        r.ever.at("clickbait").rate, r.ever.at("stop_guardrail").rate);
  }
  if (as_json) fmt::print("{}\n", json{{"rows", std::move(rows)}}.dump());
  return 0;
}

}  // namespace abrec
