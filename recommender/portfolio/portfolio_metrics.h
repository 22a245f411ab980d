// The figures of the hidden-product evaluation (the Zimnat protocol): for each test customer
// one held product is hidden, every product they do not hold in what remains is a candidate,
// and the hidden one is the only relevant candidate. Ranking metrics (stats::EvaluateRanking:
// hit@1, hit@3, NDCG@5) over the cases; probability metrics (AUC, log loss, expected
// calibration error before and after calibration) over all candidates pooled, when the
// scorer gives probabilities. Overall and by group (a case may belong to several groups,
// such as "sex=F" and "age=30-39").
#pragma once

#include <cstddef>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace abrec {

inline constexpr double kNoFigure = std::numeric_limits<double>::quiet_NaN();

struct CandidateScore {
  std::size_t product = 0;
  double score = 0;                // what ranks the candidates
  double raw = kNoFigure;          // the uncalibrated probability, if any
  double probability = kNoFigure;  // the calibrated probability, if any
  bool relevant = false;           // the hidden product
};

struct ScoredCase {
  std::vector<std::string> groups;
  std::vector<CandidateScore> candidates;
};

struct HideOneMetrics {
  long cases = 0;
  double hit1 = 0, hit3 = 0, ndcg5 = 0;
  // NaN when the scorer gives no probabilities.
  double auc = kNoFigure, log_loss = kNoFigure, ece_raw = kNoFigure, ece = kNoFigure;
};

struct HoldoutEvaluation {
  HideOneMetrics all;
  std::map<std::string, HideOneMetrics> by_group;
};

HideOneMetrics ComputeHideOneMetrics(std::span<const ScoredCase> cases);
HoldoutEvaluation ComputeHoldoutEvaluation(std::span<const ScoredCase> cases);

}  // namespace abrec
