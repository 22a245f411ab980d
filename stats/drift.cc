#include "stats/drift.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "stats/boost_math.h"

namespace abrec::stats {

DriftResult Drift(std::span<const std::int64_t> reference, std::span<const std::int64_t> current,
                  double floor) {
  DriftResult r;
  const auto total = [](std::span<const std::int64_t> c) {
    return static_cast<double>(std::accumulate(c.begin(), c.end(), std::int64_t{0}));
  };
  const double n_ref = total(reference), n_cur = total(current);
  if (reference.size() != current.size() || n_ref == 0 || n_cur == 0) {
    r.reason = Reason::kTooFewUnits;
    return r;
  }
  const double n = n_ref + n_cur;
  int categories = 0;
  for (std::size_t i = 0; i < reference.size(); ++i) {
    const double a = static_cast<double>(reference[i]), b = static_cast<double>(current[i]);
    const double p = std::max(a / n_ref, floor), q = std::max(b / n_cur, floor);
    r.psi += (q - p) * std::log(q / p);
    if (a + b == 0) continue;
    ++categories;
    // Expected counts under homogeneity: the category's pooled share times each window.
    const double ea = (a + b) * n_ref / n, eb = (a + b) * n_cur / n;
    r.chi_squared += (a - ea) * (a - ea) / ea + (b - eb) * (b - eb) / eb;
  }
  r.df = std::max(0, categories - 1);
  if (r.df > 0) {
    r.p_value = ChiSquaredUpperTail(r.df, r.chi_squared);
  }
  return r;
}

}  // namespace abrec::stats
