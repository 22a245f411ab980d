#include "dashboards/report.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "analysis/capped_amounts.h"
#include "analysis/experiment_monitor.h"
#include "analysis/phase_periods.h"
#include "base/clock.h"
#include "dashboards/report_sections.h"
#include "analysis/metric_analysis.h"
#include "experiments/vocabulary.h"
#include "stats/multiple_testing.h"

namespace abrec {
namespace {

using json = nlohmann::ordered_json;

constexpr const char* kHoldout = "holdout";
constexpr const char* kExploration = "exploration";
constexpr const char* kControl = "control";

BucketTotals Get(const BucketTotalsMap& m, const std::string& bucket) {
  const auto it = m.find(bucket);
  return it == m.end() ? BucketTotals{} : it->second;
}

// An interval as [low, high]; an end the data cannot bound yet (±inf) is null.
json Pair(const stats::Interval& i) {
  auto end = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  return json::array({end(i.low), end(i.high)});
}

// EFFECT (DESIGN.md): the estimate with the fixed-horizon interval and p-value of this look,
// and the confidence sequence's running interval with its running-minimum always-valid
// p-value, both at the comparison's level; "reason" instead of numbers when there is not
// enough data.
json Effect(const EffectLook& fixed, const StickyEffect& sequence, const EffectLook& running) {
  if (fixed.reason != stats::Reason::kOk) return {{"reason", stats::ReasonName(fixed.reason)}};
  json e{{"estimate", fixed.estimate}, {"ci", Pair(fixed.ci)}, {"p_value", fixed.p_value}};
  if (sequence.HasFigures() && !sequence.Disjoint()) {
    e["ci_sequential"] = Pair(running.ci);
    e["p_value_sequential"] = running.p_value;
    e["ci_sequential_look"] = Pair(sequence.LatestInterval());
  } else {
    e["ci_sequential"] = nullptr;
    e["p_value_sequential"] = sequence.HasFigures() ? json(running.p_value) : json(nullptr);
    e["reason_sequential"] =
        stats::ReasonName(sequence.Disjoint() ? stats::Reason::kNonstationary : running.reason);
  }
  return e;
}

json AbsoluteEffect(const TrackedMetric& t) {
  return Effect(t.fixed.absolute, t.absolute, t.Absolute());
}
json RelativeEffect(const TrackedMetric& t) {
  return Effect(t.fixed.relative, t.relative, t.Relative());
}

// CUPED (regression adjustment): what it changed. The effects above already use it.
json Cuped(const MetricComparison& m) {
  if (!m.adjusted) return nullptr;
  const stats::AdjustedMeans& adj = *m.adjusted;
  if (adj.reason != stats::Reason::kOk) return {{"reason", stats::ReasonName(adj.reason)}};
  return {{"covariates", json::array({"premium_before", "products_held"})},
          {"theta", json::array({adj.theta[0], adj.theta[1]})},
          {"covariates_used", adj.covariates},
          {"variance_reduction", adj.variance_reduction},
          {"value", adj.treatment.mean},
          {"baseline_value", adj.control.mean},
          {"unadjusted_absolute",
           {{"estimate", m.fixed.absolute.estimate},
            {"ci", Pair(m.fixed.absolute.ci)},
            {"p_value", m.fixed.p_value}}}};
}

// Unreachable for a validated experiment (every statistical metric has a MetricByName), kept
// so that a metric added to the vocabulary before its statistic says so instead of failing.
std::string NotAggregated(const std::string& metric) {
  return fmt::format("{} has no per-user statistic in this abrec", metric);
}

// Binds of products the catalog does not price: they count no revenue (revenue_per_user).
json UnpricedBinds(const BucketTotals& variant, const BucketTotals& baseline) {
  json out{{"variant", static_cast<std::int64_t>(variant.unpriced_binds)},
           {"baseline", static_cast<std::int64_t>(baseline.unpriced_binds)}};
  if (variant.unpriced_binds + baseline.unpriced_binds > 0) {
    out["note"] =
        "binds of products the catalog does not price (no margin) add no revenue; their premium "
        "counts in premium_per_user";
  }
  return out;
}

json Buckets(const ReportInputs& in) {
  json b = json::object();
  auto add = [&](const std::string& name) {
    b[name] = {{"users", static_cast<std::int64_t>(Get(in.totals, name).users)}};
  };
  add(kHoldout);
  add(kExploration);
  for (const Variant& v : in.experiment->variants) add(v.name);
  return b;
}

// A comparison's figures: value, baseline value, the effects and CUPED.
json MetricRow(const TrackedMetric& t) {
  json row;
  row["value"] = t.now.fixed.treatment_mean;
  row["baseline_value"] = t.now.fixed.control_mean;
  row["absolute"] = AbsoluteEffect(t);
  row["relative"] = RelativeEffect(t);
  if (auto cu = Cuped(t.now); !cu.is_null()) row["cuped"] = std::move(cu);
  return row;
}

// The rows of every treatment's metrics against control, with Holm over each treatment's
// secondary metrics and Bonferroni over treatments on the primary (p_value_adjusted).
json MetricsSection(const ReportInputs& in, const ExperimentMonitor& monitor) {
  const Experiment& e = *in.experiment;
  json metrics = json::array();
  for (const Variant& v : e.variants) {
    if (v.name == kControl) continue;
    std::vector<json> rows;
    std::vector<double> secondary_p;
    std::vector<std::size_t> secondary_rows;
    for (const std::string& name : ReportedMetrics(e)) {
      const bool primary = name == e.metrics.primary;
      json head{{"metric", name},
                {"role", primary ? "primary" : "secondary"},
                {"variant", v.name},
                {"baseline", kControl},
                {"users", static_cast<std::int64_t>(Get(in.totals, v.name).users)},
                {"baseline_users", static_cast<std::int64_t>(Get(in.totals, kControl).users)}};
      const auto metric = MetricByName(name);
      const TrackedMetric* t = metric ? monitor.Find(v.name, *metric) : nullptr;
      if (!t) {
        head["value"] = nullptr;
        head["baseline_value"] = nullptr;
        head["absolute"] = {{"reason", NotAggregated(name)}};
        head["relative"] = {{"reason", NotAggregated(name)}};
        head["p_value_adjusted"] = nullptr;
        rows.push_back(std::move(head));
        continue;
      }
      json row = MetricRow(*t);
      for (auto& [key, value] : row.items()) head[key] = value;
      head["level"] = t->level;
      if (*metric == Metric::kRevenuePerUser) {
        head["unpriced_binds"] = UnpricedBinds(Get(in.totals, v.name), Get(in.totals, kControl));
      }
      if ((*metric == Metric::kRevenuePerUser || *metric == Metric::kPremiumPerUser) &&
          e.analysis.premium_cap_quantile > 0) {
        // The figures above are capped; the plain means for reference.
        const MetricComparison raw =
            CompareMetric(*metric, Get(in.totals, kControl), Get(in.totals, v.name), e.analysis);
        head["uncapped_value"] = raw.fixed.treatment_mean;
        head["uncapped_baseline_value"] = raw.fixed.control_mean;
      }
      const double p = e.analysis.sequential ? t->Relative().p_value : t->fixed.relative.p_value;
      if (primary) {
        // Already Bonferroni-adjusted over the treatments (p_factor): the figures the
        // decision reads.
        head["p_value_adjusted"] = t->now.reason == stats::Reason::kOk ? json(p) : json(nullptr);
        if (const auto& decided = monitor.Decided(v.name)) {
          head["decided_at_horizon"] = {{"users", monitor.horizon()->users},
                                        {"relative", decided->relative},
                                        {"ci", Pair(decided->ci)},
                                        {"p_value", decided->p_value}};
        }
      } else {
        secondary_p.push_back(p);
        secondary_rows.push_back(rows.size());
      }
      rows.push_back(std::move(head));
    }
    // Holm's step-down over the secondary metrics of this variant (family-wise error).
    const auto adjusted = stats::HolmAdjusted(secondary_p);
    for (std::size_t i = 0; i < secondary_rows.size(); ++i) {
      rows[secondary_rows[i]]["p_value_adjusted"] = adjusted[i];
    }
    for (auto& r : rows) metrics.push_back(std::move(r));
  }
  return metrics;
}

json Bound(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// Statistical guardrails from the monitor; operational thresholds from the latency
// histograms (their breaches go to `findings`).
json GuardrailsSection(const ReportInputs& in, const ExperimentMonitor& monitor,
                       std::vector<VariantFindings>& findings) {
  const Experiment& e = *in.experiment;
  json guardrails = json::array();
  for (const Guardrail& g : e.metrics.guardrails) {
    for (const Variant& v : e.variants) {
      if (v.name == kControl) continue;
      json row{{"metric", g.metric}, {"variant", v.name}};
      if (!IsStatisticalMetric(g.metric)) {
        row["kind"] = "operational";
        if (g.max) row["max"] = *g.max;
        if (g.min) row["min"] = *g.min;
        const auto it = in.latency.find(v.name);
        const LatencyHistogram* h = it == in.latency.end() ? nullptr : &it->second;
        std::optional<double> value;
        if (h && g.metric == "latency_p99_ms") {
          if (auto us = h->QuantileUs(0.99)) value = *us / 1000;
        } else if (h && g.metric == "fallback_rate") {
          value = h->FallbackRate();
        }
        if (!value) {
          row["value"] = nullptr;
          row["breached"] = nullptr;
          row["reason"] =
              fmt::format("no exposure served by /v1/recommend since {}", in.latency_since);
        } else {
          row["value"] = *value;
          const bool breached = (g.max && *value > *g.max) || (g.min && *value < *g.min);
          row["breached"] = breached;
          if (breached) {
            FindingsOf(findings, v.name)
                .breached_guardrails.push_back(fmt::format(
                    "{} is {:.4g} since {}, past its {} {:.4g}", g.metric, *value, in.latency_since,
                    g.max ? "max" : "min", g.max ? *g.max : g.min.value_or(0)));
          }
        }
        guardrails.push_back(std::move(row));
        continue;
      }
      const bool non_inferiority = g.type == GuardrailType::kNonInferiority;
      row["kind"] = non_inferiority ? "non_inferiority" : "relative_change";
      const TrackedGuardrail* t = nullptr;
      for (const TrackedGuardrail& candidate : monitor.Guardrails()) {
        if (candidate.spec == &g && candidate.variant == v.name) t = &candidate;
      }
      if (!t) {
        row["breached"] = nullptr;
        row["reason"] = NotAggregated(g.metric);
        guardrails.push_back(std::move(row));
        continue;
      }
      row["limit"] = t->limit;
      row["level"] = t->level;
      const EffectLook b = t->breach.Current();
      row["status"] = std::string(StatusName(t->status));
      row["breached"] = t->status == TrackedGuardrail::Status::kBreached;
      if (b.reason != stats::Reason::kOk) {
        row["reason"] = stats::ReasonName(b.reason);
      } else {
        row["relative_change"] = b.estimate;
        row["bound"] = Bound(std::isfinite(b.ci.high) ? b.ci.high : b.ci.low);
        row["p_value"] = b.p_value;
      }
      if (non_inferiority) {
        const EffectLook p = t->pass.Current();
        row["pass_level"] = t->pass_level;
        row["pass_bound"] = p.reason == stats::Reason::kOk ? Bound(p.ci.low) : json(nullptr);
        row["pass_p_value"] = p.reason == stats::Reason::kOk ? json(p.p_value) : json(nullptr);
        row["horizon_users"] = monitor.horizon() ? json(monitor.horizon()->users) : json(nullptr);
      }
      guardrails.push_back(std::move(row));
    }
  }
  return guardrails;
}

json SrmSection(const ReportInputs& in, const ExperimentMonitor& monitor) {
  const SrmLook& srm = monitor.srm();
  json expected = json::object();
  for (std::size_t i = 0; i < srm.buckets.buckets.size(); ++i) {
    expected[srm.buckets.buckets[i]] = srm.buckets.expected_weights[i];
  }
  const stats::SrmResult& chi2 = srm.buckets.result;
  json out{{"p_value", srm.p_value},
           {"threshold", in.srm_threshold},
           {"expected", std::move(expected)},
           {"ok", !srm.mismatch},
           {"method",
            "anytime valid (Lindon and Malek 2022, Dirichlet-multinomial, concentration 10000): "
            "the running minimum over the days of the p-value, safe to read at any time; "
            "Pearson's chi-squared of today's counts beside it"},
           {"chi_squared", chi2.chi_squared},
           {"p_value_chi_squared",
            chi2.reason == stats::Reason::kOk ? json(chi2.p_value) : json(nullptr)}};
  if (const auto& u = srm.buckets.sequential.unexpected_bucket) {
    out["unexpected_bucket"] = srm.buckets.buckets[*u];
  }
  if (srm.buckets.sequential.reason != stats::Reason::kOk) {
    out["p_value"] = nullptr;
    out["reason"] = fmt::format("{}: no users in the experiment's buckets yet",
                                stats::ReasonName(srm.buckets.sequential.reason));
  }
  return out;
}

// The primary metric's lift of each treatment and of the whole program against the holdout,
// as the report stood at the close of a day.
// `frozen`: a rollout day, on which the treatments' figures are the A/B test's (no lift of
// theirs is drawn); the program's against the holdout goes on.
json HistoryDay(const DailyTotals& day, const ExperimentMonitor& monitor,
                const ExperimentMonitor& uplift, const Experiment& e, bool frozen) {
  json out{{"day", day.day}};
  json users = json::object();
  for (const auto& [bucket, t] : day.buckets) users[bucket] = static_cast<std::int64_t>(t.users);
  out["users"] = std::move(users);
  json lifts = json::array();
  const auto primary = MetricByName(e.metrics.primary);
  auto add = [&](const TrackedMetric& t) {
    json l{{"arm", t.arm}};
    const EffectLook fixed = t.fixed.relative, running = t.Relative();
    if (fixed.reason != stats::Reason::kOk || !t.relative.HasFigures() || t.relative.Disjoint()) {
      l["reason"] = stats::ReasonName(
          fixed.reason != stats::Reason::kOk
              ? fixed.reason
              : (t.relative.Disjoint() ? stats::Reason::kNonstationary : running.reason));
    } else {
      l["relative"] = fixed.estimate;
      l["ci"] = Pair(fixed.ci);
      l["ci_sequential"] = Pair(running.ci);
      l["p_value_sequential"] = running.p_value;
      l["ci_sequential_look"] = Pair(t.relative.LatestInterval());
    }
    l["baseline"] = t.baseline;
    lifts.push_back(std::move(l));
  };
  if (primary) {
    for (const Variant& v : e.variants) {
      if (v.name == kControl || frozen) continue;
      if (const TrackedMetric* t = monitor.Find(v.name, *primary)) add(*t);
    }
    for (const TrackedMetric& t : uplift.Uplift().at("all")) {
      if (t.metric == *primary) add(t);
    }
  }
  out["metric"] = e.metrics.primary;
  out["lifts"] = std::move(lifts);
  out["decision"] = monitor.decision().code;
  return out;
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
  const AnalysisSpec& a = e.analysis;
  const MonitorOptions options{.srm_threshold = in.srm_threshold,
                               .srm_min_users = in.srm_min_users};
  ExperimentMonitor monitor(e, in.population, options);
  // The uplift against the holdout and the sample ratio go on in rollout (the holdout
  // stays): their own monitor, started again at each phase change too.
  MonitorOptions with_uplift = options;
  with_uplift.track_uplift = true;
  ExperimentMonitor uplift(e, in.population, with_uplift);
  // Premium and revenue capped at each look with the users' amounts as of that day; a day
  // the amount history does not cover is no look for them.
  const double cap_q = a.premium_cap_quantile;
  std::optional<AmountLooks> amounts;
  if (cap_q > 0 && in.amounts) amounts.emplace(*in.amounts);
  AmountCaps caps;
  // One look of the given monitors at `totals` (a day's close, or now when `day` is null).
  auto look = [&](const BucketTotalsMap& totals, const std::string* day,
                  std::initializer_list<ExperimentMonitor*> monitors) {
    const BucketTotalsMap* seen = &totals;
    bool comparable = cap_q == 0;
    BucketTotalsMap capped;
    if (amounts && (!day || amounts->Covers(*day))) {
      capped = totals;
      caps = CapAmounts(capped, day ? amounts->At(*day) : amounts->Now(), cap_q);
      seen = &capped;
      comparable = true;
    }
    for (ExperimentMonitor* m : monitors) m->Look(*seen, comparable);
  };
  // The sequences start again when the phase changes; in rollout (no control any more) the
  // figures stay those of the A/B test's last day.
  std::vector<std::string> days;
  for (const DailyTotals& day : in.history) days.push_back(day.day);
  const auto phases = PhaseOfDays(in.counters, days, e.phase);
  std::optional<Phase> period;
  std::string frozen_since;  // rollout: the first day not folded
  json history = json::array();
  for (std::size_t d = 0; d < in.history.size(); ++d) {
    const DailyTotals& day = in.history[d];
    if (phases[d] && period && *phases[d] != *period) {
      // Entering rollout keeps the A/B test's figures; the program's uplift starts again.
      if (*phases[d] != Phase::kRollout || e.phase != Phase::kRollout) monitor.Restart();
      uplift.Restart();
    }
    if (phases[d]) period = phases[d];
    const bool frozen = e.phase == Phase::kRollout && phases[d] == Phase::kRollout;
    if (frozen && frozen_since.empty()) frozen_since = day.day;
    if (frozen) {
      look(day.buckets, &day.day, {&uplift});
    } else {
      look(day.buckets, &day.day, {&monitor, &uplift});
    }
    json entry = HistoryDay(day, monitor, uplift, e, frozen);
    if (phases[d]) entry["phase"] = PhaseName(*phases[d]);
    history.push_back(std::move(entry));
  }
  const bool rolled_out = !frozen_since.empty();
  if (rolled_out) {
    look(in.totals, nullptr, {&uplift});
  } else {
    look(in.totals, nullptr, {&monitor, &uplift});
  }
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
  if (cap_q > 0) {
    json cap{{"quantile", cap_q},
             {"of",
              "each user's premium and revenue, over the users with a non-zero amount in "
              "every bucket of the experiment"}};
    if (amounts) {
      cap["premium"] = caps.premium_cents / 100;
      cap["revenue"] = caps.revenue_cents / 100;
      cap["premium_capped_users"] = caps.premium_capped;
      cap["revenue_capped_users"] = caps.revenue_capped;
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
  json report{{"experiment", e.key},
              {"phase", PhaseName(e.phase)},
              {"generated_at", FormatRfc3339(in.now_us)},
              {"definition", std::move(definition)},
              {"buckets", Buckets(in)}};
  // The sample ratio of today's buckets, from the monitor that keeps looking in rollout.
  report["srm"] = SrmSection(in, uplift);
  report["exposure_sources"] = ExposureSourcesSection(in);
  report["metrics"] = MetricsSection(in, monitor);
  std::vector<VariantFindings> findings = monitor.Findings();
  report["guardrails"] = GuardrailsSection(in, monitor, findings);

  // Uplift against the permanent holdout: each arm, and the whole program (every bucket
  // that is shown recommendations, pooled).
  json uplift_rows = json::array();
  for (const std::string& name : ReportedMetrics(e)) {
    const auto metric = MetricByName(name);
    for (const std::string& arm : UpliftArms(e)) {
      json row{{"metric", name},
               {"arm", arm},
               {"users", static_cast<std::int64_t>(UpliftArmTotals(e, in.totals, arm).users)},
               {"holdout_users", static_cast<std::int64_t>(Get(in.totals, kHoldout).users)}};
      const TrackedMetric* t = nullptr;
      for (const TrackedMetric& candidate : uplift.Uplift().at(arm)) {
        if (metric && candidate.metric == *metric) t = &candidate;
      }
      if (!t) {
        row["value"] = nullptr;
        row["holdout_value"] = nullptr;
        row["absolute"] = {{"reason", NotAggregated(name)}};
        row["relative"] = {{"reason", NotAggregated(name)}};
      } else {
        row["value"] = t->now.fixed.treatment_mean;
        row["holdout_value"] = t->now.fixed.control_mean;
        row["absolute"] = AbsoluteEffect(*t);
        row["relative"] = RelativeEffect(*t);
      }
      uplift_rows.push_back(std::move(row));
    }
  }
  report["uplift_vs_holdout"] = std::move(uplift_rows);

  // The exploration bucket: its size and figures, and what its random lists say about each
  // variant's policy (off-policy).
  const BucketTotals explore = Get(in.totals, kExploration);
  json explore_values = json::object();
  for (const char* name : {"click_rate", "bind_rate", "premium_per_user"}) {
    const MetricComparison c =
        CompareMetric(*MetricByName(name), Get(in.totals, kHoldout), explore, e.analysis);
    explore_values[name] =
        c.fixed.reason == stats::Reason::kOk ? json(c.fixed.treatment_mean) : json(nullptr);
  }
  report["exploration"] = {{"users", static_cast<std::int64_t>(explore.users)},
                           {"expected_share", in.population.exploration},
                           {"values", std::move(explore_values)},
                           {"off_policy", OffPolicySection(in)}};
  report["fairness"] = FairnessSection(in, monitor.budget().HarmLevel(), findings);
  report["drift"] = DriftSection(in);
  report["shadow"] = ShadowSection(in, findings);
  // Served latency and fallbacks per bucket, from the latency histograms.
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
  report["latency"] = {{"since", in.latency_since},
                       {"window_days", kLatencyWindowDays},
                       {"note",
                        "time to the list in the service (assignment, policy, scoring), "
                        "per bucket; quantiles to within 9% (logarithmic bins)"},
                       {"arms", std::move(latency_arms)}};
  report["history"] = std::move(history);

  // The monitor decided on what it knows; operational thresholds, fairness and the shadow
  // checks are added to its findings here.
  Decision decision = Decide(e, uplift.srm().problem, findings);
  if (rolled_out) {
    decision.reasons.insert(
        decision.reasons.begin(),
        fmt::format("phase rollout since {}: every enrolled user gets the rolled-out variant, so "
                    "these are the A/B test's figures as of the day before",
                    frozen_since));
  }
  json decision_json{{"code", decision.code}, {"reasons", decision.reasons}};
  if (!decision.winner.empty()) decision_json["winner"] = decision.winner;
  report["decision"] = std::move(decision_json);
  return report;
}

}  // namespace abrec
