#include "dashboards/report.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>

#include <fmt/format.h>

#include "base/clock.h"
#include "dashboards/report_decision.h"
#include "dashboards/report_sections.h"
#include "experiments/metric_analysis.h"
#include "experiments/vocabulary.h"
#include "stats/multiple_testing.h"

namespace abrec {
namespace {

using json = nlohmann::ordered_json;
// Picks one bucket, or a pool of buckets, out of a set of totals.
using Arm = std::function<BucketTotals(const BucketTotalsMap&)>;

constexpr const char* kHoldout = "holdout";
constexpr const char* kExploration = "exploration";

BucketTotals Get(const BucketTotalsMap& m, const std::string& bucket) {
  const auto it = m.find(bucket);
  return it == m.end() ? BucketTotals{} : it->second;
}

Arm Bucket(std::string name) {
  return [name = std::move(name)](const BucketTotalsMap& m) { return Get(m, name); };
}

json Pair(const stats::Interval& i) { return json::array({i.low, i.high}); }

// A comparison now, the same comparison at each day's close (the history's looks, oldest
// first), and the running minimum of its always-valid p-values over those looks and this
// one (DESIGN.md: always-valid p-values are reported as running minima).
struct Compared {
  MetricComparison now;
  std::vector<MetricComparison> looks{};
  double p_absolute_min = 1;
  double p_relative_min = 1;
};

// Why a relative lift has no figures (kOk when it has).
stats::Reason RelativeReason(const MetricComparison& m) {
  return m.fixed.reason != stats::Reason::kOk ? m.fixed.reason : m.fixed.relative_reason;
}

Compared CompareOverTime(Metric metric, const Arm& baseline, const Arm& arm,
                         const ReportInputs& in) {
  const AnalysisSpec& a = in.experiment->analysis;
  stats::RunningMinimumP abs, rel;
  auto look = [&](const BucketTotalsMap& totals) {
    MetricComparison c = CompareMetric(metric, baseline(totals), arm(totals), a);
    if (c.sequential.reason == stats::Reason::kOk) abs.Update(c.sequential.p_value);
    if (c.sequential_relative.reason == stats::Reason::kOk)
      rel.Update(c.sequential_relative.p_value);
    return c;
  };
  std::vector<MetricComparison> looks;
  for (const DailyTotals& d : in.history) looks.push_back(look(d.buckets));
  Compared out{look(in.totals), std::move(looks)};
  out.p_absolute_min = abs.value();
  out.p_relative_min = rel.value();
  return out;
}

// EFFECT (DESIGN.md): the fixed-horizon estimate, interval and p-value, and the confidence
// sequence's interval with the running-minimum always-valid p-value; "reason" instead of
// numbers when there is not enough data.
json Effect(stats::Reason reason, const stats::Effect& fixed, double p_fixed,
            const stats::SequentialResult& sequential, double p_sequential_min) {
  if (reason != stats::Reason::kOk) return {{"reason", stats::ReasonName(reason)}};
  json e{{"estimate", fixed.estimate}, {"ci", Pair(fixed.ci)}, {"p_value", p_fixed}};
  if (sequential.reason == stats::Reason::kOk) {
    e["ci_sequential"] = Pair(sequential.ci);
    e["p_value_sequential"] = p_sequential_min;
  } else {
    e["ci_sequential"] = nullptr;
    e["p_value_sequential"] = nullptr;
    e["reason_sequential"] = stats::ReasonName(sequential.reason);
  }
  return e;
}

// The absolute effect: CUPED-adjusted when covariates made an adjusted comparison (the
// sequential test is then on the adjusted difference too, see metric_analysis.cc).
json AbsoluteEffect(const Compared& c) {
  const MetricComparison& m = c.now;
  if (m.cuped && m.cuped->adjusted.reason == stats::Reason::kOk) {
    const stats::Comparison& adj = m.cuped->adjusted;
    return Effect(adj.reason, adj.absolute, adj.p_value, m.sequential, c.p_absolute_min);
  }
  return Effect(m.fixed.reason, m.fixed.absolute, m.fixed.p_value, m.sequential, c.p_absolute_min);
}

json RelativeEffect(const Compared& c) {
  const MetricComparison& m = c.now;
  const stats::Reason reason = RelativeReason(m);
  // The fixed-horizon p-value of the relative lift's own Wald test (delta method), so that
  // it agrees with its interval: with a small baseline the ratio is far less certain than
  // the difference.
  const stats::Effect& rel = m.fixed.relative;
  const double p = rel.se > 0 ? std::erfc(std::fabs(rel.estimate / rel.se) / std::sqrt(2.0)) : 1.0;
  return Effect(reason, rel, p, m.sequential_relative, c.p_relative_min);
}

json Cuped(const MetricComparison& m) {
  if (!m.cuped) return nullptr;
  const stats::Comparison& adj = m.cuped->adjusted;
  if (adj.reason != stats::Reason::kOk) return {{"reason", stats::ReasonName(adj.reason)}};
  return {{"theta", m.cuped->theta},
          {"variance_reduction", m.cuped->variance_reduction},
          {"value", adj.treatment_mean},
          {"baseline_value", adj.control_mean},
          {"unadjusted_absolute",
           {{"estimate", m.fixed.absolute.estimate},
            {"ci", Pair(m.fixed.absolute.ci)},
            {"p_value", m.fixed.p_value}}}};
}

// The lift the decision reads: relative, on the confidence sequence when the analysis is
// sequential, else on the fixed-horizon interval.
LiftFinding Finding(const std::string& metric, const Compared& c, const AnalysisSpec& a) {
  const MetricComparison& m = c.now;
  LiftFinding f;
  f.metric = metric;
  f.reason = RelativeReason(m);
  f.relative = m.fixed.relative.estimate;
  if (a.sequential) {
    if (f.reason == stats::Reason::kOk) f.reason = m.sequential_relative.reason;
    f.ci = m.sequential_relative.ci;
    f.p_value = c.p_relative_min;
  } else {
    f.ci = m.fixed.relative.ci;
    f.p_value = m.fixed.p_value;
  }
  return f;
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

std::vector<std::string> ReportedMetrics(const Experiment& e) {
  std::vector<std::string> out{e.metrics.primary};
  for (const auto& m : e.metrics.secondary) {
    if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
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
  return BuildReport({.experiment = &e,
                      .population = population,
                      .totals = std::move(*totals),
                      .history = std::move(*history),
                      .latency = std::move(*latency),
                      .latency_since = std::move(since),
                      .counters = std::move(*counters),
                      .off_policy = std::move(*off_policy),
                      .now_us = now_us});
}

std::string LatencySince(std::int64_t now_us) {
  constexpr std::int64_t kDayUs = 86'400'000'000;
  return FormatRfc3339(now_us - (kLatencyWindowDays - 1) * kDayUs).substr(0, 10);
}

nlohmann::ordered_json BuildReport(const ReportInputs& in) {
  const Experiment& e = *in.experiment;
  const AnalysisSpec& a = e.analysis;
  const std::string control = "control";
  json report{{"experiment", e.key},
              {"phase", PhaseName(e.phase)},
              {"generated_at", FormatRfc3339(in.now_us)},
              {"definition",
               {{"description", e.description},
                {"owner", e.owner},
                {"primary", e.metrics.primary},
                {"secondary", e.metrics.secondary},
                {"alpha", a.alpha},
                {"sequential", a.sequential},
                {"tuning_n", a.tuning_n}}},
              {"buckets", Buckets(in)}};

  // Sample ratio.
  const BucketSrm srm =
      SampleRatioOfBuckets(in.totals, in.population, e, in.srm_threshold, in.srm_min_users);
  json expected = json::object();
  for (std::size_t i = 0; i < srm.buckets.size(); ++i) {
    expected[srm.buckets[i]] = srm.expected_weights[i];
  }
  std::string srm_problem;
  json srm_json{{"p_value", srm.result.p_value},
                {"threshold", in.srm_threshold},
                {"expected", std::move(expected)},
                {"ok", !srm.result.mismatch},
                {"chi_squared", srm.result.chi_squared}};
  if (srm.result.reason != stats::Reason::kOk) {
    srm_json["p_value"] = nullptr;
    srm_json["reason"] = fmt::format("{}: the test waits for {} users",
                                     stats::ReasonName(srm.result.reason), in.srm_min_users);
  } else if (srm.result.mismatch) {
    srm_problem = fmt::format("sample ratio mismatch (χ² p = {:.3g} < {})", srm.result.p_value,
                              in.srm_threshold);
  }
  report["srm"] = std::move(srm_json);

  // Variants against control.
  json metrics = json::array();
  std::vector<VariantFindings> findings;
  const auto reported = ReportedMetrics(e);
  // The primary metric's comparisons by arm (each variant against control, "all" against the
  // holdout): the history section reads their daily looks.
  std::map<std::string, Compared> primary_by_arm;
  for (const Variant& v : e.variants) {
    if (v.name == control) continue;
    VariantFindings f{.variant = v.name};
    std::vector<json> rows;
    std::vector<double> secondary_p;
    std::vector<std::size_t> secondary_rows;
    std::map<std::string, Compared> compared;  // by metric
    for (const std::string& name : reported) {
      json row{{"metric", name},
               {"role", name == e.metrics.primary ? "primary" : "secondary"},
               {"variant", v.name},
               {"baseline", control},
               {"users", static_cast<std::int64_t>(Get(in.totals, v.name).users)},
               {"baseline_users", static_cast<std::int64_t>(Get(in.totals, control).users)}};
      const auto metric = MetricByName(name);
      if (!metric) {
        row["value"] = nullptr;
        row["baseline_value"] = nullptr;
        row["absolute"] = {{"reason", NotAggregated(name)}};
        row["relative"] = {{"reason", NotAggregated(name)}};
        row["p_value_adjusted"] = nullptr;
        rows.push_back(std::move(row));
        continue;
      }
      const Compared& c = compared[name] =
          CompareOverTime(*metric, Bucket(control), Bucket(v.name), in);
      row["value"] = c.now.fixed.treatment_mean;
      row["baseline_value"] = c.now.fixed.control_mean;
      row["absolute"] = AbsoluteEffect(c);
      row["relative"] = RelativeEffect(c);
      if (auto cu = Cuped(c.now); !cu.is_null()) row["cuped"] = std::move(cu);
      if (*metric == Metric::kRevenuePerUser) {
        row["unpriced_binds"] = UnpricedBinds(Get(in.totals, v.name), Get(in.totals, control));
      }
      const double p = a.sequential ? c.p_absolute_min : c.now.fixed.p_value;
      if (name == e.metrics.primary) {
        row["p_value_adjusted"] = p;  // the one primary metric is not a family
        f.primary = Finding(name, c, a);
        primary_by_arm[v.name] = c;
      } else {
        secondary_p.push_back(p);
        secondary_rows.push_back(rows.size());
      }
      rows.push_back(std::move(row));
    }
    // Holm's step-down over the secondary metrics of this variant (family-wise error).
    const auto adjusted = stats::HolmAdjusted(secondary_p);
    for (std::size_t i = 0; i < secondary_rows.size(); ++i) {
      rows[secondary_rows[i]]["p_value_adjusted"] = adjusted[i];
    }
    for (auto& r : rows) metrics.push_back(std::move(r));
    // Click rate and bind rate always, reported or not: the click-bait check reads both.
    for (const auto& [metric, name] :
         {std::pair{Metric::kClickRate, "click_rate"}, std::pair{Metric::kBindRate, "bind_rate"}}) {
      if (!compared.contains(name)) {
        compared[name] = CompareOverTime(metric, Bucket(control), Bucket(v.name), in);
      }
    }
    f.click_rate = Finding("click_rate", compared["click_rate"], a);
    f.bind_rate = Finding("bind_rate", compared["bind_rate"], a);
    findings.push_back(std::move(f));
  }
  report["metrics"] = std::move(metrics);

  // Guardrails.
  json guardrails = json::array();
  for (const Guardrail& g : e.metrics.guardrails) {
    const bool statistical = g.min_relative_change || g.max_relative_change;
    for (const Variant& v : e.variants) {
      if (v.name == control) continue;
      json row{{"metric", g.metric}, {"variant", v.name}};
      if (!statistical) {
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
      row["kind"] = "relative_change";
      if (!MetricByName(g.metric)) {
        row["breached"] = nullptr;
        row["reason"] = NotAggregated(g.metric);
        guardrails.push_back(std::move(row));
        continue;
      }
      const GuardrailCheck check =
          CheckGuardrail(g, Get(in.totals, control), Get(in.totals, v.name), a);
      row["limit"] = check.limit;
      if (check.reason != stats::Reason::kOk) {
        row["breached"] = false;
        row["reason"] = stats::ReasonName(check.reason);
      } else {
        row["relative_change"] = check.relative_change;
        row["bound"] = check.bound;
        row["p_value"] = check.p_value;
        row["breached"] = check.breached;
        if (check.breached) {
          FindingsOf(findings, v.name)
              .breached_guardrails.push_back(fmt::format(
                  "{} changed {:+.1f}%, its confidence sequence ends at {:+.1f}%, beyond the limit "
                  "{:+.1f}%",
                  g.metric, 100 * check.relative_change, 100 * check.bound, 100 * check.limit));
        }
      }
      guardrails.push_back(std::move(row));
    }
  }
  report["guardrails"] = std::move(guardrails);

  // Uplift against the permanent holdout: each arm, and the whole program (every bucket
  // that is shown recommendations, pooled).
  std::vector<std::pair<std::string, Arm>> arms;
  for (const Variant& v : e.variants) arms.emplace_back(v.name, Bucket(v.name));
  arms.emplace_back(kExploration, Bucket(kExploration));
  arms.emplace_back("all", [&e](const BucketTotalsMap& m) {
    BucketTotals pooled = Get(m, kExploration);
    for (const Variant& v : e.variants) pooled += Get(m, v.name);
    return pooled;
  });
  json uplift = json::array();
  for (const std::string& name : reported) {
    const auto metric = MetricByName(name);
    for (const auto& [arm_name, arm] : arms) {
      json row{{"metric", name},
               {"arm", arm_name},
               {"users", static_cast<std::int64_t>(arm(in.totals).users)},
               {"holdout_users", static_cast<std::int64_t>(Get(in.totals, kHoldout).users)}};
      if (!metric) {
        row["value"] = nullptr;
        row["holdout_value"] = nullptr;
        row["absolute"] = {{"reason", NotAggregated(name)}};
        row["relative"] = {{"reason", NotAggregated(name)}};
      } else {
        const Compared c = CompareOverTime(*metric, Bucket(kHoldout), arm, in);
        row["value"] = c.now.fixed.treatment_mean;
        row["holdout_value"] = c.now.fixed.control_mean;
        row["absolute"] = AbsoluteEffect(c);
        row["relative"] = RelativeEffect(c);
        if (name == e.metrics.primary && arm_name == "all") primary_by_arm["all"] = c;
      }
      uplift.push_back(std::move(row));
    }
  }
  report["uplift_vs_holdout"] = std::move(uplift);

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
  report["fairness"] = FairnessSection(in, e.analysis.alpha / 2, findings);
  report["drift"] = DriftSection(in);
  report["shadow"] = ShadowSection(in, findings);
  // Served latency and fallbacks per bucket, from the latency histograms.
  json latency_arms = json::object();
  for (const auto& [bucket, h] : in.latency) {
    auto ms = [&h](double q) {
      const auto us = h.QuantileUs(q);
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

  // History: per day, the bucket sizes, each variant's primary lift against control and the
  // program's against the holdout (the daily looks of their comparisons above), with their
  // confidence sequences and running-minimum p.
  json history = json::array();
  std::vector<std::pair<std::string, std::string>> lift_arms;  // (arm, its baseline)
  for (const Variant& v : e.variants) {
    if (v.name != control) lift_arms.emplace_back(v.name, control);
  }
  lift_arms.emplace_back("all", kHoldout);
  std::map<std::string, stats::RunningMinimumP> running;
  for (std::size_t d = 0; d < in.history.size(); ++d) {
    json day{{"day", in.history[d].day}};
    json users = json::object();
    for (const auto& [bucket, t] : in.history[d].buckets) {
      users[bucket] = static_cast<std::int64_t>(t.users);
    }
    day["users"] = std::move(users);
    json lifts = json::array();
    for (const auto& [key, baseline] : lift_arms) {
      const auto it = primary_by_arm.find(key);
      if (it == primary_by_arm.end()) continue;  // the primary metric is not aggregated
      const MetricComparison& c = it->second.looks[d];
      json l{{"arm", key}};
      const stats::Reason reason = RelativeReason(c);
      if (reason != stats::Reason::kOk || c.sequential_relative.reason != stats::Reason::kOk) {
        l["reason"] =
            stats::ReasonName(reason != stats::Reason::kOk ? reason : c.sequential_relative.reason);
      } else {
        l["relative"] = c.fixed.relative.estimate;
        l["ci"] = Pair(c.fixed.relative.ci);
        l["ci_sequential"] = Pair(c.sequential_relative.ci);
        l["p_value_sequential"] = running[key].Update(c.sequential_relative.p_value);
      }
      l["baseline"] = baseline;
      lifts.push_back(std::move(l));
    }
    day["metric"] = e.metrics.primary;
    day["lifts"] = std::move(lifts);
    history.push_back(std::move(day));
  }
  report["history"] = std::move(history);

  const Decision decision = Decide(e, srm_problem, findings);
  report["decision"] = {{"code", decision.code}, {"reasons", decision.reasons}};
  return report;
}

}  // namespace abrec
