// Simulation studies of the statistics engine on experiments whose truth is known: users
// arrive in batches, are split into arms, and bind with known probabilities; the engine's
// tests are applied at every look, as an analyst watching the report would. Seeded, so a
// study prints the same table every time. Run by `abrec simulate aa|power|srm`.
#pragma once

#include <cstdint>
#include <vector>

namespace abrec::sim {

// A/A: both arms bind at `base_rate`, so every rejection is a false positive.
struct AaOptions {
  int simulations = 2'000;
  int looks = 100;           // a look after every batch
  int users_per_look = 400;  // users per batch, both arms together (split 50/50)
  double base_rate = 0.04;
  double alpha = 0.05;
  double n_star = 5'000;  // the sequential test's tuning
  std::uint64_t seed = 20261129;
};

struct AaResult {
  int simulations = 0;
  int looks = 0;
  double alpha = 0;
  double fpr_sequential = 0;     // always-valid p ≤ α at some look
  double fpr_sequential_se = 0;  // its binomial standard error
  double fpr_fixed_peeking = 0;  // fixed-horizon p ≤ α at some look
  double fpr_fixed_final = 0;    // fixed-horizon p ≤ α at the last look only
};

AaResult RunAa(const AaOptions& o);

// Power: treatment binds at base_rate·(1 + lift), for each lift.
struct PowerOptions {
  std::vector<double> lifts{0.02, 0.05, 0.10};
  double base_rate = 0.03;
  std::int64_t users_per_arm = 0;  // 0: what fixed-horizon 80% power at a 5% lift needs
  int looks = 100;
  int simulations = 2'000;
  double alpha = 0.05;
  double n_star = 5'000;
  std::uint64_t seed = 20261129;
};

struct PowerRow {
  double lift = 0;
  std::int64_t users_per_arm = 0;
  double closed_form = 0;  // fixed-horizon power, normal approximation
  double fixed = 0;        // simulated fixed-horizon power at the end
  double fixed_se = 0;
  double sequential = 0;  // simulated: the confidence sequence excluded 0 by the end
  double sequential_se = 0;
  double median_look_fraction = 0;  // sequential: median share of the users seen at detection
};

std::vector<PowerRow> RunPower(const PowerOptions& o);

// Sample ratio mismatch: users split holdout 5%, exploration 5%, control and treatment 45%
// each; the treatment arm loses `loss` of its exposures (a logging bug), or none. The users
// arrive in `looks` equal batches (daily looks), and at each look the report runs the
// sequential test (stats/srm_sequential.h) and Pearson's χ².
struct SrmOptions {
  std::vector<std::int64_t> totals{10'000, 100'000, 1'000'000, 5'000'000};
  double loss = 0.01;
  double threshold = 0.001;
  int looks = 30;                 // a month of daily looks up to each total
  double concentration = 10'000;  // the sequential test's Dirichlet concentration
  int simulations = 1'000;
  std::uint64_t seed = 20261129;
};

struct SrmRow {
  std::int64_t total = 0;
  double closed_form = 0;  // detection probability: the non-central χ² of the loss
  double detected = 0;     // share of simulations with p < threshold, with the loss
  double false_alarm = 0;  // the same without any loss
  // Pearson's χ² at the end only is the two above; at every look:
  double detected_peeking = 0;        // χ² p < threshold at some look, with the loss
  double false_alarm_peeking = 0;     // the same without any loss
  double detected_sequential = 0;     // the sequential p < threshold at some look, with the loss
  double false_alarm_sequential = 0;  // the same without any loss
  // The sequential test's detections: median share of the total seen at the first alarm.
  double sequential_median_fraction = 0;
};

std::vector<SrmRow> RunSrm(const SrmOptions& o);

}  // namespace abrec::sim
