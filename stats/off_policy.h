// Off-policy evaluation: the click or bind rate a candidate policy would have had, estimated
// from rounds logged by another policy with known propensities (the exploration bucket's
// uniformly random recommendations). Estimators as in the Open Bandit Pipeline
// (st-tech/zr-obp, obp/ope/estimators.py), with normal intervals:
//   IPS    V = mean(w·r), w = π_e(a|x)/π_b(a|x)
//   SNIPS  V = Σ w·r / Σ w (self-normalised; delta-method standard error)
//   DR     V = mean(q̂(x, π_e) + w·(r − q̂(x, a)))
#pragma once

#include <span>

#include "stats/result.h"

namespace abrec::stats {

// One logged round: the action the logging policy took, its reward and probabilities.
struct LoggedRound {
  double reward = 0;
  double logging_propensity = 1;  // π_b(a|x) of the logged action, > 0
  double target_propensity = 0;   // π_e(a|x) of the same action
  // For DR: a reward model's prediction for the logged action, and its expectation under
  // the target policy, Σ_a' π_e(a'|x) q̂(x, a').
  double model_logged = 0;
  double model_target = 0;
};

struct OpeEstimate {
  // kTooFewUnits: fewer than 2 rounds, or no weight at all; kInvalidInput: a propensity out
  // of range (a logging propensity of 0 cannot be reweighted).
  Reason reason = Reason::kOk;
  double value = 0;
  double se = 0;
  Interval ci;
  double effective_sample_size = 0;  // (Σw)² / Σw²: how many rounds the estimate is worth
};

OpeEstimate InversePropensity(std::span<const LoggedRound> rounds, double alpha = 0.05);
OpeEstimate SelfNormalized(std::span<const LoggedRound> rounds, double alpha = 0.05);
OpeEstimate DoublyRobust(std::span<const LoggedRound> rounds, double alpha = 0.05);

}  // namespace abrec::stats
