#include "eventstore/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace abrec {

int LatencyHistogram::BinOf(std::int64_t latency_us) {
  if (latency_us <= 0) return 0;
  const double b = std::floor(8 * std::log2(static_cast<double>(latency_us) + 1));
  return static_cast<int>(std::clamp(b, 0.0, static_cast<double>(kBins - 1)));
}

double LatencyHistogram::BinMiddleUs(int bin) {
  return std::exp2((static_cast<double>(bin) + 0.5) / 8) - 1;
}

void LatencyHistogram::Add(int bin, std::int64_t n, std::int64_t fallbacks_in_bin) {
  counts[static_cast<std::size_t>(std::clamp(bin, 0, kBins - 1))] += n;
  exposures += n;
  fallbacks += fallbacks_in_bin;
}

LatencyHistogram& LatencyHistogram::operator+=(const LatencyHistogram& o) {
  for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += o.counts[i];
  exposures += o.exposures;
  fallbacks += o.fallbacks;
  return *this;
}

std::optional<double> LatencyHistogram::QuantileUs(double q) const {
  if (exposures <= 0 || !(q > 0 && q <= 1)) return std::nullopt;
  const auto rank = static_cast<std::int64_t>(std::ceil(q * static_cast<double>(exposures)));
  std::int64_t seen = 0;
  for (int b = 0; b < kBins; ++b) {
    seen += counts[static_cast<std::size_t>(b)];
    if (seen >= rank) return BinMiddleUs(b);
  }
  return BinMiddleUs(kBins - 1);
}

std::optional<double> LatencyHistogram::FallbackRate() const {
  if (exposures <= 0) return std::nullopt;
  return static_cast<double>(fallbacks) / static_cast<double>(exposures);
}

}  // namespace abrec
