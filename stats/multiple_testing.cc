#include "stats/multiple_testing.h"

#include <algorithm>
#include <numeric>

namespace abrec::stats {
namespace {

// Indices of p in ascending order of p (ties by index, so the result is deterministic).
std::vector<std::size_t> Ascending(std::span<const double> p) {
  std::vector<std::size_t> order(p.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
  return order;
}

}  // namespace

std::vector<double> HolmAdjusted(std::span<const double> p) {
  const std::size_t m = p.size();
  std::vector<double> out(m);
  double running = 0;  // p₍ᵢ₎ adjusted = max over j ≤ i of min(1, (m − j + 1) p₍ⱼ₎)
  const auto order = Ascending(p);
  for (std::size_t i = 0; i < m; ++i) {
    running = std::max(running, std::min(1.0, static_cast<double>(m - i) * p[order[i]]));
    out[order[i]] = running;
  }
  return out;
}

std::vector<double> BenjaminiHochbergAdjusted(std::span<const double> p) {
  const std::size_t m = p.size();
  std::vector<double> out(m);
  double running = 1;  // p₍ᵢ₎ adjusted = min over j ≥ i of min(1, m p₍ⱼ₎ / j)
  const auto order = Ascending(p);
  for (std::size_t i = m; i-- > 0;) {
    running = std::min(
        running, std::min(1.0, static_cast<double>(m) * p[order[i]] / static_cast<double>(i + 1)));
    out[order[i]] = running;
  }
  return out;
}

}  // namespace abrec::stats
