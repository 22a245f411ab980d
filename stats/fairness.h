// Demographic parity of recommendations across the groups of a protected attribute (sex, age
// band, region): for one product, the share of each group's users to whom it was
// recommended; the largest gap and the min/max ratio (the "four-fifths" rule reads a ratio
// below 0.8), with Pearson's χ² test of independence of group and recommendation.
#pragma once

#include <cstdint>
#include <limits>
#include <span>

#include "stats/result.h"
#include "stats/sequential.h"

namespace abrec::stats {

struct GroupCount {
  std::int64_t users = 0;        // users of the group who were shown recommendations
  std::int64_t recommended = 0;  // of them, those shown the product
};

struct ParityResult {
  Reason reason = Reason::kOk;  // kTooFewUnits: fewer than two groups with users
  double min_rate = 0;
  double max_rate = 0;
  double gap = 0;    // max_rate − min_rate
  double ratio = 1;  // min_rate / max_rate (1 when no group was shown the product)
  double chi_squared = 0;
  double df = 0;
  double p_value = 1;
};

ParityResult DemographicParity(std::span<const GroupCount> groups);

// The deployment gate's question for one product and attribute: is the candidate model
// further from parity than the baseline by more than `margin` (absolute, in rate)?
inline bool FurtherFromParity(const ParityResult& candidate, const ParityResult& baseline,
                              double margin) {
  return candidate.reason == Reason::kOk && baseline.reason == Reason::kOk &&
         candidate.gap > baseline.gap + margin;
}

// One look (the cumulative counts at a day's close) at one product for an ordered pair of
// groups (g, h): the users of each group and those shown the product, in the variant and in
// control.
struct PairCounts {
  GroupCount variant_g, variant_h, control_g, control_h;
};

struct WiderGapResult {
  // kTooFewUnits: no look had `min_users` users in each of the four cells.
  Reason reason = Reason::kOk;
  // At the last look: d_v = share_v(g) − share_v(h), d_c likewise, and the effect tested,
  // d_v − |d_c| = min(d_v − d_c, d_v + d_c) (> 0: the variant's gap is the wider).
  double variant_gap = 0;
  double control_gap = 0;
  double estimate = 0;
  // The running maximum over the looks of the effect's always-valid lower confidence bound at
  // `options.alpha`, and the running minimum of the test's always-valid p-value: bound > 0
  // exactly when p_value < alpha.
  double bound = -std::numeric_limits<double>::infinity();
  double p_value = 1;
};

// Is the variant's gap between groups g and h wider than control's on the same product, in
// the orientation where the variant favours g: d_v > |d_c|? An intersection-union test
// (Berger, "Multiparameter hypothesis testing and acceptance sampling", Technometrics 24,
// 1982): H1 = {d_v − d_c > 0} ∩ {d_v + d_c > 0} holds when both one-sided tests reject, each
// at the full level, and its p-value is the larger of the two. Each is the one-sided
// always-valid normal-mixture test of SequentialTest (kGreater, `options`; the caller passes
// the level already divided among its comparisons and tests the orientation (h, g)
// separately), with N = the four cells' users and the standard error from the four
// independent binomial shares; a share's variance is taken at (x + 1)/(n + 2) (Agresti and
// Caffo, The American Statistician 54, 2000) so that a share of 0 or 1 does not claim none.
// `looks` holds cumulative counts, oldest first; a look with fewer than `min_users` users in
// a cell is skipped (the normal approximation needs them).
WiderGapResult WiderGapThanControl(std::span<const PairCounts> looks,
                                   const SequentialOptions& options, std::int64_t min_users = 30);

}  // namespace abrec::stats
