// The report's comparisons: every treatment's metrics against control, the guardrails, the
// sample ratio, the uplift against the holdout, and the EFFECT objects they are written with.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "analysis/experiment_monitor.h"
#include "analysis/metric_analysis.h"
#include "dashboards/report_sections.h"
#include "stats/multiple_testing.h"

namespace abrec {

using json = nlohmann::ordered_json;

json Pair(const stats::Interval& i) {
  auto end = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  return json::array({end(i.low), end(i.high)});
}

namespace {

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

json Bound(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

}  // namespace

json Buckets(const ReportInputs& in) {
  json b = json::object();
  auto add = [&](std::string_view name) {
    b[std::string(name)] = {
        {"users", static_cast<std::int64_t>(BucketTotalsOf(in.totals, name).users)}};
  };
  add(kHoldoutBucket);
  add(kExplorationBucket);
  for (const Variant& v : in.experiment->variants) add(v.name);
  return b;
}

json MetricsSection(const ReportInputs& in, const ExperimentMonitor& monitor) {
  const Experiment& e = *in.experiment;
  json metrics = json::array();
  for (const Variant& v : e.variants) {
    if (v.name == kControlVariant) continue;
    std::vector<json> rows;
    std::vector<double> secondary_p;
    std::vector<std::size_t> secondary_rows;
    for (const std::string& name : ReportedMetrics(e)) {
      const bool primary = name == e.metrics.primary;
      json head{{"metric", name},
                {"role", primary ? "primary" : "secondary"},
                {"variant", v.name},
                {"baseline", kControlVariant},
                {"users", static_cast<std::int64_t>(BucketTotalsOf(in.totals, v.name).users)},
                {"baseline_users",
                 static_cast<std::int64_t>(BucketTotalsOf(in.totals, kControlVariant).users)}};
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
        head["unpriced_binds"] = UnpricedBinds(BucketTotalsOf(in.totals, v.name),
                                               BucketTotalsOf(in.totals, kControlVariant));
      }
      if ((*metric == Metric::kRevenuePerUser || *metric == Metric::kPremiumPerUser) &&
          e.analysis.premium_cap_quantile > 0) {
        // The figures above are capped; the plain means for reference.
        const MetricComparison raw =
            CompareMetric(*metric, BucketTotalsOf(in.totals, kControlVariant),
                          BucketTotalsOf(in.totals, v.name), e.analysis);
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

json GuardrailsSection(const ReportInputs& in, const ExperimentMonitor& monitor,
                       std::vector<VariantFindings>& findings) {
  const Experiment& e = *in.experiment;
  json guardrails = json::array();
  for (const Guardrail& g : e.metrics.guardrails) {
    for (const Variant& v : e.variants) {
      if (v.name == kControlVariant) continue;
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

json UpliftSection(const ReportInputs& in, const ExperimentMonitor& uplift) {
  const Experiment& e = *in.experiment;
  json uplift_rows = json::array();
  for (const std::string& name : ReportedMetrics(e)) {
    const auto metric = MetricByName(name);
    for (const std::string& arm : UpliftArms(e)) {
      json row{{"metric", name},
               {"arm", arm},
               {"users", static_cast<std::int64_t>(UpliftArmTotals(e, in.totals, arm).users)},
               {"holdout_users",
                static_cast<std::int64_t>(BucketTotalsOf(in.totals, kHoldoutBucket).users)}};
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
  return uplift_rows;
}

}  // namespace abrec
