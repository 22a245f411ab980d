// The analyst's report of one experiment (DESIGN.md, "the report answers …"): assembled from
// the committed bucket totals and their daily history with the stats engine. The same JSON
// serves GET /v1/experiments/{key}/report and `abrec report`; the text form renders it.
//
// Every figure comes from the aggregates (sufficient statistics per bucket), so a report
// costs the same at ten thousand or ten million events. Sections whose data the aggregates
// do not hold say so with a "reason" instead of numbers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "assignment/population.h"
#include "eventstore/event_store.h"
#include "experiments/experiment.h"

namespace abrec {

struct ReportInputs {
  const Experiment* experiment = nullptr;
  PopulationSplit population{};
  BucketTotalsMap totals{};            // now
  std::vector<DailyTotals> history{};  // each day's closing totals, oldest first
  LatencyByBucket latency{};           // served latency since `latency_since`
  std::string latency_since{};         // "YYYY-MM-DD": see LatencySince
  ExposureCounters counters{};         // products shown, and per fairness group
  OffPolicyByTarget off_policy{};      // exploration's estimates of each variant's policy
  // The per-user amounts, when the experiment caps premium and revenue
  // (analysis.premium_cap_quantile); without them those metrics are tested uncapped.
  std::optional<AmountHistory> amounts{};
  std::int64_t now_us = 0;
  double srm_threshold = 0.001;  // DESIGN.md: SRM when χ² p < 0.001
  std::int64_t srm_min_users = 1'000;
};

// The first UTC day of the latency window: the last 7 days, today included.
inline constexpr int kLatencyWindowDays = 7;
std::string LatencySince(std::int64_t now_us);

// The report: {"experiment", "phase", "generated_at", "buckets", "srm", "metrics",
// "guardrails", "uplift_vs_holdout", "exploration", "fairness", "drift", "latency",
// "history", "decision"}.
nlohmann::ordered_json BuildReport(const ReportInputs& in);

// Reads the experiment's aggregates from `source` and builds its report as of `now_us`.
Result<nlohmann::ordered_json> ReportFrom(AggregateSource& source, const Experiment& experiment,
                                          const PopulationSplit& population, std::int64_t now_us);

// The report as text for a terminal: the decision first, then the figures behind it.
std::string RenderReportText(const nlohmann::ordered_json& report);

}  // namespace abrec
