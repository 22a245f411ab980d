#include "recommender/serving/latency_monitor.h"

#include <algorithm>

namespace abrec {

LatencyMonitor::LatencyMonitor(LatencyMonitorOptions options)
    : options_(options), ring_(std::max<std::size_t>(options.window, 1)) {
  options_.min_samples = std::clamp<std::size_t>(options_.min_samples, 1, ring_.size());
}

bool LatencyMonitor::Allow(std::int64_t now_us) {
  std::lock_guard lock(mu_);
  return now_us >= tripped_until_us_;
}

double LatencyMonitor::P99Locked() const {
  if (filled_ == 0) return 0;
  std::vector<std::int64_t> v(ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(filled_));
  // The nearest-rank 99th percentile: the smallest value with at least 99% at or below it.
  const std::size_t rank = (filled_ * 99 + 99) / 100;  // ceil(0.99·n), ≥ 1
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(rank - 1), v.end());
  return static_cast<double>(v[rank - 1]) / 1000.0;
}

void LatencyMonitor::Record(std::int64_t latency_us, std::int64_t now_us) {
  std::lock_guard lock(mu_);
  if (now_us < tripped_until_us_) return;  // a run that started before the trip
  ring_[next_] = latency_us;
  next_ = (next_ + 1) % ring_.size();
  filled_ = std::min(filled_ + 1, ring_.size());
  // The percentile costs O(window): computed every tenth run once the window is full enough.
  if (filled_ < options_.min_samples || ++since_check_ < 10) return;
  since_check_ = 0;
  if (P99Locked() > options_.threshold_ms) {
    tripped_until_us_ = now_us + options_.cooldown_us;
    ++trips_;
    filled_ = next_ = 0;
  }
}

LatencyMonitor::Snapshot LatencyMonitor::snapshot(std::int64_t now_us) const {
  std::lock_guard lock(mu_);
  return {now_us < tripped_until_us_, P99Locked(), filled_, trips_};
}

}  // namespace abrec
