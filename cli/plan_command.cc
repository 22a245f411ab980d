// abrec plan KEY [--config FILE] [--baseline X] [--sd X] [--daily-users N] [--power P]
//                [--format text|json]
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "analysis/error_budget.h"
#include "base/clock.h"
#include "eventstore/open_store.h"
#include "cli/args.h"
#include "cli/command_config.h"
#include "cli/commands.h"
#include "platform/platform.h"
#include "stats/moments.h"
#include "stats/power.h"

namespace abrec {
namespace {

constexpr const char* kHelp =
    R"(usage: abrec plan KEY [--config FILE] [--baseline X] [--sd X] [--daily-users N]
                  [--power P] [--format text|json]

How many users per arm the experiment KEY needs to detect its minimum detectable effect
(analysis.mde, relative) on its primary metric at analysis.alpha with power P (default 0.8),
for the fixed-horizon test and for the sequential test the report uses, and how many days
that takes at the experiment's daily traffic.

The baseline (the control's rate or mean) and the daily traffic come from the event database
(storage.path) when it has data: the control bucket's totals, and the users entering the
experiment per day from the daily snapshots. --baseline (with --sd, the per-user standard
deviation, for a mean metric) and --daily-users (users entering the experiment per day, all
buckets) give or override them. Metrics: bind_rate (a rate), binds_per_user,
premium_per_user and revenue_per_user (means; premium and revenue in currency units).
)";

// A mean metric's per-user sum and sum of squares in BucketTotals, and its unit (cents to
// currency units).
struct MeanColumns {
  std::string_view metric;
  Int128 BucketTotals::*sum;
  Int128 BucketTotals::*sum_sq;
  double unit = 1;
};
constexpr MeanColumns kMeanMetrics[] = {
    {"binds_per_user", &BucketTotals::binds, &BucketTotals::binds_sq, 1},
    {"premium_per_user", &BucketTotals::premium_cents, &BucketTotals::premium_cents_sq, 100},
    {"revenue_per_user", &BucketTotals::revenue_cents, &BucketTotals::revenue_cents_sq, 100},
};
const MeanColumns* MeanMetric(std::string_view metric) {
  for (const MeanColumns& m : kMeanMetrics) {
    if (m.metric == metric) return &m;
  }
  return nullptr;
}

// What the database knows about an experiment's control and traffic.
struct Observed {
  std::int64_t control_users = 0;
  std::optional<double> baseline, sd;
  std::optional<double> daily_users;
  std::string days;  // "first..last" of the snapshots used
};

Result<Observed> ReadObserved(const std::string& path, const std::string& key,
                              const std::string& metric) {
  Observed o;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return o;
  auto source = OpenAggregateReader(path);
  if (!source) return std::unexpected(source.error());
  const MeanColumns* mean = MeanMetric(metric);
  auto totals = (*source)->Totals(key);
  if (!totals) return std::unexpected(totals.error());
  if (const auto control = totals->find("control");
      control != totals->end() && control->second.users >= 2) {
    const BucketTotals& t = control->second;
    const std::int64_t n = o.control_users = static_cast<std::int64_t>(t.users);
    if (metric == "bind_rate") {
      o.baseline = static_cast<double>(t.binders) / static_cast<double>(n);
    } else if (mean) {
      const auto m = stats::Moments::FromSums(n, t.*(mean->sum), t.*(mean->sum_sq));
      o.baseline = static_cast<double>(m.mean) / mean->unit;
      o.sd = std::sqrt(static_cast<double>(m.Variance())) / mean->unit;
    }
  }
  // The experiment's users at the close of each day with a snapshot: the sum over buckets
  // (a bucket quiet that day carried forward from its last day).
  auto history = (*source)->History(key);
  if (!history) return std::unexpected(history.error());
  std::vector<std::pair<std::string, std::int64_t>> days;  // day -> experiment's users
  for (const DailyTotals& day : *history) {
    Int128 total = 0;
    for (const auto& [bucket, t] : day.buckets) total += t.users;
    days.emplace_back(day.day, static_cast<std::int64_t>(total));
  }
  if (days.size() >= 2) {
    auto when = [](const std::string& day) { return ParseRfc3339(day + "T00:00:00Z"); };
    const auto first = when(days.front().first), last = when(days.back().first);
    if (first && last && *last > *first) {
      const double elapsed = static_cast<double>(*last - *first) / 86'400e6;
      o.daily_users = static_cast<double>(days.back().second - days.front().second) / elapsed;
      o.days = days.front().first + ".." + days.back().first;
    }
  }
  return o;
}

}  // namespace

int PlanCommand(const CommandArgs& argv) {
  auto args = ParseCommandArgs(
      "plan", argv, {"config", "baseline", "sd", "daily-users", "power", "format"}, kHelp);
  if (!args) return args.error();
  const std::string format = args->Get("format").value_or("text");
  if (args->positionals.size() != 1 || (format != "text" && format != "json")) {
    fmt::print(stderr, "abrec plan: give one experiment KEY and --format text|json\n{}", kHelp);
    return 2;
  }
  std::optional<double> baseline, sd, daily, power;
  try {
    baseline = NumberOption(*args, "baseline", 0, 1e12);
    sd = NumberOption(*args, "sd", 0, 1e12);
    daily = NumberOption(*args, "daily-users", 0, 1e12);
    power = NumberOption(*args, "power", 0.5, 0.999);
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "abrec plan: {}\n", e.what());
    return 2;
  }
  const std::string key = args->positionals[0];
  auto config = CommandConfig(*args);
  if (!config) return config.error();
  auto platform = ReadOnlyPlatform("plan", *config);
  if (!platform) return platform.error();
  const auto loaded = (*platform)->experiments()->Find(key);
  if (!loaded) {
    fmt::print(stderr, "abrec plan: experiment: no experiment \"{}\" in {}\n", key,
               config->experiments.dir);
    return 1;
  }
  const Experiment& e = loaded->def;
  const std::string& metric = e.metrics.primary;
  const bool proportion = metric == "bind_rate";
  if (!proportion && !MeanMetric(metric)) {
    fmt::print(stderr,
               "abrec plan: metrics.primary: {} cannot be planned (bind_rate, binds_per_user, "
               "premium_per_user and revenue_per_user can; click_rate is a ratio)\n",
               metric);
    return 1;
  }
  auto observed = ReadObserved(config->storage.path, key, metric);
  if (!observed) {
    fmt::print(stderr, "abrec plan: {}\n", observed.error().message);
    return 1;
  }
  const std::string baseline_source =
      baseline ? "--baseline" : fmt::format("database: control, {} users", observed->control_users);
  if (!baseline) baseline = observed->baseline;
  if (!sd) sd = observed->sd;
  if (!baseline || (!proportion && !sd)) {
    fmt::print(stderr,
               "abrec plan: no baseline for {} in {} (no control data yet): give --baseline{}\n",
               metric, config->storage.path, proportion ? "" : " and --sd");
    return 1;
  }
  const std::string daily_source =
      daily ? "--daily-users" : (observed->daily_users ? "database: " + observed->days : "");
  if (!daily) daily = observed->daily_users;

