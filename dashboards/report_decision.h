// The report's decision (DESIGN.md: ship, continue, stop_guardrail, clickbait,
// untrustworthy_srm) from the findings the report computed, with its reasons in words.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "experiments/experiment.h"
#include "stats/result.h"

namespace abrec {

// One metric of one variant against control: the relative lift and the interval the
// decision reads (the confidence sequence when the analysis is sequential, else the fixed
// horizon interval), with that interval's p-value.
struct LiftFinding {
  std::string metric;
  stats::Reason reason = stats::Reason::kOk;
  double relative = 0;
  stats::Interval ci;
  double p_value = 1;
  bool Up() const { return reason == stats::Reason::kOk && ci.low > 0; }
  bool Down() const { return reason == stats::Reason::kOk && ci.high < 0; }
};

struct VariantFindings {
  std::string variant;
  std::optional<LiftFinding> primary{};
  std::optional<LiftFinding> click_rate{};
  std::optional<LiftFinding> bind_rate{};
  std::vector<std::string> breached_guardrails{};  // in words
  std::vector<std::string> shadow_problems{};      // the shadow sanity checks, in words
};

// The findings of variant `name`, which `findings` holds.
VariantFindings& FindingsOf(std::vector<VariantFindings>& findings, const std::string& name);

struct Decision {
  std::string code;  // ship | continue | stop_guardrail | clickbait | untrustworthy_srm
  std::vector<std::string> reasons;
};

// In order: a sample ratio mismatch makes every figure untrustworthy; a variant whose click
// rate is up while its bind rate is down is click-bait; a breached guardrail stops; a
// primary metric significantly up (with none of those) ships; anything else continues.
// `srm_problem` is the SRM finding in words, or empty.
Decision Decide(const Experiment& experiment, const std::string& srm_problem,
                const std::vector<VariantFindings>& variants);

}  // namespace abrec
