#include "analysis/experiment_monitor.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "experiments/vocabulary.h"

namespace abrec {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

EffectLook Multiplied(EffectLook e, double factor) {
  e.p_value = std::min(1.0, e.p_value * factor);
  return e;
}

TrackedMetric Track(Metric metric, std::string arm, std::string baseline, double level,
                    double p_factor) {
  TrackedMetric t;
  t.metric = metric;
  t.arm = std::move(arm);
  t.baseline = std::move(baseline);
  t.level = level;
  t.p_factor = p_factor;
  return t;
}

// This look's comparison at the metric's level. The fixed-horizon absolute effect is the
// classic test (pooled z for a rate, Welch for a mean, as statsmodels and scipy compute them)
// unless CUPED adjusted it; the relative one is Fieller's with the unpooled test's p-value,
// which a fixed-horizon decision reads.
void Fold(TrackedMetric& t, const BucketTotals& baseline, const BucketTotals& arm,
          const AnalysisSpec& a) {
  AnalysisSpec at_level = a;
  at_level.alpha = t.level;
  t.now = CompareMetric(t.metric, baseline, arm, at_level);
  t.fixed = FixedLook(t.now, t.level);
  const bool adjusted = t.now.adjusted && t.now.adjusted->reason == stats::Reason::kOk;
  if (!adjusted) {
    const stats::Comparison& c = t.now.fixed;
    t.fixed.absolute = {c.reason, c.absolute.estimate, c.absolute.ci, c.p_value};
  }
  t.fixed.absolute = Multiplied(t.fixed.absolute, t.p_factor);
  t.fixed.relative = Multiplied(t.fixed.relative, t.p_factor);
  const ComparisonLook s = SequentialLook(t.now, t.level, a.tuning_n);
  t.absolute.Update(s.absolute);
  t.relative.Update(s.relative);
}

LiftFinding Finding(std::string metric, const EffectLook& e, bool disjoint = false) {
  LiftFinding f;
  f.metric = std::move(metric);
  f.reason = disjoint ? stats::Reason::kNonstationary : e.reason;
  f.relative = e.estimate;
  f.ci = e.ci;
  f.p_value = e.p_value;
  return f;
}

bool Significant(const StickyEffect& s, double level) {
  return s.HasFigures() && s.Current().p_value < level;
}

std::string Percent(double v) {
  return std::isfinite(v) ? fmt::format("{:+.1f}%", 100 * v) : "unbounded";
}

}  // namespace

std::string_view StatusName(TrackedGuardrail::Status s) {
  switch (s) {
    case TrackedGuardrail::Status::kOk: return "ok";
    case TrackedGuardrail::Status::kBreached: return "breached";
    case TrackedGuardrail::Status::kPending: return "pending";
    case TrackedGuardrail::Status::kPassed: return "passed";
    case TrackedGuardrail::Status::kFailed: return "failed";
  }
  return "unknown";
}

EffectLook TrackedMetric::Absolute() const { return Multiplied(absolute.Current(), p_factor); }
EffectLook TrackedMetric::Relative() const { return Multiplied(relative.Current(), p_factor); }

std::vector<std::string> ReportedMetrics(const Experiment& e) {
  std::vector<std::string> out{e.metrics.primary};
  for (const auto& m : e.metrics.secondary) {
    if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  }
  return out;
}

std::vector<std::string> UpliftArms(const Experiment& e) {
  std::vector<std::string> out;
  for (const Variant& v : e.variants) out.push_back(v.name);
  out.push_back(std::string(kExplorationBucket));
  out.push_back("all");
  return out;
}

BucketTotals UpliftArmTotals(const Experiment& e, const BucketTotalsMap& totals,
                             const std::string& arm) {
  if (arm != "all") return BucketTotalsOf(totals, arm);
  BucketTotals pooled = BucketTotalsOf(totals, kExplorationBucket);
  for (const Variant& v : e.variants) pooled += BucketTotalsOf(totals, v.name);
  return pooled;
}

