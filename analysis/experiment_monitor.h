// An experiment watched over time: the one path from bucket totals to decision.code that the
// report and `abrec simulate aa|power` both run.
//
// Each look (a day's closing totals, oldest first, then now) compares every treatment with
// control on the primary and secondary metrics (and click and bind rate, which the click-bait
// check reads), folds the always-valid figures into their running intersections and minima
// (effect_figures.h), runs the statistical guardrails, click-bait and non-inferiority tests
// at their share of α (error_budget.h), tests the sample ratio, and decides (decision.h).
// A fixed-horizon analysis decides the primary metric once, at the first look that reaches
// the planned users (horizon.h), and keeps that answer.
//
// The report adds what only it knows (operational thresholds, fairness, the shadow checks) to
// Findings() and decides again with Decide(). Not thread-safe; cheap to copy.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "analysis/decision.h"
#include "analysis/effect_figures.h"
#include "analysis/error_budget.h"
#include "analysis/horizon.h"
#include "assignment/population.h"
#include "eventstore/event_store.h"
#include "experiments/experiment.h"
#include "analysis/metric_analysis.h"

namespace abrec {

struct MonitorOptions {
  double srm_threshold = 0.001;  // DESIGN.md: a mismatch when p < 0.001
  std::int64_t srm_min_users = 1'000;
  // The report's uplift of each arm against the holdout (not read by the decision).
  bool track_uplift = false;
};

// One metric of one arm against its baseline, over the looks so far.
struct TrackedMetric {
  Metric metric = Metric::kBindRate;
  std::string arm, baseline;
  double level = 0.05;     // the two-sided level of its figures
  double p_factor = 1;     // Bonferroni's factor on its p-values (k for the primary metric)
  MetricComparison now{};  // the latest look
  ComparisonLook fixed{};  // the latest look's fixed-horizon figures (p multiplied)
  StickyEffect absolute{}, relative{};  // always valid (p multiplied when read)

  EffectLook Absolute() const;  // the running figures, p multiplied by p_factor
  EffectLook Relative() const;
};

// A statistical guardrail of one treatment over the looks so far.
struct TrackedGuardrail {
  const Guardrail* spec = nullptr;
  std::string variant;
  double limit = 0;       // the relative change tested against (non-inferiority: −margin)
  double level = 0;       // one-sided level of the breach test
  StickyEffect breach{};  // the one-sided test that the change lies beyond the limit
  double pass_level = 0;  // non-inferiority: one-sided level of the pass test
  StickyEffect pass{};    // non-inferiority: the test that the change lies above −margin
  enum class Status { kOk, kBreached, kPending, kPassed, kFailed } status = Status::kOk;
};
std::string_view StatusName(TrackedGuardrail::Status s);

struct SrmLook {
  BucketSrm buckets;   // this look's test
  double p_value = 1;  // the p-value the alert and decision read
  bool mismatch = false;
  std::string problem;  // in words, when mismatch
};

class ExperimentMonitor {
 public:
  // `experiment` must outlive the monitor.
  ExperimentMonitor(const Experiment& experiment, PopulationSplit population,
                    MonitorOptions options = {});

  // Folds one look in and returns its decision (from the monitor's own findings).
  // `amounts_comparable` false: the premium and revenue sums of this look are not the ones
  // the experiment tests (they could not be capped at its premium_cap_quantile, see
  // capped_amounts.h), so premium_per_user and revenue_per_user skip it.
  const Decision& Look(const BucketTotalsMap& totals, bool amounts_comparable = true);

  // Starts every sequence, guardrail, the horizon and the sample ratio test again, as at
  // construction: the experiment changed phase (phase_periods.h), so the effect being
  // measured changed.
  void Restart();

  const ErrorBudget& budget() const { return budget_; }
  int looks() const { return looks_; }
  // The arms' users at the latest look (control and treatments).
  std::int64_t ArmUsers() const { return arm_users_; }
  const std::optional<Horizon>& horizon() const { return horizon_; }
  const SrmLook& srm() const { return srm_; }
  // Every tracked comparison of a treatment: the experiment's metrics in report order, then
  // click_rate and bind_rate if they are not among them.
  const std::vector<TrackedMetric>& MetricsOf(const std::string& variant) const;
  const TrackedMetric* Find(const std::string& variant, Metric metric) const;
  const std::vector<TrackedGuardrail>& Guardrails() const { return guardrails_; }
  // Uplift against the holdout (track_uplift): arm → the reported metrics.
  const std::map<std::string, std::vector<TrackedMetric>>& Uplift() const { return uplift_; }
  // Fixed horizon: the primary's figures at the horizon look, once reached.
  const std::optional<LiftFinding>& Decided(const std::string& variant) const;

  std::vector<VariantFindings> Findings() const;
  const Decision& decision() const { return decision_; }

 private:
  struct VariantState {
    std::string name;
    std::vector<TrackedMetric> metrics{};
    StickyEffect clicks_up{}, binds_down{};  // click-bait's one-sided tests at the harm level
    std::optional<LiftFinding> decided{};    // fixed horizon
  };
  void LookSrm(const BucketTotalsMap& totals);
  void LookGuardrails(const BucketTotalsMap& totals);
  VariantFindings FindingsOf(const VariantState& v) const;
  bool Skipped(Metric m) const;  // this look leaves m out (amounts not comparable)

  const Experiment* e_;
  PopulationSplit population_;
  MonitorOptions options_;
  ErrorBudget budget_;
  std::vector<VariantState> variants_;
  std::vector<TrackedGuardrail> guardrails_;
  std::map<std::string, std::vector<TrackedMetric>> uplift_;
  std::optional<Horizon> horizon_;
  bool horizon_reached_ = false;
  SrmLook srm_;
  double srm_running_p_ = 1;
  std::int64_t arm_users_ = 0;
  int looks_ = 0;
  bool skip_amounts_ = false;
  Decision decision_;
};

// The metrics the report compares: the primary, then the secondary ones, each once.
std::vector<std::string> ReportedMetrics(const Experiment& experiment);

// The arms the report compares with the holdout: each variant, exploration, and "all" (every
// bucket shown recommendations, pooled).
std::vector<std::string> UpliftArms(const Experiment& experiment);
BucketTotals UpliftArmTotals(const Experiment& experiment, const BucketTotalsMap& totals,
                             const std::string& arm);

}  // namespace abrec
