// The report's decision (DESIGN.md: ship, continue, stop_guardrail, clickbait,
// untrustworthy_srm) from the findings of each treatment, with its reasons in words. The
// same function decides for the report and for `abrec simulate aa|power`, so the simulated
// error rates are the product's.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "experiments/experiment.h"
#include "stats/result.h"

namespace abrec {

// One metric of one treatment against control as the decision reads it: the relative lift
// with the interval and p-value the report shows for it.
struct LiftFinding {
  std::string metric;
  stats::Reason reason = stats::Reason::kOk;
  double relative = 0;
  stats::Interval ci;  // `high` may be +inf (not bounded yet)
  double p_value = 1;
  bool Up() const { return reason == stats::Reason::kOk && ci.low > 0; }
  bool Down() const { return reason == stats::Reason::kOk && ci.high < 0; }
};

struct VariantFindings {
  std::string variant;
  // The primary metric as the decision reads it (sequential: the running confidence sequence
  // at the treatment's share of α; fixed horizon: the test at the horizon). Unset when the
  // primary metric has no statistic.
  std::optional<LiftFinding> primary{};
  // Fixed horizon: why the primary metric is not decided yet ("n of N users"); empty once
  // the horizon is reached, and always in sequential analyses.
  std::string waiting_for_horizon{};
  // Click-bait: click rate significantly up and bind rate significantly down, both one-sided
  // always-valid tests at the harm level. `watch`: clicks significantly up, binds down but
  // not significantly.
  bool clickbait = false;
  bool watch = false;
  std::optional<LiftFinding> click_rate{};  // relative lifts for the reasons' words
  std::optional<LiftFinding> bind_rate{};
  std::vector<std::string> breached_guardrails{};  // in words: statistical, operational, fairness
  std::vector<std::string> pending_guardrails{};   // non-inferiority not shown yet: no ship yet
  std::vector<std::string> failed_guardrails{};    // non-inferiority not shown by the horizon
  std::vector<std::string> shadow_problems{};      // the shadow sanity checks, in words
};

// The findings of variant `name`, which `findings` holds.
VariantFindings& FindingsOf(std::vector<VariantFindings>& findings, const std::string& name);

// What the report decides (its JSON says DecisionCodeName: "continue", "ship",
// "stop_guardrail", "clickbait", "untrustworthy_srm").
enum class DecisionCode { kContinue, kShip, kStopGuardrail, kClickbait, kUntrustworthySrm };
std::string_view DecisionCodeName(DecisionCode code);

struct Decision {
  DecisionCode code = DecisionCode::kContinue;
  std::vector<std::string> reasons;
  std::string winner;  // ship: the treatment to ship
};

// In order: a sample ratio mismatch makes every figure untrustworthy; in shadow nothing is
// decided. A treatment that is click-bait or has a breached guardrail is dropped from the
// candidates (its reason is given; the others go on). Among the rest, those whose primary
// metric is significantly up with every non-inferiority guardrail shown are candidates, and
// the one with the largest estimated lift ships. With no candidate: clickbait or
// stop_guardrail when every treatment is dropped, else continue with each treatment's state.
// `srm_problem` is the SRM finding in words, or empty.
Decision Decide(const Experiment& experiment, const std::string& srm_problem,
                const std::vector<VariantFindings>& variants);

}  // namespace abrec