  stats::PowerInput in;
  in.baseline = *baseline;
  in.sd = sd.value_or(0);
  in.proportion = proportion;
  in.mde = e.analysis.mde;
  // Each of k treatments is read at its share α/k of the experiment's α (Bonferroni over the
  // treatments, analysis/error_budget.h), and ships on its relative lift, whose interval
  // excludes 0 exactly when the unpooled difference test rejects: the test sized here.
  const ErrorBudget budget = BudgetOf(e);
  in.alpha = budget.PrimaryLevel();
  in.power = power.value_or(0.8);
  in.n_star = e.analysis.tuning_n;
  const stats::PowerResult r = stats::UsersPerArm(in);
  const double recommended_n_star = stats::RecommendedTuningN(in);
  stats::PowerInput tuned = in;
  tuned.n_star = recommended_n_star;
  const stats::PowerResult with_recommended = stats::UsersPerArm(tuned);
  if (r.reason != stats::Reason::kOk) {
    fmt::print(stderr, "abrec plan: cannot plan with baseline {} ({})\n", *baseline,
               stats::ReasonName(r.reason));
    return 1;
  }
  // The smallest arm's share of the users entering the experiment (DESIGN.md: variant i gets
  // (1 − holdout − exploration)·wᵢ).
  double min_weight = 1;
  for (const auto& v : e.variants) min_weight = std::min(min_weight, v.weight);
  const PopulationSplit& split = config->population;
  const double arm_share = (1 - split.holdout - split.exploration) * min_weight;
  // analysis.planned_users counts the users of every arm: the smallest arm must reach the
  // users per arm.
  const double planned_fixed = std::ceil(r.fixed_per_arm / min_weight);
  const double planned_sequential = std::ceil(r.sequential_per_arm / min_weight);
  std::optional<double> days_fixed, days_sequential;
  if (daily && *daily > 0) {
    days_fixed = std::ceil(r.fixed_per_arm / (*daily * arm_share));
    days_sequential = std::ceil(r.sequential_per_arm / (*daily * arm_share));
  }
  if (format == "json") {
    auto opt = [](const std::optional<double>& v) {
      return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
    };
    nlohmann::ordered_json j{
        {"experiment", key},
        {"metric", metric},
        {"mde", in.mde},
        {"alpha", e.analysis.alpha},
        {"treatments", budget.treatments},
        {"alpha_per_treatment", in.alpha},
        {"power", in.power},
        {"baseline", *baseline},
        {"baseline_source", baseline_source},
        {"sd", proportion ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(in.sd)},
        {"users_per_arm", {{"fixed", r.fixed_per_arm}, {"sequential", r.sequential_per_arm}}},
        {"planned_users",
         {{"fixed", planned_fixed},
          {"sequential", planned_sequential},
          {"note", "analysis.planned_users: the users of all arms together"}}},
        {"tuning_n", in.n_star},
        {"recommended_tuning_n",
         {{"n_star", recommended_n_star},
          {"sequential_users_per_arm", with_recommended.sequential_per_arm}}},
        {"daily_users", opt(daily)},
        {"daily_users_source", daily ? nlohmann::ordered_json(daily_source) : nullptr},
        {"smallest_arm_share", arm_share},
        {"days", {{"fixed", opt(days_fixed)}, {"sequential", opt(days_sequential)}}}};
    fmt::print("{}\n", j.dump());
    return 0;
  }
  fmt::print(
      "experiment {}: primary metric {}, mde {:g}% (relative), alpha {:g} ({} treatment{}: "
      "{:.3g} each), power {:g}\n",
      key, metric, 100 * in.mde, e.analysis.alpha, budget.treatments,
      budget.treatments == 1 ? "" : "s", in.alpha, in.power);
  fmt::print("baseline    {:g}{} ({})\n", *baseline,
             proportion ? "" : fmt::format(", sd {:g}", in.sd), baseline_source);
  fmt::print("users/arm   {:.0f} fixed horizon; {:.0f} sequential (always valid, N* {:g})\n",
             r.fixed_per_arm, r.sequential_per_arm, in.n_star);
  fmt::print(
      "planned     analysis.planned_users: {:.0f} (fixed horizon) or {:.0f} (sequential), "
      "all arms together\n",
      planned_fixed, planned_sequential);
  fmt::print(
      "tuning      N* {:.0f} needs the fewest users for this plan: {:.0f} per arm "
      "sequential (analysis.tuning_n: {:g} now)\n",
      recommended_n_star, with_recommended.sequential_per_arm, in.n_star);
  if (days_fixed) {
    fmt::print(
        "traffic     {:.0f} users a day enter the experiment ({}); the smallest arm gets "
        "{:.1f}% of them\n",
        *daily, daily_source, 100 * arm_share);
    fmt::print("days        {:.0f} fixed horizon; {:.0f} sequential\n", *days_fixed,
               *days_sequential);
  } else {
    fmt::print("days        unknown: no daily traffic in the database yet; give --daily-users\n");
  }
  return 0;
}

}  // namespace abrec
