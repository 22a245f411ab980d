#include "experiments/metric_analysis.h"

#include <algorithm>
#include <array>
#include <utility>

#include "stats/fixed_horizon.h"
#include "stats/ratio_metric.h"
#include "stats/winsorize.h"

namespace abrec {
namespace {

constexpr std::array<std::pair<Metric, std::string_view>, 5> kNames{{
    {Metric::kClickRate, "click_rate"},
    {Metric::kBindRate, "bind_rate"},
    {Metric::kBindsPerUser, "binds_per_user"},
    {Metric::kPremiumPerUser, "premium_per_user"},
    {Metric::kRevenuePerUser, "revenue_per_user"},
}};

std::int64_t Count(Int128 v) { return static_cast<std::int64_t>(v); }

// An amount per user in currency units (premium or revenue): the sums are in cents.
struct Cents {
  const Int128& sum;
  const Int128& sum_sq;
  const Int128& x_cross;  // Σ premium held before × the amount (CUPED)
};
Cents PremiumOf(const BucketTotals& t) {
  return {t.premium_cents, t.premium_cents_sq, t.x_premium};
}
Cents RevenueOf(const BucketTotals& t) {
  return {t.revenue_cents, t.revenue_cents_sq, t.x_revenue};
}

stats::Moments CentsMoments(const BucketTotals& t, const Cents& y) {
  stats::Moments m = stats::Moments::FromSums(Count(t.users), y.sum, y.sum_sq);
  m.mean /= 100;
  m.m2 /= 10'000;
  return m;
}

stats::CoMoments CentsWithCovariate(const BucketTotals& t, const Cents& y) {
  // x: premium held before (cents), y: the amount (cents); users without covariates count
  // with x = 0 (see stats/cuped.h). Scaled to currency units.
  stats::CoMoments m =
      stats::CoMoments::FromSums(Count(t.users), t.x, t.x_sq, y.sum, y.sum_sq, y.x_cross);
  m.mean_x /= 100, m.mean_y /= 100;
  m.m2_x /= 10'000, m.m2_y /= 10'000, m.c_xy /= 10'000;
  return m;
}

// Mean amount per user, with premium held before as the CUPED covariate when posted.
void CompareCents(MetricComparison& r, const BucketTotals& baseline, const BucketTotals& variant,
                  Cents (*of)(const BucketTotals&), double alpha) {
  r.fixed = stats::CompareMeans(CentsMoments(baseline, of(baseline)),
                                CentsMoments(variant, of(variant)), alpha);
  if (baseline.covariate_users > 0 || variant.covariate_users > 0) {
    r.cuped = stats::CompareMeansCuped(CentsWithCovariate(baseline, of(baseline)),
                                       CentsWithCovariate(variant, of(variant)), alpha);
  }
}

// The always-valid tests of a comparison's absolute (CUPED-adjusted when there is one) and
// relative effects over `n` users, or the reason the fixed-horizon test gave.
void AddSequential(MetricComparison& r, std::int64_t n, const AnalysisSpec& analysis) {
  const stats::SequentialOptions o{analysis.alpha, analysis.tuning_n, stats::Sided::kTwo};
  auto sequential = [&](stats::Reason reason, const stats::Effect& effect) {
    return reason == stats::Reason::kOk ? stats::SequentialTest(effect.estimate, effect.se, n, o)
                                        : stats::SequentialResult{reason, effect.estimate, {}, 1};
  };
  const bool adjusted = r.cuped && r.cuped->adjusted.reason == stats::Reason::kOk;
  r.sequential =
      sequential(r.fixed.reason, adjusted ? r.cuped->adjusted.absolute : r.fixed.absolute);
  r.sequential_relative =
      sequential(r.fixed.reason != stats::Reason::kOk ? r.fixed.reason : r.fixed.relative_reason,
                 r.fixed.relative);
}

}  // namespace

std::optional<Metric> MetricByName(std::string_view name) {
  for (const auto& [m, n] : kNames) {
    if (n == name) return m;
  }
  return std::nullopt;
}

std::string_view MetricName(Metric m) {
  for (const auto& [metric, n] : kNames) {
    if (metric == m) return n;
  }
  return "unknown";
}

MetricComparison CompareMetric(Metric metric, const BucketTotals& baseline,
                               const BucketTotals& variant, const AnalysisSpec& analysis) {
  MetricComparison r;
  r.metric = metric;
  const double alpha = analysis.alpha;
  switch (metric) {
    case Metric::kBindRate:
      r.fixed = stats::CompareProportions(Count(baseline.binders), Count(baseline.users),
                                          Count(variant.binders), Count(variant.users), alpha);
      break;
    case Metric::kBindsPerUser:
      r.fixed = stats::CompareMeans(
          stats::Moments::FromSums(Count(baseline.users), baseline.binds, baseline.binds_sq),
          stats::Moments::FromSums(Count(variant.users), variant.binds, variant.binds_sq), alpha);
      break;
    case Metric::kPremiumPerUser: CompareCents(r, baseline, variant, PremiumOf, alpha); break;
    case Metric::kRevenuePerUser: CompareCents(r, baseline, variant, RevenueOf, alpha); break;
    case Metric::kClickRate: {
      auto ratio = [](const BucketTotals& t) {
        return stats::CoMoments::FromSums(Count(t.users), t.impressions, t.impressions_sq, t.clicks,
                                          t.clicks_sq, t.clicks_x_impressions);
      };
      r.fixed = stats::CompareRatios(ratio(baseline), ratio(variant), alpha);
      break;
    }
  }
  AddSequential(r, Count(baseline.users + variant.users), analysis);
  return r;
}

MetricComparison ComparePremiumCapped(std::span<const double> baseline,
                                      std::span<const double> variant, const AnalysisSpec& analysis,
                                      double* cap) {
  std::vector<double> pooled(baseline.begin(), baseline.end());
  pooled.insert(pooled.end(), variant.begin(), variant.end());
  const double q = analysis.premium_cap_quantile > 0 ? analysis.premium_cap_quantile : 1.0;
  const double c = stats::Quantile(pooled, q);
  if (cap) *cap = c;
  auto moments = [c](std::span<const double> values) {
    stats::Moments m;
    for (const double v : values) m += stats::Moments{1, std::min(v, c), 0};
    return m;
  };
  MetricComparison r;
  r.metric = Metric::kPremiumPerUser;
  r.fixed = stats::CompareMeans(moments(baseline), moments(variant), analysis.alpha);
  AddSequential(r, static_cast<std::int64_t>(baseline.size() + variant.size()), analysis);
  return r;
}

GuardrailCheck CheckGuardrail(const Guardrail& guardrail, const BucketTotals& baseline,
                              const BucketTotals& variant, const AnalysisSpec& analysis) {
  GuardrailCheck g;
  const auto metric = MetricByName(guardrail.metric);
  const bool lower_limit = guardrail.min_relative_change.has_value();
  if (!metric || (!lower_limit && !guardrail.max_relative_change)) {
    g.reason = stats::Reason::kInvalidInput;
    return g;
  }
  g.limit = lower_limit ? *guardrail.min_relative_change : *guardrail.max_relative_change;
  const MetricComparison m = CompareMetric(*metric, baseline, variant, analysis);
  if (m.fixed.reason != stats::Reason::kOk || m.fixed.relative_reason != stats::Reason::kOk) {
    g.reason = m.fixed.reason != stats::Reason::kOk ? m.fixed.reason : m.fixed.relative_reason;
    return g;
  }
  g.relative_change = m.fixed.relative.estimate;
  const stats::SequentialOptions o{analysis.alpha, analysis.tuning_n,
                                   lower_limit ? stats::Sided::kLess : stats::Sided::kGreater};
  const stats::SequentialResult s =
      stats::SequentialTest(m.fixed.relative.estimate, m.fixed.relative.se,
                            Count(baseline.users + variant.users), o, g.limit);
  g.reason = s.reason;
  g.bound = lower_limit ? s.ci.high : s.ci.low;
  g.p_value = s.p_value;
  g.breached =
      s.reason == stats::Reason::kOk && (lower_limit ? s.ci.high < g.limit : s.ci.low > g.limit);
  return g;
}

BucketSrm SampleRatioOfBuckets(const std::map<std::string, BucketTotals>& totals,
                               const PopulationSplit& population, const Experiment& experiment,
                               double threshold, std::int64_t min_total) {
  BucketSrm out;
  auto add = [&](const std::string& bucket, double weight) {
    const auto it = totals.find(bucket);
    out.buckets.push_back(bucket);
    out.users.push_back(it == totals.end() ? 0 : Count(it->second.users));
    out.expected_weights.push_back(weight);
  };
  add("holdout", population.holdout);
  add("exploration", population.exploration);
  const double rest = 1 - population.holdout - population.exploration;
  if (experiment.phase == Phase::kRollout) {
    // Every enrolled user now gets the rollout variant: the split no longer holds, but the
    // population's shares do. The variants are pooled against holdout and exploration.
    std::int64_t enrolled = 0;
    for (const auto& v : experiment.variants) {
      const auto it = totals.find(v.name);
      if (it != totals.end()) enrolled += Count(it->second.users);
    }
    out.buckets.push_back(std::string(kRolloutPool));
    out.users.push_back(enrolled);
    out.expected_weights.push_back(rest);
  } else {
    for (const auto& v : experiment.variants) add(v.name, rest * v.weight);
  }
  out.result = stats::SampleRatioTest(out.users, out.expected_weights, threshold, min_total);
  out.sequential =
      stats::SequentialSampleRatioTest(out.users, out.expected_weights, {.threshold = threshold});
  return out;
}

}  // namespace abrec
