// Simulation studies of the statistics engine on experiments whose truth is known. Seeded, so
// a study prints the same table every time. Run by `abrec simulate srm`; the decision path's
// A/A and power studies are in decision_study.h.
#pragma once

#include <cstdint>
#include <vector>

namespace abrec::sim {

// Sample ratio mismatch: users split holdout 5%, exploration 5%, control and treatment 45%
// each; the treatment arm loses `loss` of its exposures (a logging bug), or none.
struct SrmOptions {
  std::vector<std::int64_t> totals{10'000, 100'000, 1'000'000, 5'000'000};
  double loss = 0.01;
  double threshold = 0.001;
  int simulations = 1'000;
  std::uint64_t seed = 20261129;
};

struct SrmRow {
  std::int64_t total = 0;
  double closed_form = 0;  // detection probability: the non-central χ² of the loss
  double detected = 0;     // share of simulations with p < threshold, with the loss
  double false_alarm = 0;  // the same without any loss
};

std::vector<SrmRow> RunSrm(const SrmOptions& o);

}  // namespace abrec::sim