ExperimentMonitor::ExperimentMonitor(const Experiment& e, PopulationSplit population,
                                     MonitorOptions options)
    : e_(&e), population_(std::move(population)), options_(options), budget_(BudgetOf(e)) {
  const std::vector<std::string> reported = ReportedMetrics(e);
  for (const Variant& v : e.variants) {
    if (v.name == kControlVariant) continue;
    VariantState s{.name = v.name};
    for (const std::string& name : reported) {
      const auto metric = MetricByName(name);
      if (!metric) continue;
      const bool primary = name == e.metrics.primary;
      s.metrics.push_back(Track(*metric, v.name, std::string(kControlVariant),
                                primary ? budget_.PrimaryLevel() : e.analysis.alpha,
                                primary ? budget_.treatments : 1));
    }
    for (const Metric m : {Metric::kClickRate, Metric::kBindRate}) {
      if (std::none_of(s.metrics.begin(), s.metrics.end(),
                       [m](const TrackedMetric& t) { return t.metric == m; })) {
        s.metrics.push_back(Track(m, v.name, std::string(kControlVariant), e.analysis.alpha, 1));
      }
    }
    variants_.push_back(std::move(s));
    for (const Guardrail& g : e.metrics.guardrails) {
      if (!IsStatisticalMetric(g.metric) || !MetricByName(g.metric)) continue;
      TrackedGuardrail t{.spec = &g, .variant = v.name};
      t.limit = g.min_relative_change ? *g.min_relative_change : g.max_relative_change.value_or(0);
      t.level = budget_.HarmLevel();
      t.pass_level = budget_.NonInferiorityLevel();
      guardrails_.push_back(std::move(t));
    }
  }
  if (options_.track_uplift) {
    for (const std::string& arm : UpliftArms(e)) {
      auto& list = uplift_[arm];
      for (const std::string& name : reported) {
        if (const auto metric = MetricByName(name)) {
          list.push_back(Track(*metric, arm, std::string(kHoldoutBucket), e.analysis.alpha, 1));
        }
      }
    }
  }
}

void ExperimentMonitor::Restart() {
  const int looks = looks_;
  *this = ExperimentMonitor(*e_, population_, options_);
  looks_ = looks;
}

const std::vector<TrackedMetric>& ExperimentMonitor::MetricsOf(const std::string& variant) const {
  static const std::vector<TrackedMetric> kNone;
  for (const VariantState& v : variants_) {
    if (v.name == variant) return v.metrics;
  }
  return kNone;
}

const TrackedMetric* ExperimentMonitor::Find(const std::string& variant, Metric metric) const {
  for (const TrackedMetric& t : MetricsOf(variant)) {
    if (t.metric == metric) return &t;
  }
  return nullptr;
}

const std::optional<LiftFinding>& ExperimentMonitor::Decided(const std::string& variant) const {
  static const std::optional<LiftFinding> kNone;
  for (const VariantState& v : variants_) {
    if (v.name == variant) return v.decided;
  }
  return kNone;
}

// The sample ratio test the decision and the alerts read is the anytime-valid one (Lindon
// and Malek 2022): its p-value's running minimum over the looks stays below the threshold
// with probability at most the threshold however often the report is read; Pearson's χ² of
// this look is shown beside it.
void ExperimentMonitor::LookSrm(const BucketTotalsMap& totals) {
  srm_.buckets = SampleRatioOfBuckets(totals, population_, *e_, options_.srm_threshold,
                                      options_.srm_min_users);
  const stats::SequentialSrmResult& s = srm_.buckets.sequential;
  if (s.reason != stats::Reason::kOk) return;
  srm_running_p_ = std::min(srm_running_p_, s.p_value);
  srm_.p_value = srm_running_p_;
  srm_.mismatch = srm_running_p_ < options_.srm_threshold;
  if (!srm_.mismatch) {
    srm_.problem.clear();
  } else if (s.unexpected_bucket) {
    srm_.problem = fmt::format("sample ratio mismatch: users in bucket {}, which should get none",
                               srm_.buckets.buckets[*s.unexpected_bucket]);
  } else {
    srm_.problem = fmt::format("sample ratio mismatch (anytime-valid p = {:.3g} < {})",
                               srm_running_p_, options_.srm_threshold);
  }
}

