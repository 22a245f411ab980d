// The report's sections, each from its own inputs; report.cc assembles them. The
// comparisons (report_metrics.cc), the history replayed through the monitors
// (report_history.cc), and the sections read from the exposure counters (fairness, drift,
// shadow, sources) and the off-policy sums.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/capped_amounts.h"
#include "analysis/decision.h"
#include "analysis/experiment_monitor.h"
#include "dashboards/report.h"
#include "stats/result.h"

namespace abrec {

// An interval as [low, high]; an end the data cannot bound yet (±inf) is null.
nlohmann::ordered_json Pair(const stats::Interval& i);

// The experiment's days replayed through its monitors, as each day closed, then now: the
// sequences start again when the phase changes; in rollout (no control any more) the
// treatments' figures stay those of the A/B test's last day while the uplift against the
// holdout and the sample ratio go on. Premium and revenue are capped at each look when the
// experiment asks for it and the per-user amounts cover the day.
struct Replay {
  explicit Replay(const ReportInputs& in);
  ExperimentMonitor monitor;  // treatments against control
  ExperimentMonitor uplift;   // arms and program against the holdout; the sample ratio
  nlohmann::ordered_json history = nlohmann::ordered_json::array();  // one entry per day
  std::string frozen_since;  // rollout: the first day not folded in; else empty
  bool has_amounts = false;  // per-user amounts were there to cap with
  AmountCaps caps;           // the caps of the latest look
};

// {NAME: {"users"}} for the holdout, the exploration bucket and every variant.
nlohmann::ordered_json Buckets(const ReportInputs& in);
// The rows of every treatment's metrics against control, with Holm over each treatment's
// secondary metrics and Bonferroni over treatments on the primary (p_value_adjusted).
nlohmann::ordered_json MetricsSection(const ReportInputs& in, const ExperimentMonitor& monitor);
// Statistical guardrails from the monitor; operational thresholds from the latency
// histograms (their breaches go to `findings`).
nlohmann::ordered_json GuardrailsSection(const ReportInputs& in, const ExperimentMonitor& monitor,
                                         std::vector<VariantFindings>& findings);
// The sample ratio of today's buckets, fixed-horizon and sequential.
nlohmann::ordered_json SrmSection(const ReportInputs& in, const ExperimentMonitor& monitor);
// Each arm's and the whole program's metrics against the permanent holdout.
nlohmann::ordered_json UpliftSection(const ReportInputs& in, const ExperimentMonitor& uplift);

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
