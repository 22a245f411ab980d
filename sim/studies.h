// Simulation studies of the statistics engine on experiments whose truth is known. Seeded, so
// a study prints the same table every time. Run by `abrec simulate srm`; the decision path's
// A/A and power studies are in decision_study.h.
#pragma once

#include <cstdint>
#include <vector>

namespace abrec::sim {

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
