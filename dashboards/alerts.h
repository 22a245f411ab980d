// Alerts from an experiment's report: what should wake someone up. Raised for a sample ratio
// mismatch, a breached guardrail (statistical, operational or fairness), drift past the
// alert threshold, a fallback rate above 1% on an arm the recommender serves, and, in
// shadow, a variant whose logged lists would have broken an eligibility invariant.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace abrec {

struct Alert {
  std::string experiment;
  // srm (among the exposures abrec logged itself, when the report has sources) | srm_posted
  // (all exposures mismatch, abrec's own do not) | client_exposures (posted exposures
  // disagree with the hash's split) | guardrail | drift | fallback_rate | eligibility (shadow)
  std::string kind;
  std::string severity;  // critical (the data or the customers are at risk) | warning
  std::string message;
  bool operator==(const Alert&) const = default;
};

// The share of an arm's exposures served by the rule-based fallback past which an alert is
// raised: the recommender should almost never fall back.
inline constexpr double kFallbackAlertRate = 0.01;

std::vector<Alert> AlertsOf(const nlohmann::ordered_json& report);

nlohmann::ordered_json AlertJson(const Alert& alert);

}  // namespace abrec
