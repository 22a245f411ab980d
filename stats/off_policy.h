// Off-policy evaluation: the click or bind rate a candidate policy would have had, estimated
// from rounds logged by another policy with known propensities (the exploration bucket's
// uniformly random recommendations). Estimators as in the Open Bandit Pipeline
// (st-tech/zr-obp, obp/ope/estimators.py: InverseProbabilityWeighting,
// SelfNormalizedInverseProbabilityWeighting, DoublyRobust), with normal intervals:
//   IPS    V = mean(w·r), w = π_e(a|x)/π_b(a|x)
//   SNIPS  V = Σ w·r / Σ w
//   DR     V = mean(q̂(x, π_e) + w·(r − q̂(x, a)))
//
// Units and clusters. A unit is what the estimate averages: a logged round, or a list of
// several products (the exploration lists of eventstore/sqlite/off_policy_log.h). Per unit i,
//   y_i = Σ_a w_a r_a                                  the IPS term,
//   v_i                                                its weight, E[v_i | x_i] = 1 under the
//                                                      logging policy (w itself for a round),
//   z_i = y_i + q̂(x_i, π_e) − Σ_a w_a q̂(x_i, a)        the DR term,
// and IPS = Σy/n, SNIPS = Σy/Σv, DR = Σz/n over the n units. Units are grouped into clusters g,
// the unit of randomisation (a user, who may have several lists): with the cluster totals
// N_g (units), Y_g, V_g and Z_g, each estimate V = Σ_g A_g / Σ_g B_g has the cluster-robust
// (CR1) variance
//   Var(V) = G/(G−1) · Σ_g (A_g − V·B_g)² / (Σ_g B_g)²
// with (A, B) = (Y, N) for IPS, (Y, V) for SNIPS (the ratio linearised) and (Z, N) for DR:
// Cameron and Miller, "A practitioner's guide to cluster-robust inference", J. Human
// Resources 50(2), 2015, section IV (their small-sample factor G/(G−1)·(N−1)/(N−K) with
// K = 1 regressor). This is statsmodels' OLS(a, 1).fit(cov_type="cluster") for IPS and DR,
// and WLS(y/v, 1, weights=v) with the same covariance for SNIPS. A unit that is its own
// cluster gives the usual iid standard error s/√n.
#pragma once

#include <cstdint>
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
  // The round's cluster (the unit of randomisation, e.g. a user id's number); a negative
  // value makes the round its own cluster.
  std::int64_t cluster = -1;
};

// One unit's terms (y, v, z above), or a cluster's totals of them.
struct OpeTerms {
  double y = 0;
  double v = 0;
  double z = 0;
};

// The sufficient statistics of the three estimators and their clustered variances: sums over
// units and over clusters. Mergeable (+= over disjoint sets of clusters), and kept up to date
// by delta: a unit or a cluster that changes is removed with its old terms (sign −1) and added
// with its new ones (sign +1).
struct OpeSums {
  std::int64_t units = 0;
  double y = 0, v = 0, z = 0;  // Σ_i y_i, Σ_i v_i, Σ_i z_i
  double v_sq = 0;             // Σ_i v_i², for Kish's effective sample size (Σv)²/Σv²
  std::int64_t clusters = 0;   // clusters with at least one unit
  // Σ_g of the products of the cluster totals N_g, Y_g, V_g, Z_g.
  double nn = 0, yy = 0, ny = 0, vv = 0, yv = 0, zz = 0, nz = 0;

  void AddUnit(const OpeTerms& unit, int sign = 1);
  // A cluster of `units` units with these totals; a cluster of 0 units adds nothing.
  void AddCluster(std::int64_t units, const OpeTerms& totals, int sign = 1);
  OpeSums& operator+=(const OpeSums& o);
};

// A round's terms: y = w·r, v = w, z = q̂(x, π_e) + w·(r − q̂(x, a)).
OpeTerms TermsOf(const LoggedRound& round);
// The rounds' sums, grouped by LoggedRound::cluster.
OpeSums SumsOf(std::span<const LoggedRound> rounds);

struct OpeEstimate {
  // kTooFewUnits: fewer than 2 units or 2 clusters, or no weight at all (the target policy
  // never takes a logged action); kInvalidInput: a propensity out of range (a logging
  // propensity of 0 cannot be reweighted) or a sum that is not finite.
  Reason reason = Reason::kOk;
  double value = 0;
  double se = 0;                     // cluster-robust (CR1)
  Interval ci;                       // value ± z_{1−α/2}·se
  double effective_sample_size = 0;  // (Σv)² / Σv²: how many units the estimate is worth
  std::int64_t units = 0;
  std::int64_t clusters = 0;
};

// From the rounds (propensities checked), clustered by LoggedRound::cluster.
OpeEstimate InversePropensity(std::span<const LoggedRound> rounds, double alpha = 0.05);
OpeEstimate SelfNormalized(std::span<const LoggedRound> rounds, double alpha = 0.05);
OpeEstimate DoublyRobust(std::span<const LoggedRound> rounds, double alpha = 0.05);

// From the sums, in O(1).
OpeEstimate InversePropensity(const OpeSums& sums, double alpha = 0.05);
OpeEstimate SelfNormalized(const OpeSums& sums, double alpha = 0.05);
OpeEstimate DoublyRobust(const OpeSums& sums, double alpha = 0.05);

}  // namespace abrec::stats