void ExperimentMonitor::LookGuardrails(const BucketTotalsMap& totals) {
  const BucketTotals control = BucketTotalsOf(totals, kControlVariant);
  for (TrackedGuardrail& g : guardrails_) {
    const Metric metric = *MetricByName(g.spec->metric);
    if (Skipped(metric)) continue;
    const TrackedMetric* tracked = Find(g.variant, metric);
    const MetricComparison m =
        tracked ? tracked->now
                : CompareMetric(metric, control, BucketTotalsOf(totals, g.variant), e_->analysis);
    const bool upper_limit = !g.spec->min_relative_change && g.spec->max_relative_change;
    g.breach.Update(OneSidedLook(m, g.limit,
                                 upper_limit ? stats::Sided::kGreater : stats::Sided::kLess,
                                 g.level, e_->analysis.tuning_n));
    const bool non_inferiority = g.spec->type == GuardrailType::kNonInferiority;
    if (non_inferiority) {
      g.pass.Update(
          OneSidedLook(m, g.limit, stats::Sided::kGreater, g.pass_level, e_->analysis.tuning_n));
    }
    using S = TrackedGuardrail::Status;
    if (Significant(g.breach, g.level)) {
      g.status = S::kBreached;
    } else if (!non_inferiority) {
      g.status = S::kOk;
    } else if (Significant(g.pass, g.pass_level)) {
      g.status = S::kPassed;
    } else {
      g.status = horizon_reached_ ? S::kFailed : S::kPending;
    }
  }
}

const Decision& ExperimentMonitor::Look(const BucketTotalsMap& totals, bool amounts_comparable) {
  ++looks_;
  skip_amounts_ = !amounts_comparable;
  const AnalysisSpec& a = e_->analysis;
  const BucketTotals control = BucketTotalsOf(totals, kControlVariant);
  arm_users_ = 0;
  for (const Variant& v : e_->variants) {
    arm_users_ += static_cast<std::int64_t>(BucketTotalsOf(totals, v.name).users);
  }
  LookSrm(totals);
  const bool needs_horizon =
      !a.sequential || std::any_of(guardrails_.begin(), guardrails_.end(), [](const auto& g) {
        return g.spec->type == GuardrailType::kNonInferiority;
      });
  bool reached_now = false;
  if (needs_horizon && !horizon_reached_) {
    horizon_ = HorizonOf(*e_, control, budget_);
    reached_now = horizon_reached_ = horizon_ && arm_users_ >= horizon_->users;
  }
  for (VariantState& v : variants_) {
    const BucketTotals arm = BucketTotalsOf(totals, v.name);
    for (TrackedMetric& t : v.metrics) {
      if (Skipped(t.metric)) continue;
      Fold(t, control, arm, a);
      if (reached_now && !a.sequential && t.metric == *MetricByName(e_->metrics.primary)) {
        v.decided = Finding(e_->metrics.primary, t.fixed.relative);
      }
    }
    const MetricComparison& clicks = Find(v.name, Metric::kClickRate)->now;
    const MetricComparison& binds = Find(v.name, Metric::kBindRate)->now;
    v.clicks_up.Update(
        OneSidedLook(clicks, 0, stats::Sided::kGreater, budget_.HarmLevel(), a.tuning_n));
    v.binds_down.Update(
        OneSidedLook(binds, 0, stats::Sided::kLess, budget_.HarmLevel(), a.tuning_n));
  }
  LookGuardrails(totals);
  for (auto& [arm, list] : uplift_) {
    const BucketTotals arm_totals = UpliftArmTotals(*e_, totals, arm);
    const BucketTotals holdout = BucketTotalsOf(totals, kHoldoutBucket);
    for (TrackedMetric& t : list) {
      if (!Skipped(t.metric)) Fold(t, holdout, arm_totals, a);
    }
  }
  decision_ = Decide(*e_, srm_.problem, Findings());
  return decision_;
}

