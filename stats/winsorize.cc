#include "stats/winsorize.h"

#include <algorithm>
#include <cmath>

namespace abrec::stats {

double Quantile(std::span<const double> values, double q) {
  if (values.empty()) return 0;
  std::vector<double> v(values.begin(), values.end());
  q = std::clamp(q, 0.0, 1.0);
  const double h = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(h));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(lo), v.end());
  const double a = v[lo];
  if (lo + 1 >= v.size()) return a;
  const double b = *std::min_element(v.begin() + static_cast<std::ptrdiff_t>(lo) + 1, v.end());
  return a + (h - static_cast<double>(lo)) * (b - a);
}

std::vector<double> Winsorize(std::span<const double> values, double q, double* cap) {
  const double c = Quantile(values, q);
  if (cap) *cap = c;
  std::vector<double> out(values.begin(), values.end());
  for (double& x : out) x = std::min(x, c);
  return out;
}

}  // namespace abrec::stats
