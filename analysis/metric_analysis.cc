#include "analysis/metric_analysis.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "stats/fixed_horizon.h"
#include "stats/ratio_metric.h"

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

// A per-user outcome's sums in a bucket, their cross sums with the covariates (x: premium
// held before, in cents; z: products held), and its unit (cents for amounts, shown in
// currency units).
struct Outcome {
  Int128 sum, sum_sq, x_cross, z_cross;
  double unit = 1;
};
Outcome OutcomeOf(Metric m, const BucketTotals& t) {
  switch (m) {
    case Metric::kBindRate: return {t.binders, t.binders, t.x_binders, t.z_binders, 1};
    case Metric::kBindsPerUser: return {t.binds, t.binds_sq, t.x_binds, t.z_binds, 1};
    case Metric::kPremiumPerUser:
      return {t.premium_cents, t.premium_cents_sq, t.x_premium, t.z_premium, 100};
    case Metric::kRevenuePerUser:
      return {t.revenue_cents, t.revenue_cents_sq, t.x_revenue, t.z_revenue, 100};
    case Metric::kClickRate: break;
  }
  return {};
}

stats::Moments MomentsOf(const BucketTotals& t, const Outcome& y) {
  stats::Moments m = stats::Moments::FromSums(Count(t.users), y.sum, y.sum_sq);
  m.mean /= y.unit;
  m.m2 /= y.unit * y.unit;
  return m;
}

// The plain estimate of an arm's mean: s²/n, or p(1 − p)/n for a rate (the Wald variance
// statsmodels' interval of a difference of proportions uses).
stats::ArmMean PlainMean(Metric metric, const stats::Moments& m) {
  const double mean = static_cast<double>(m.mean);
  if (metric == Metric::kBindRate) return {mean, mean * (1 - mean) / m.n};
  return {mean, static_cast<double>(m.Variance()) / m.n};
}

// Both covariates, premium held before and products held (users without covariates count
// with 0 for both; stats/cuped.h).
stats::CovariateMoments WithCovariates(const BucketTotals& t, const Outcome& y) {
  const stats::CovariateSums x[] = {{t.x, t.x_sq, y.x_cross}, {t.z, t.z_sq, y.z_cross}};
  return stats::CovariateMoments::FromSums(Count(t.users), y.sum, y.sum_sq, x, t.x_z);
}

// Scales an adjusted estimate from the outcome's stored unit (cents) to the reported one.
stats::ArmMean InUnit(const stats::ArmMean& a, double unit) {
  return {a.mean / unit, a.variance / (unit * unit)};
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

double MetricComparison::DifferenceSe() const {
  return std::sqrt(control.variance + treatment.variance);
}

MetricComparison CompareMetric(Metric metric, const BucketTotals& baseline,
                               const BucketTotals& variant, const AnalysisSpec& analysis) {
  MetricComparison r;
  r.metric = metric;
  r.users = Count(baseline.users + variant.users);
  const double alpha = analysis.alpha;
  if (metric == Metric::kClickRate) {
    auto ratio = [](const BucketTotals& t) {
      return stats::CoMoments::FromSums(Count(t.users), t.impressions, t.impressions_sq, t.clicks,
                                        t.clicks_sq, t.clicks_x_impressions);
    };
    r.fixed = stats::CompareRatios(ratio(baseline), ratio(variant), alpha);
    const stats::RatioEstimate c = stats::Ratio(ratio(baseline)), t = stats::Ratio(ratio(variant));
    r.reason = r.fixed.reason;
    r.control = {c.ratio, c.variance};
    r.treatment = {t.ratio, t.variance};
    return r;
  }
  const Outcome yc = OutcomeOf(metric, baseline), yt = OutcomeOf(metric, variant);
  const stats::Moments mc = MomentsOf(baseline, yc), mt = MomentsOf(variant, yt);
  if (metric == Metric::kBindRate) {
    r.fixed = stats::CompareProportions(Count(baseline.binders), Count(baseline.users),
                                        Count(variant.binders), Count(variant.users), alpha);
  } else {
    r.fixed = stats::CompareMeans(mc, mt, alpha);
  }
  r.reason = r.fixed.reason;
  r.control = PlainMean(metric, mc);
  r.treatment = PlainMean(metric, mt);
  if (r.reason == stats::Reason::kOk &&
      (baseline.covariate_users > 0 || variant.covariate_users > 0)) {
    r.adjusted =
        stats::RegressionAdjusted(WithCovariates(baseline, yc), WithCovariates(variant, yt));
    if (r.adjusted->reason == stats::Reason::kOk) {
      r.adjusted->control = InUnit(r.adjusted->control, yc.unit);
      r.adjusted->treatment = InUnit(r.adjusted->treatment, yt.unit);
      r.control = r.adjusted->control;
      r.treatment = r.adjusted->treatment;
    }
  }
  return r;
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
    out.buckets.emplace_back(kRolloutPool);
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
