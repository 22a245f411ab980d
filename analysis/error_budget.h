// How an experiment spends its error rate α (`analysis.alpha`) on decisions, so that when no
// treatment changes anything the chance of ever deciding ship, clickbait or stop_guardrail,
// however often the report is read, is at most α (a union bound over always-valid tests;
// Ville's inequality makes each of them hold over any number of looks):
//
// - ship, α/2: each of the k treatments' primary metric is read on a two-sided confidence
//   sequence at level α/k (Bonferroni over treatments: simultaneous sequences, Howard et al.,
//   "Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist. 2021, §6;
//   Statsig and Optimizely split α over variants the same way). Ship needs the lower bound
//   above 0, which without an effect happens for a treatment with probability ≤ α/(2k).
// - stop, α/2: every harm test of every treatment (each statistical guardrail's breach test,
//   click-bait's "bind rate down" test, and the fairness check as one) is one-sided at
//   α/(2·k·h), h the harm tests per treatment.
// - A non-inferiority guardrail's "not worse than the margin" test guards a ship: one-sided
//   at α/(2k), so that a treatment worse than the margin ships with probability ≤ α/(2k).
#pragma once

#include "experiments/experiment.h"

namespace abrec {

struct ErrorBudget {
  double alpha = 0.05;
  int treatments = 1;  // k: the variants other than control
  int harm_tests = 1;  // h: per treatment

  // The two-sided level of each treatment's primary sequence (and fixed-horizon interval).
  double PrimaryLevel() const { return alpha / treatments; }
  // The one-sided level of each harm test.
  double HarmLevel() const { return alpha / (2.0 * treatments * harm_tests); }
  // The one-sided level of a non-inferiority pass.
  double NonInferiorityLevel() const { return alpha / (2.0 * treatments); }
};

// The experiment's budget: k from its variants, h = its statistical guardrails + 1 (click-bait)
// + 1 when it names fairness attributes.
ErrorBudget BudgetOf(const Experiment& experiment);

}  // namespace abrec
