// Sample ratio mismatch, anytime valid: the Dirichlet-multinomial test of Lindon and Malek,
// "Anytime-Valid Inference for Multinomial Count Data" (NeurIPS 2022; arXiv 2011.03567), as
// Optimizely's ssrm package implements it (github.com/optimizely/ssrm, ssrm_test/ssrm_test.py).
//
// H0: each user lands in bucket i with probability θ₀ᵢ, the shares the assignment promises.
// Alternative: a mixture over θ ~ Dirichlet(α), α = c·θ₀ (centred on H0, concentration c).
// With nᵢ users in bucket i, N = Σ nᵢ and A = Σ αᵢ, the Bayes factor of the mixture against
// H0 is (the multinomial coefficients cancel)
//   BF = Γ(A) / Γ(A + N) · Πᵢ Γ(αᵢ + nᵢ) / Γ(αᵢ) / Πᵢ θ₀ᵢ^nᵢ.
// Under H0, BF taken after each user is a non-negative martingale of mean 1, so by Ville's
// inequality P(BF ever ≥ 1/a) ≤ a: min(1, 1/BF) is a p-value valid at every look at once,
// however often one looks (daily, on every request), and the anytime-valid p-value is
// p_n = min(1, min_{t ≤ n} 1/BF_t). The mixture is exchangeable, so BF at a look depends only
// on that look's counts, not on the order users came in: keeping the running minimum over
// looks (RunningMinimumP, stats/sequential.h) is the caller's only state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "stats/result.h"

namespace abrec::stats {

struct SequentialSrmOptions {
  // The Dirichlet concentration c (α = c·θ₀). A share θ₀ has prior standard deviation
  // √(θ₀(1 − θ₀)/(c + 1)): at c = 10,000 about 0.005 for a 45% arm, the size of a logging
  // bug that loses 1% of an arm's exposures (0.0025). Larger c: more power against small
  // mismatches at millions of users, slower on gross ones in the first c users; smaller c the
  // reverse. The default of Optimizely's ssrm (dirichlet_concentration=10000).
  double concentration = 10'000;
  double threshold = 0.001;  // a mismatch when p < threshold (SampleRatioTest's default)
};

struct SequentialSrmResult {
  // kInvalidInput: as SrmBuckets (stats/srm.h), or a concentration not > 0 and finite.
  Reason reason = Reason::kOk;
  double log_bayes_factor = 0;  // ln BF; +inf with unexpected users
  // min(1, 1/BF) at this look: valid at every look at once. Report the running minimum over
  // looks (RunningMinimumP); a decision may use this look's value alone.
  double p_value = 1;
  bool mismatch = false;  // p_value < threshold, or unexpected users
  // A bucket of weight 0 that holds users (the caller's index): a mismatch at once, p = 0.
  std::optional<std::size_t> unexpected_bucket;
};

// `counts[i]` users in bucket i so far, `weights[i]` ≥ 0 its expected share (normalised here);
// buckets of weight 0 as in SrmBuckets (stats/srm.h). No minimum sample: with few users BF
// stays near 1. Works in log space (ln Γ), exact for any count up to 2⁵³. Thread-safe.
SequentialSrmResult SequentialSampleRatioTest(std::span<const std::int64_t> counts,
                                              std::span<const double> weights,
                                              const SequentialSrmOptions& options = {});

// ln BF above for any Dirichlet(α) mixture (ssrm's dirichlet_probability × concentration).
// Requires counts, theta0 and alpha of one size, counts ≥ 0, theta0 > 0 summing to 1 and
// alpha > 0; nothing is checked.
double DirichletMultinomialLogBayesFactor(std::span<const std::int64_t> counts,
                                          std::span<const double> theta0,
                                          std::span<const double> alpha);

}  // namespace abrec::stats
