// Offline ranking and probability metrics for model evaluation and the deployment gate, one
// definition each (../shared/STATS-NOTES.md, "Offline metrics"):
//   - lists are ordered by score descending, ties by product id ascending;
//   - AUC: Mann-Whitney over all (positive, negative) pairs, a tie counts ½;
//   - log loss: p clamped to [1e-15, 1 − 1e-15];
//   - NDCG@k: gain 2^rel − 1, discount log₂(rank + 1) with ranks from 1, the ideal DCG over
//     the relevant items truncated at k; users without a relevant item are left out and
//     counted;
//   - hit@k: share of users with a relevant item in the top k; precision@k divides by k;
//   - calibration: equal-width bins of the predicted probability, the observed rate per
//     bin, and the expected calibration error Σ (n_b / N)|mean p_b − rate_b|.
#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

#include "stats/result.h"

namespace abrec::stats {

// kTooFewUnits when there is no positive or no negative label.
struct AucResult {
  Reason reason = Reason::kOk;
  double auc = 0.5;
};
AucResult Auc(std::span<const double> scores, std::span<const int> labels);

double LogLoss(std::span<const double> probabilities, std::span<const int> labels);

struct CalibrationBin {
  double low = 0, high = 0;  // the bin's range of predicted probabilities
  long count = 0;
  double mean_predicted = 0;
  double observed_rate = 0;
};
struct Calibration {
  std::vector<CalibrationBin> bins;  // every bin, empty ones with count 0
  double ece = 0;
};
Calibration Calibrate(std::span<const double> probabilities, std::span<const int> labels,
                      int bins = 10);
// Calibration by group (sex, age band, ...): `groups[i]` is the group of prediction i.
std::map<std::string, Calibration> CalibrateByGroup(std::span<const double> probabilities,
                                                    std::span<const int> labels,
                                                    std::span<const std::string> groups,
                                                    int bins = 10);

struct RankedItem {
  std::string product_id;
  double score = 0;
  double relevance = 0;  // 0: not relevant; > 0: relevant, graded
};
struct RankingMetrics {
  Reason reason = Reason::kOk;              // kTooFewUnits: no user has a relevant item
  double ndcg = 0, hit = 0, precision = 0;  // means over the users evaluated
  long users = 0;                           // evaluated
  long users_without_relevant = 0;          // left out
};
// One list of candidates per user, in any order (sorted here).
RankingMetrics EvaluateRanking(std::span<const std::vector<RankedItem>> users, int k);

}  // namespace abrec::stats
