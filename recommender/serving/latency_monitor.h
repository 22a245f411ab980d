// The p99 monitor of the treatment pipeline, a circuit breaker: it keeps the latencies of
// the last `window` pipeline runs; once at least `min_samples` are in and their 99th
// percentile exceeds the threshold, it trips: the treatment arm serves the rule-based list
// (fallback "p99_monitor") for `cooldown`. Then it closes again with an empty window and
// measures afresh; if the pipeline is still slow it trips again after `min_samples` runs.
// Thread-safe; the lock is held for a few hundred nanoseconds per request.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

namespace abrec {

struct LatencyMonitorOptions {
  double threshold_ms = 200;
  std::size_t window = 1000;
  std::size_t min_samples = 100;
  std::int64_t cooldown_us = 10'000'000;
};

class LatencyMonitor {
 public:
  explicit LatencyMonitor(LatencyMonitorOptions options);

  // Whether the pipeline may run now (false while tripped).
  bool Allow(std::int64_t now_us);
  // Records one pipeline run's latency; may trip the breaker.
  void Record(std::int64_t latency_us, std::int64_t now_us);

  struct Snapshot {
    bool tripped = false;
    double p99_ms = 0;  // of the current window (0 when empty)
    std::size_t samples = 0;
    std::uint64_t trips = 0;  // since start
  };
  Snapshot snapshot(std::int64_t now_us) const;

 private:
  double P99Locked() const;

  LatencyMonitorOptions options_;
  mutable std::mutex mu_;
  std::vector<std::int64_t> ring_;
  std::size_t next_ = 0;
  std::size_t filled_ = 0;
  std::size_t since_check_ = 0;
  std::int64_t tripped_until_us_ = 0;
  std::uint64_t trips_ = 0;
};

}  // namespace abrec
