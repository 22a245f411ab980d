// The metric vocabulary of DESIGN.md computed from a bucket's sums (aggregates.h) with the
// stats engine: one call per metric and pair of buckets, fixed horizon and sequential, CUPED
// where covariates exist. What the report (issue 6) assembles, per variant and metric.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "assignment/population.h"
#include "eventstore/aggregates.h"
#include "experiments/experiment.h"
#include "stats/cuped.h"
#include "stats/relative_interval.h"
#include "stats/result.h"
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
  // Fixed horizon at `analysis.alpha`, as statsmodels/scipy compute it on the plain values
  // (pooled z for a rate, Welch for a mean, the delta method for a ratio metric).
  stats::Comparison fixed;
  // What the decision and the confidence sequences read: each arm's estimate and the
  // variance of that estimate (unpooled), regression-adjusted on the pre-experiment
  // covariates when they were posted (`adjusted`). kOk, or why there is no estimate yet.
  stats::Reason reason = stats::Reason::kOk;
  stats::ArmMean control, treatment;
  std::int64_t users = 0;  // in both arms: the sequences' N
  // CUPED (stats/cuped.h) on premium held before and products held, for every metric but
  // click_rate (a ratio metric), when any user of either arm has covariates.
  std::optional<stats::AdjustedMeans> adjusted;

  // The absolute effect the decision reads and its standard error.
  double Difference() const { return treatment.mean - control.mean; }
  double DifferenceSe() const;
};

// `baseline` against `variant` (control against a treatment, or the holdout against an arm
// for uplift).
MetricComparison CompareMetric(Metric metric, const BucketTotals& baseline,
                               const BucketTotals& variant, const AnalysisSpec& analysis);

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
