// Simulation studies of the decision path (issue 13): experiments whose truth is known, read
// at every look exactly as the report reads them (analysis/experiment_monitor.h, from bucket
// totals to decision.code), so that the error rates and power printed are the product's.
//
// Users arrive in batches; each is assigned to the holdout, the exploration bucket or an arm
// with the platform's weights, and, in the arms, is shown lists, clicks, binds and pays a
// premium drawn from a seeded world with pre-experiment covariates (products held, premium
// held before) that predict the outcomes, as CUPED expects. Their totals are folded into
// BucketTotals as the store folds them (BucketTotals::Apply), and the monitor looks after
// every batch. Run by `abrec simulate aa|power`.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "assignment/population.h"
#include "experiments/experiment.h"

namespace abrec::sim {

// The simulated customers.
struct StudyWorld {
  double bind_rate = 0.04;      // mean P(bind) per user over the experiment
  double click_rate = 0.08;     // P(click) per item shown
  double premium_sigma = 1.0;   // lognormal shape of a bind's annual premium (heavy tail)
  double premium_median = 300;  // currency units
  bool covariates = true;       // users carry premium held before and products held
};

struct DecisionStudyOptions {
  // The experiment as the report reads it: variants (control first), metrics, guardrails,
  // analysis. StudyExperiment() builds the default one.
  Experiment experiment;
  PopulationSplit population{};
  StudyWorld world{};
  int looks = 100;
  int users_per_look = 400;  // users entering the experiment's arms per look, on average
  // The true relative effect on the primary metric, in the first treatment only (the others
  // have none): 0 for an A/A study.
  double effect = 0;
  int runs = 2'000;
  std::uint64_t seed = 20261129;
  int threads = 0;  // 0: one per core; the results do not depend on it
};

// The default study experiment: control and `treatments` treatments with equal weights,
// `metric` primary, the other two of bind_rate, click_rate and premium_per_user secondary,
// a bind-rate guardrail of −2% (as config/experiments/recsys_v2_hybrid.yaml), alpha 0.05,
// sequential, N* 5,000, in ab_test.
Experiment StudyExperiment(int treatments, const std::string& metric);

struct Rate {
  double rate = 0;
  double se = 0;  // binomial standard error
};

struct StudyLook {
  int look = 0;
  double arm_users = 0;                // mean over runs
  std::map<std::string, double> ever;  // code -> share of runs decided so by this look
  std::map<std::string, double> at;    // code -> share of runs with this code at this look
};

struct DecisionStudyResult {
  int runs = 0;
  int looks = 0;
  double alpha = 0;
  // Share of runs that were ever decided each code (ship, clickbait, stop_guardrail,
  // untrustworthy_srm), and the code at the last look.
  std::map<std::string, Rate> ever;
  std::map<std::string, Rate> final_code;
  // Ever decided ship, clickbait or stop_guardrail: in an A/A study every one is an error.
  Rate wrong;
  // Power (effect ≠ 0): shipped the first treatment, the one with the effect; and the median
  // share of the users seen when it first did.
  Rate shipped_effect;
  double median_users_fraction = 0;
  // Per treatment and run: dropped for click-bait, for a breached guardrail (whatever the
  // code).
  Rate dropped_clickbait, dropped_guardrail;
  // Alternatives on the same data, for comparison only (not the product's path), any
  // treatment either way: the primary metric's fixed-horizon test at level alpha at every
  // look and at the last only; and the confidence sequence at alpha on the relative lift by
  // the delta method, N* 5,000, no correction across treatments (GrowthBook's sequential
  // testing with its defaults, and abrec's decision before issue 13).
  double fixed_peeking = 0;
  double fixed_final = 0;
  double delta_relative_sequential = 0;
  std::vector<StudyLook> by_look;
};

DecisionStudyResult RunDecisionStudy(const DecisionStudyOptions& options);

// The users per arm `abrec plan` asks for to detect a relative effect `mde` on the study's
// primary metric with `power`, at the treatment's share of alpha (stats/power.h; sequential
// or fixed horizon as the experiment's analysis is), with the control's mean and standard
// deviation measured on `pilot` users drawn from the study's world. 0 when it cannot be
// planned.
double PlannedUsersPerArm(const DecisionStudyOptions& options, double mde, double power = 0.8,
                          int pilot = 200'000);

}  // namespace abrec::sim
