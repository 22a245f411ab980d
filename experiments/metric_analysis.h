// The metric vocabulary of DESIGN.md computed from a bucket's sums (aggregates.h) with the
// stats engine: one call per metric and pair of buckets, fixed horizon and sequential, CUPED
// where covariates exist. What the report (issue 6) assembles, per variant and metric.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "assignment/population.h"
#include "experiments/aggregates.h"
#include "experiments/experiment.h"
#include "stats/cuped.h"
#include "stats/result.h"
#include "stats/sequential.h"
#include "stats/srm.h"
#include "stats/srm_sequential.h"

namespace abrec {

enum class Metric {
  kClickRate,  // Σ clicks / Σ impressions, the user as the unit (a ratio metric)
  kBindRate,   // binding users / exposed users
  kBindsPerUser,
  kPremiumPerUser,  // annual premium bound per exposed user, in currency units
  kRevenuePerUser,  // premium × the product's catalog margin, per exposed user
};

std::optional<Metric> MetricByName(std::string_view name);
std::string_view MetricName(Metric m);

struct MetricComparison {
  Metric metric = Metric::kBindRate;
  stats::Comparison fixed;                      // fixed horizon, `analysis.alpha`
  stats::SequentialResult sequential;           // always valid, on the absolute difference
  stats::SequentialResult sequential_relative;  // always valid, on the relative lift
  // Premium and revenue per user with pre-experiment premium as covariate, when covariates
  // were posted.
  std::optional<stats::CupedComparison> cuped;
};

// `baseline` against `variant` (control against a treatment, or the holdout against an arm
// for uplift).
MetricComparison CompareMetric(Metric metric, const BucketTotals& baseline,
                               const BucketTotals& variant, const AnalysisSpec& analysis);

// A statistical guardrail (`min_relative_change` / `max_relative_change` on a metric): the
// one-sided sequential test of the relative change against its limit. Breached when the
// confidence sequence lies entirely beyond the limit: below min_relative_change (an upper
// bound under it), or above max_relative_change. Operational thresholds (`max` / `min`,
// e.g. latency_p99_ms) are not tests and are checked where the figure is measured.
struct GuardrailCheck {
  stats::Reason reason = stats::Reason::kOk;  // kInvalidInput: not a statistical guardrail
  double relative_change = 0;
  double limit = 0;
  double bound = 0;    // the sequence's upper bound (min_...) or lower bound (max_...)
  double p_value = 1;  // always valid, of "the limit is not crossed"
  bool breached = false;
};
GuardrailCheck CheckGuardrail(const Guardrail& guardrail, const BucketTotals& baseline,
                              const BucketTotals& variant, const AnalysisSpec& analysis);

// Premium per user with per-user premium capped (winsorised) at the `analysis`'s
// premium_cap_quantile of both arms together: one cap for both, so that the comparison stays
// fair. Per-user premiums in currency units (from user_totals); `cap` receives the cap.
MetricComparison ComparePremiumCapped(std::span<const double> baseline,
                                      std::span<const double> variant, const AnalysisSpec& analysis,
                                      double* cap = nullptr);

// Sample ratio mismatch over every bucket of an experiment, against the weights the
// assignment promises (DESIGN.md): holdout h, exploration e, variant i (1 − h − e)·wᵢ.
// Buckets missing from `totals` count 0 users. Buckets of weight 0 are kept: users in one
// are a mismatch at once (`unexpected_bucket` in either result indexes `buckets`).
struct BucketSrm {
  std::vector<std::string> buckets;  // holdout, exploration, the variants (rollout: pooled)
  std::vector<std::int64_t> users;
  std::vector<double> expected_weights;
  stats::SrmResult result;  // Pearson's χ²: valid at a single look
  // The anytime-valid test at the same threshold: valid however often the report is read
  // (its p-value at this look; a mismatch it finds is real whenever it is seen).
  stats::SequentialSrmResult sequential;
};
// The name of the pooled variants in a rollout's sample ratio test.
inline constexpr std::string_view kRolloutPool = "variants (rollout)";

BucketSrm SampleRatioOfBuckets(const std::map<std::string, BucketTotals>& totals,
                               const PopulationSplit& population, const Experiment& experiment,
                               double threshold = 0.001, std::int64_t min_total = 1'000);

}  // namespace abrec
