#include "analysis/decision.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace abrec {

std::string_view DecisionCodeName(DecisionCode code) {
  switch (code) {
    case DecisionCode::kContinue: return "continue";
    case DecisionCode::kShip: return "ship";
    case DecisionCode::kStopGuardrail: return "stop_guardrail";
    case DecisionCode::kClickbait: return "clickbait";
    case DecisionCode::kUntrustworthySrm: return "untrustworthy_srm";
  }
  return "continue";
}
namespace {

std::string Bound(double v) {
  return std::isfinite(v) ? fmt::format("{:+.1f}%", 100 * v) : "unbounded";
}

std::string Lift(const LiftFinding& f) {
  if (f.reason == stats::Reason::kNonstationary) {
    return fmt::format(
        "{}: the confidence sequence's intervals of different days no longer overlap, so the "
        "effect changed over time (a novelty effect, a changed treatment or population); its "
        "running p {:.3g} stands, but no interval can be drawn: consider restarting the test",
        f.metric, f.p_value);
  }
  if (f.reason != stats::Reason::kOk) {
    return fmt::format("{}: no estimate yet ({})", f.metric, stats::ReasonName(f.reason));
  }
  return fmt::format("{} {:+.1f}% (interval {} to {}, p {:.3g})", f.metric, 100 * f.relative,
                     Bound(f.ci.low), Bound(f.ci.high), f.p_value);
}

// Why a treatment leaves the candidates, in words; empty when it stays.
std::vector<std::string> DropReasons(const VariantFindings& v) {
  std::vector<std::string> out;
  if (v.clickbait && v.click_rate && v.bind_rate) {
    out.push_back(fmt::format(
        "{}: click-bait: click rate significantly up while bind rate is significantly down: "
        "{}; {}. Customers click what it shows but buy less",
        v.variant, Lift(*v.click_rate), Lift(*v.bind_rate)));
  }
  for (const std::string& g : v.breached_guardrails) {
    out.push_back(fmt::format("{}: guardrail breached: {}", v.variant, g));
  }
  return out;
}

bool Dropped(const VariantFindings& v) { return v.clickbait || !v.breached_guardrails.empty(); }

bool Candidate(const VariantFindings& v) {
  return !Dropped(v) && v.primary && v.waiting_for_horizon.empty() && v.primary->Up() &&
         v.pending_guardrails.empty() && v.failed_guardrails.empty();
}

// What keeps a treatment that is neither dropped nor shipped going, in words.
void ContinueReasons(const Experiment& e, const VariantFindings& v,
                     std::vector<std::string>& reasons) {
  if (!v.primary) {
    reasons.push_back(fmt::format("{}: the primary metric {} has no statistic in this abrec",
                                  v.variant, e.metrics.primary));
  } else if (!v.waiting_for_horizon.empty()) {
    reasons.push_back(
        fmt::format("{}: {}; now {}", v.variant, v.waiting_for_horizon, Lift(*v.primary)));
  } else if (v.primary->Down()) {
    reasons.push_back(
        fmt::format("{}: the primary metric is significantly down: {}; consider stopping it",
                    v.variant, Lift(*v.primary)));
  } else if (v.primary->Up()) {
    reasons.push_back(
        fmt::format("{}: the primary metric is significantly up: {}", v.variant, Lift(*v.primary)));
  } else {
    reasons.push_back(fmt::format("{}: not significant yet: {}", v.variant, Lift(*v.primary)));
  }
  for (const std::string& g : v.failed_guardrails) {
    reasons.push_back(fmt::format("{}: cannot ship: {}", v.variant, g));
  }
  for (const std::string& g : v.pending_guardrails) {
    reasons.push_back(fmt::format("{}: ship waits for {}", v.variant, g));
  }
  if (v.watch && v.click_rate && v.bind_rate) {
    reasons.push_back(fmt::format(
        "{}: watch: click rate is significantly up while bind rate is down, not significantly "
        "(yet): {}; {}",
        v.variant, Lift(*v.click_rate), Lift(*v.bind_rate)));
  }
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
    d.code = DecisionCode::kUntrustworthySrm;
    d.reasons.push_back(srm_problem +
                        ": the buckets are not the sizes the assignment promises, so no "
                        "comparison can be trusted until the cause is found");
    return d;
  }
  if (experiment.phase == Phase::kShadow) {
    d.code = DecisionCode::kContinue;
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
  std::vector<std::string> dropped;
  for (const VariantFindings& v : variants) {
    for (std::string& r : DropReasons(v)) dropped.push_back(std::move(r));
  }
  const VariantFindings* winner = nullptr;
  for (const VariantFindings& v : variants) {
    if (Candidate(v) && (!winner || v.primary->relative > winner->primary->relative)) winner = &v;
  }
  if (winner) {
    d.code = DecisionCode::kShip;
    d.winner = winner->variant;
    d.reasons.push_back(fmt::format("ship {}: the primary metric is significantly up: {}",
                                    winner->variant, Lift(*winner->primary)));
    for (const VariantFindings& v : variants) {
      if (&v == winner || !Candidate(v)) continue;
      d.reasons.push_back(
          fmt::format("{} is significantly up too ({}); {} has the larger estimate, a ranking the "
                      "analysis does not test",
                      v.variant, Lift(*v.primary), winner->variant));
    }
    for (std::string& r : dropped) d.reasons.push_back(std::move(r));
    return d;
  }
  const bool all_dropped =
      !variants.empty() && std::all_of(variants.begin(), variants.end(), Dropped);
  if (all_dropped) {
    const bool clickbait = std::any_of(variants.begin(), variants.end(),
                                       [](const VariantFindings& v) { return v.clickbait; });
    d.code = clickbait ? DecisionCode::kClickbait : DecisionCode::kStopGuardrail;
    d.reasons = std::move(dropped);
    return d;
  }
  d.code = DecisionCode::kContinue;
  for (const VariantFindings& v : variants) {
    if (Dropped(v)) continue;
    ContinueReasons(experiment, v, d.reasons);
  }
  for (std::string& r : dropped) {
    d.reasons.push_back(r + "; dropped from the candidates: stop sending it traffic");
  }
  return d;
}

}  // namespace abrec
