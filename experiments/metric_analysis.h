// The metric vocabulary of DESIGN.md computed from a bucket's sums (aggregates.h) with the
// stats engine: one call per metric and pair of buckets, fixed horizon and sequential, CUPED
// where covariates exist. What the report (issue 6) assembles, per variant and metric.
#pragma once

#include <optional>
#include <string_view>

#include "experiments/aggregates.h"
#include "experiments/experiment.h"
#include "stats/cuped.h"
#include "stats/result.h"
#include "stats/sequential.h"

namespace abrec {

enum class Metric {
  kClickRate,  // Σ clicks / Σ impressions, the user as the unit (a ratio metric)
  kBindRate,   // binding users / exposed users
  kBindsPerUser,
  kPremiumPerUser,  // annual premium bound per exposed user, in currency units
};

std::optional<Metric> MetricByName(std::string_view name);
std::string_view MetricName(Metric m);

struct MetricComparison {
  Metric metric = Metric::kBindRate;
  stats::Comparison fixed;             // fixed horizon, `analysis.alpha`
  stats::SequentialResult sequential;  // always valid, on the absolute difference
  // Premium per user with pre-experiment premium as covariate, when covariates were posted.
  std::optional<stats::CupedComparison> cuped;
};

// `baseline` against `variant` (control against a treatment, or the holdout against an arm
// for uplift). `one_sided` for guardrails.
MetricComparison CompareMetric(Metric metric, const BucketTotals& baseline,
                               const BucketTotals& variant, const AnalysisSpec& analysis,
                               bool one_sided = false);

}  // namespace abrec
