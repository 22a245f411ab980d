#include "dashboards/report_decision.h"

#include <algorithm>

#include <fmt/format.h>

namespace abrec {
namespace {

std::string Lift(const LiftFinding& f) {
  if (f.reason != stats::Reason::kOk) {
    return fmt::format("{}: no estimate yet ({})", f.metric, stats::ReasonName(f.reason));
  }
  return fmt::format("{} {:+.1f}% (interval {:+.1f}% to {:+.1f}%, p {:.3g})", f.metric,
                     100 * f.relative, 100 * f.ci.low, 100 * f.ci.high, f.p_value);
}

}  // namespace

VariantFindings& FindingsOf(std::vector<VariantFindings>& findings, const std::string& name) {
  return *std::find_if(findings.begin(), findings.end(),
                       [&](const VariantFindings& f) { return f.variant == name; });
}

Decision Decide(const Experiment& experiment, const std::string& srm_problem,
                const std::vector<VariantFindings>& variants) {
  Decision d;
  if (!srm_problem.empty()) {
    d.code = "untrustworthy_srm";
    d.reasons.push_back(srm_problem +
                        ": the buckets are not the sizes the assignment promises, so no "
                        "comparison can be trusted until the cause is found");
    return d;
  }
  if (experiment.phase == Phase::kShadow) {
    d.code = "continue";
    d.reasons.push_back(
        "phase shadow: every user is shown control's list; the treatment's is only logged, "
        "so its effect on customers cannot be measured before ab_test");
    for (const VariantFindings& v : variants) {
      for (const std::string& p : v.shadow_problems) {
        d.reasons.push_back(fmt::format("{}: {}; fix it before ab_test", v.variant, p));
      }
    }
    return d;
  }
  for (const VariantFindings& v : variants) {
    if (v.click_rate && v.bind_rate && v.click_rate->Up() &&
        v.bind_rate->reason == stats::Reason::kOk && v.bind_rate->relative < 0) {
      d.code = "clickbait";
      d.reasons.push_back(fmt::format(
          "{}: click rate is up while bind rate is {}: {}; {}. Customers click what it shows "
          "but buy less",
          v.variant, v.bind_rate->Down() ? "significantly down" : "down", Lift(*v.click_rate),
          Lift(*v.bind_rate)));
    }
  }
  for (const VariantFindings& v : variants) {
    for (const std::string& g : v.breached_guardrails) {
      if (d.code.empty()) d.code = "stop_guardrail";
      d.reasons.push_back(fmt::format("{}: guardrail breached: {}", v.variant, g));
    }
  }
  if (!d.code.empty()) return d;
  const std::string& primary = experiment.metrics.primary;
  for (const VariantFindings& v : variants) {
    if (v.primary && v.primary->Up()) {
      d.code = "ship";
      d.reasons.push_back(fmt::format("{}: the primary metric is significantly up: {}", v.variant,
                                      Lift(*v.primary)));
    }
  }
  if (!d.code.empty()) return d;
  d.code = "continue";
  for (const VariantFindings& v : variants) {
    if (!v.primary) {
      d.reasons.push_back(
          fmt::format("{}: the primary metric {} is not computed yet", v.variant, primary));
    } else if (v.primary->Down()) {
      d.reasons.push_back(
          fmt::format("{}: the primary metric is significantly down: {}; consider stopping",
                      v.variant, Lift(*v.primary)));
    } else {
      d.reasons.push_back(fmt::format("{}: not significant yet: {}", v.variant, Lift(*v.primary)));
    }
  }
  return d;
}

}  // namespace abrec
