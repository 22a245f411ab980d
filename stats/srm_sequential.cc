#include "stats/srm_sequential.h"

#include <cmath>
#include <limits>
#include <vector>

#include "stats/boost_math.h"
#include "stats/srm.h"

namespace abrec::stats {

double DirichletMultinomialLogBayesFactor(std::span<const std::int64_t> counts,
                                          std::span<const double> theta0,
                                          std::span<const double> alpha) {
  double alpha_sum = 0, total = 0, log_bf = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    alpha_sum += alpha[i];
    if (counts[i] == 0) continue;  // Γ(α)/Γ(α) and θ⁰: exactly 1
    const double n = static_cast<double>(counts[i]);
    total += n;
    log_bf += LogGamma(alpha[i] + n) - LogGamma(alpha[i]) - n * std::log(theta0[i]);
  }
  if (total == 0) return 0;
  return log_bf + LogGamma(alpha_sum) - LogGamma(alpha_sum + total);
}

SequentialSrmResult SequentialSampleRatioTest(std::span<const std::int64_t> counts,
                                              std::span<const double> weights,
                                              const SequentialSrmOptions& options) {
  SequentialSrmResult r;
  const SrmBuckets b = PrepareSrmBuckets(counts, weights);
  r.reason = options.concentration > 0 && std::isfinite(options.concentration)
                 ? b.reason
                 : Reason::kInvalidInput;
  if (r.reason != Reason::kOk) return r;
  if (b.unexpected_bucket) {
    r.unexpected_bucket = b.unexpected_bucket;
    r.log_bayes_factor = std::numeric_limits<double>::infinity();
    r.p_value = 0;
    r.mismatch = true;
    return r;
  }
  std::vector<double> alpha(b.shares);
  for (double& a : alpha) a *= options.concentration;
  r.log_bayes_factor = DirichletMultinomialLogBayesFactor(b.counts, b.shares, alpha);
  r.p_value = r.log_bayes_factor > 0 ? std::exp(-r.log_bayes_factor) : 1.0;
  r.mismatch = r.p_value < options.threshold;
  return r;
}

}  // namespace abrec::stats
