// Sections of the report read from the exposure counters (fairness, drift); report.cc
// assembles them with the rest.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/decision.h"
#include "dashboards/report.h"

namespace abrec {

// Demographic parity of what each arm shows, per fairness attribute of the experiment, with
// users as the unit (report_fairness.cc): for every product, the share of each group's users
// who were shown it, and Pearson's χ² across the groups. A variant breaches on a product when,
// for some pair of groups, its gap is past `max_parity_gap` and significantly wider than
// control's gap between the same groups: an always-valid test, every daily look, Bonferroni
// over all of the variant's (attribute, product, ordered pair) comparisons. `level` is the
// one-sided always-valid error level the whole fairness check of ONE variant may spend
// (0 < level < 0.5): the probability, under "no variant's gap is wider than control's", that
// the variant ever breaches, however often the report is read. Each breach is pushed, in
// words, to the variant's `breached_guardrails` in `findings`.
nlohmann::ordered_json FairnessSection(const ReportInputs& in, double level,
                                       std::vector<VariantFindings>& findings);

// Drift of the products each arm shows: the first days with exposures (up to 7, at most
// half of them) against the latest days (up to 7): PSI and χ² (stats/drift.h).
nlohmann::ordered_json DriftSection(const ReportInputs& in);

// The shadow phase's sanity checks, per variant whose list was computed in shadow (the
// "shadow|…" counters): how many lists, the share of lists that would have shown each product
// against the share that did (control's list, shown instead), eligibility violations (the
// gate's invariants: no life cover under 18, no student discount past 25), and the time the
// shadow list took. A violation is a shadow problem in `findings`.
nlohmann::ordered_json ShadowSection(const ReportInputs& in,
                                     std::vector<VariantFindings>& findings);

// Users per bucket among the exposures abrec logged itself ("server") and among those posted
// by clients ("client"), each with its anytime-valid sample ratio test, and warnings when the
// clients' exposures disagree with the hash's split (report_sources.cc). {"reason"} alone
// when no exposure recorded its source.
nlohmann::ordered_json ExposureSourcesSection(const ReportInputs& in);

// The off-policy estimate of each variant's policy from the exploration bucket's random
// lists (eventstore/sqlite/off_policy_log.h): clicks, binds and premium per list by IPS (the
// headline figure), SNIPS and DR, with standard errors clustered by user, beside what the
// variant's own arm measured (report_off_policy.cc).
nlohmann::ordered_json OffPolicySection(const ReportInputs& in);

}  // namespace abrec
