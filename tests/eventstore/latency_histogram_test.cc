#include "eventstore/latency_histogram.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <doctest/doctest.h>

namespace abrec {

TEST_CASE("bins: 8 per doubling, from 0 µs to an hour") {
  CHECK(LatencyHistogram::BinOf(0) == 0);
  CHECK(LatencyHistogram::BinOf(-5) == 0);
  CHECK(LatencyHistogram::BinOf(1) == 8);      // log2(2) = 1
  CHECK(LatencyHistogram::BinOf(1023) == 80);  // log2(1024) = 10
  CHECK(LatencyHistogram::BinOf(3'600'000'000) == 253);  // an hour: 8·log2(3.6e9)
  CHECK(LatencyHistogram::BinOf(std::int64_t{1} << 62) == LatencyHistogram::kBins - 1);
  for (int b = 0; b < LatencyHistogram::kBins - 1; ++b) {
    const double mid = LatencyHistogram::BinMiddleUs(b);
    CHECK(mid > std::exp2(b / 8.0) - 1);
    CHECK(mid < std::exp2((b + 1) / 8.0) - 1);
  }
}

// The oracle: the exact order statistic of the raw latencies; the histogram's answer must
// lie within its bin, i.e. within 9% (2^(1/8) − 1) of it, for latencies of a few ms.
TEST_CASE("quantiles agree with the exact order statistics to within a bin") {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(std::log(2'000.0), 0.8);  // µs: ~2 ms median
  std::vector<std::int64_t> raw;
  LatencyHistogram h;
  for (int i = 0; i < 50'000; ++i) {
    const auto us = static_cast<std::int64_t>(latency(rng));
    raw.push_back(us);
    h.Add(LatencyHistogram::BinOf(us), 1, i % 10 == 0 ? 1 : 0);
  }
  std::sort(raw.begin(), raw.end());
  for (const double q : {0.5, 0.9, 0.99, 0.999}) {
    const auto exact = static_cast<double>(
        raw[static_cast<std::size_t>(std::ceil(q * static_cast<double>(raw.size()))) - 1]);
    const double got = *h.QuantileUs(q);
    CHECK(std::abs(got - exact) / exact < 0.0905);
  }
  CHECK(*h.FallbackRate() == doctest::Approx(0.1));
  LatencyHistogram sum = h;
  sum += h;
  CHECK(sum.exposures == 100'000);
  CHECK(*sum.QuantileUs(0.5) == *h.QuantileUs(0.5));
  CHECK_FALSE(LatencyHistogram{}.QuantileUs(0.5).has_value());
  CHECK_FALSE(h.QuantileUs(0).has_value());
}

}  // namespace abrec
