// Serving latency per (experiment, bucket), kept as a histogram with logarithmic bins so
// that the report and the operational guardrails (latency_p99_ms, fallback_rate) read
// quantiles from the aggregates, whatever the number of exposures. Bin b holds latencies
// in [2^(b/8) − 1, 2^((b+1)/8) − 1) µs: 8 bins per doubling, so a quantile is known to within
// 9% (its bin's width), and 1 µs to an hour takes 256 bins.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace abrec {

struct LatencyHistogram {
  static constexpr int kBins = 256;
  static int BinOf(std::int64_t latency_us);
  // The geometric middle of bin b, in microseconds: what a quantile in that bin reports.
  static double BinMiddleUs(int bin);

  std::array<std::int64_t, kBins> counts{};
  std::int64_t exposures = 0;  // the sum of counts
  std::int64_t fallbacks = 0;  // exposures served by the rule-based fallback

  void Add(int bin, std::int64_t n, std::int64_t fallbacks_in_bin);
  LatencyHistogram& operator+=(const LatencyHistogram& o);
  // The q quantile (0 < q ≤ 1) in microseconds: the middle of the bin holding the
  // ⌈q·n⌉-th smallest latency; nullopt without exposures.
  std::optional<double> QuantileUs(double q) const;
  std::optional<double> FallbackRate() const;
};

// Per bucket.
using LatencyByBucket = std::map<std::string, LatencyHistogram>;

}  // namespace abrec
