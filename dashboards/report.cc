#include "dashboards/report.h"

#include <optional>

#include <fmt/format.h>

#include "analysis/metric_analysis.h"
#include "base/clock.h"
#include "dashboards/report_sections.h"
#include "experiments/vocabulary.h"

namespace abrec {
namespace {

using json = nlohmann::ordered_json;

// The definition as the report read it: metrics, alpha and its error budget, the premium cap,
// the planned horizon.
json DefinitionSection(const ReportInputs& in, const Replay& replay) {
  const ExperimentMonitor& monitor = replay.monitor;
  const Experiment& e = *in.experiment;
  const AnalysisSpec& a = e.analysis;
  const ErrorBudget& budget = monitor.budget();
  json definition{{"description", e.description},
                  {"owner", e.owner},
                  {"primary", e.metrics.primary},
                  {"secondary", e.metrics.secondary},
                  {"alpha", a.alpha},
                  {"sequential", a.sequential},
                  {"tuning_n", a.tuning_n},
                  {"error_budget",
                   {{"treatments", budget.treatments},
                    {"primary_level", budget.PrimaryLevel()},
                    {"harm_tests_per_treatment", budget.harm_tests},
                    {"harm_level", budget.HarmLevel()},
                    {"non_inferiority_level", budget.NonInferiorityLevel()}}}};
  if (a.premium_cap_quantile > 0) {
    json cap{{"quantile", a.premium_cap_quantile},
             {"of",
              "each user's premium and revenue, over the users with a non-zero amount in "
              "every bucket of the experiment"}};
    if (replay.has_amounts) {
      cap["premium"] = replay.caps.premium_cents / 100;
      cap["revenue"] = replay.caps.revenue_cents / 100;
      cap["premium_capped_users"] = replay.caps.premium_capped;
      cap["revenue_capped_users"] = replay.caps.revenue_capped;
      if (!in.amounts->since_day.empty()) cap["since"] = in.amounts->since_day;
    } else {
      cap["reason"] = "no per-user amounts: premium and revenue are tested uncapped";
    }
    definition["premium_cap"] = std::move(cap);
  }
  if (const auto& h = monitor.horizon()) {
    definition["horizon"] = {{"users", h->users},
                             {"source", h->planned ? "analysis.planned_users" : "plan"},
                             {"arm_users", monitor.ArmUsers()}};
  }
  return definition;
}

// The exploration bucket: its size and figures, and what its random lists say about each
// variant's policy (off-policy).
json ExplorationSection(const ReportInputs& in) {
  const Experiment& e = *in.experiment;
  const BucketTotals explore = BucketTotalsOf(in.totals, kExplorationBucket);
  json explore_values = json::object();
  for (const char* name : {"click_rate", "bind_rate", "premium_per_user"}) {
    const MetricComparison c = CompareMetric(
        *MetricByName(name), BucketTotalsOf(in.totals, kHoldoutBucket), explore, e.analysis);
    explore_values[name] =
        c.fixed.reason == stats::Reason::kOk ? json(c.fixed.treatment_mean) : json(nullptr);
  }
  return {{"users", static_cast<std::int64_t>(explore.users)},
          {"expected_share", in.population.exploration},
          {"values", std::move(explore_values)},
          {"off_policy", OffPolicySection(in)}};
}

// Served latency and fallbacks per bucket, from the latency histograms.
json LatencySection(const ReportInputs& in) {
  json latency_arms = json::object();
  for (const auto& [bucket, h] : in.latency) {
    // An init-capture: clang 14 (the fuzz build) cannot capture a structured binding.
    auto ms = [&histogram = h](double q) {
      const auto us = histogram.QuantileUs(q);
      return us ? json(*us / 1000) : json(nullptr);
    };
    latency_arms[bucket] = {{"exposures", h.exposures},
                            {"p50_ms", ms(0.5)},
                            {"p99_ms", ms(0.99)},
                            {"fallbacks", h.fallbacks},
                            {"fallback_rate", h.FallbackRate().value_or(0)}};
  }
  return {{"since", in.latency_since},
          {"window_days", kLatencyWindowDays},
          {"note",
           "time to the list in the service (assignment, policy, scoring), "
           "per bucket; quantiles to within 9% (logarithmic bins)"},
          {"arms", std::move(latency_arms)}};
}

// The decision: the monitor's findings with the operational thresholds, fairness and the
// shadow checks added, and in rollout a first reason saying whose figures these are.
json DecisionSection(const ReportInputs& in, const Replay& replay,
                     const std::vector<VariantFindings>& findings) {
  Decision decision = Decide(*in.experiment, replay.uplift.srm().problem, findings);
  if (!replay.frozen_since.empty()) {
    decision.reasons.insert(
        decision.reasons.begin(),
        fmt::format("phase rollout since {}: every enrolled user gets the rolled-out variant, so "
                    "these are the A/B test's figures as of the day before",
                    replay.frozen_since));
  }
  json decision_json{{"code", DecisionCodeName(decision.code)}, {"reasons", decision.reasons}};
  if (!decision.winner.empty()) decision_json["winner"] = decision.winner;
  return decision_json;
}

}  // namespace

Result<nlohmann::ordered_json> ReportFrom(AggregateSource& source, const Experiment& e,
                                          const PopulationSplit& population, std::int64_t now_us) {
  auto totals = source.Totals(e.key);
  if (!totals) return std::unexpected(totals.error());
  auto history = source.History(e.key);
  if (!history) return std::unexpected(history.error());
  std::string since = LatencySince(now_us);
  auto latency = source.Latency(e.key, since);
  if (!latency) return std::unexpected(latency.error());
  auto counters = source.Counters(e.key);
  if (!counters) return std::unexpected(counters.error());
  auto off_policy = source.OffPolicy(e.key);
  if (!off_policy) return std::unexpected(off_policy.error());
  std::optional<AmountHistory> amounts;
  if (e.analysis.premium_cap_quantile > 0) {
    auto read = source.Amounts(e.key);
    if (!read) return std::unexpected(read.error());
    amounts = std::move(*read);
  }
  return BuildReport({.experiment = &e,
                      .population = population,
                      .totals = std::move(*totals),
                      .history = std::move(*history),
                      .latency = std::move(*latency),
                      .latency_since = std::move(since),
                      .counters = std::move(*counters),
                      .off_policy = std::move(*off_policy),
                      .amounts = std::move(amounts),
                      .now_us = now_us});
}

std::string LatencySince(std::int64_t now_us) {
  constexpr std::int64_t kDayUs = 86'400'000'000;
  return FormatRfc3339(now_us - (kLatencyWindowDays - 1) * kDayUs).substr(0, 10);
}

nlohmann::ordered_json BuildReport(const ReportInputs& in) {
  const Experiment& e = *in.experiment;
  Replay replay(in);
  json report{{"experiment", e.key},
              {"phase", PhaseName(e.phase)},
              {"generated_at", FormatRfc3339(in.now_us)},
              {"definition", DefinitionSection(in, replay)},
              {"buckets", Buckets(in)}};
  // The sample ratio of today's buckets, from the monitor that keeps looking in rollout.
  report["srm"] = SrmSection(in, replay.uplift);
  report["exposure_sources"] = ExposureSourcesSection(in);
  report["metrics"] = MetricsSection(in, replay.monitor);
  std::vector<VariantFindings> findings = replay.monitor.Findings();
  report["guardrails"] = GuardrailsSection(in, replay.monitor, findings);
  report["uplift_vs_holdout"] = UpliftSection(in, replay.uplift);
  report["exploration"] = ExplorationSection(in);
  report["fairness"] = FairnessSection(in, replay.monitor.budget().HarmLevel(), findings);
  report["drift"] = DriftSection(in);
  report["shadow"] = ShadowSection(in, findings);
  report["latency"] = LatencySection(in);
  report["history"] = std::move(replay.history);
  report["decision"] = DecisionSection(in, replay, findings);
  return report;
}

}  // namespace abrec
