// Capping (winsorising) a heavy-tailed per-user metric such as premium at a quantile of its
// distribution before testing: a few very large policies otherwise dominate the variance.
// The cap is the empirical quantile (type 7, linear interpolation, as numpy's default);
// values above it are set to it.
#pragma once

#include <span>
#include <vector>

namespace abrec::stats {

// The `q` quantile (0 ≤ q ≤ 1) of the values; 0 for no values.
double Quantile(std::span<const double> values, double q);

// The values with everything above their `q` quantile replaced by it; also returns the cap.
std::vector<double> Winsorize(std::span<const double> values, double q, double* cap = nullptr);

}  // namespace abrec::stats