VariantFindings ExperimentMonitor::FindingsOf(const VariantState& v) const {
  VariantFindings f{.variant = v.name};
  const AnalysisSpec& a = e_->analysis;
  if (const auto primary = MetricByName(e_->metrics.primary)) {
    const TrackedMetric& t = *Find(v.name, *primary);
    if (a.sequential) {
      f.primary = Finding(e_->metrics.primary, t.Relative(), t.relative.Disjoint());
    } else if (v.decided) {
      f.primary = v.decided;
    } else {
      f.primary = Finding(e_->metrics.primary, t.fixed.relative);
      f.waiting_for_horizon =
          horizon_
              ? fmt::format("a fixed-horizon analysis decides at {} users ({}), {} so far",
                            horizon_->users,
                            horizon_->planned ? "analysis.planned_users" : "the plan", arm_users_)
              : "a fixed-horizon analysis decides at the planned users: set "
                "analysis.planned_users, or wait for enough control users to plan from";
    }
  }
  const double harm = budget_.HarmLevel();
  f.click_rate = Finding("click_rate", v.clicks_up.Current());
  f.bind_rate = Finding("bind_rate", v.binds_down.Current());
  const bool clicks_up = Significant(v.clicks_up, harm);
  const bool binds_down = Significant(v.binds_down, harm);
  f.clickbait = clicks_up && binds_down;
  f.watch = clicks_up && !binds_down && v.binds_down.Current().reason == stats::Reason::kOk &&
            v.binds_down.Current().estimate < 0;
  for (const TrackedGuardrail& g : guardrails_) {
    if (g.variant != v.name) continue;
    const EffectLook b = g.breach.Current();
    using S = TrackedGuardrail::Status;
    switch (g.status) {
      case S::kBreached:
        f.breached_guardrails.push_back(fmt::format(
            "{} changed {}, its confidence sequence (one-sided, level {:.3g}) ends at {}, "
            "beyond the limit {}",
            g.spec->metric, Percent(b.estimate), g.level,
            Percent(b.ci.high < kInf ? b.ci.high : b.ci.low), Percent(g.limit)));
        break;
      case S::kPending:
      case S::kFailed: {
        const EffectLook p = g.pass.Current();
        const std::string shown =
            p.reason == stats::Reason::kOk
                ? fmt::format("its lower bound is {}", Percent(p.ci.low))
                : fmt::format("no estimate yet ({})", stats::ReasonName(p.reason));
        const std::string words =
            fmt::format("non-inferiority of {} (a decrease of at most {}): {}", g.spec->metric,
                        Percent(-g.limit), shown);
        if (g.status == S::kPending) {
          f.pending_guardrails.push_back(words);
        } else {
          f.failed_guardrails.push_back(fmt::format("{}, not shown by the planned {} users", words,
                                                    horizon_ ? horizon_->users : 0));
        }
        break;
      }
      case S::kOk:
      case S::kPassed: break;
    }
  }
  return f;
}

bool ExperimentMonitor::Skipped(Metric m) const {
  return skip_amounts_ && (m == Metric::kPremiumPerUser || m == Metric::kRevenuePerUser);
}

std::vector<VariantFindings> ExperimentMonitor::Findings() const {
  std::vector<VariantFindings> out;
  out.reserve(variants_.size());
  for (const VariantState& v : variants_) out.push_back(FindingsOf(v));
  return out;
}

}  // namespace abrec
