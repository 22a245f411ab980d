// The deployment gate on an experiment's move to ab_test or rollout: each variant that will
// show customers a model's lists (policy recommender) is compared with what it replaces, the
// control arm's policy, on the lists both would show the same synthetic customers
// (recommender.gate_customers of them, drawn from the ground-truth world with a fixed seed)
// under the rules of recommender.gate (recommender/model/gate.h).
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "experiments/experiment.h"
#include "recommender/model/gate.h"
#include "platform/platform.h"

namespace abrec {

struct VariantGate {
  std::string variant;
  std::string candidate;  // "hybrid 20261129-101500"
  std::string baseline;   // "legacy_rules", or the control's model and version
  GateReport report;
};

struct PhaseGateResult {
  std::vector<VariantGate> variants;  // empty: no variant shows a model's lists
  std::vector<std::string> failures;  // "treatment: parity: ..."; empty when it passed
  bool passed() const { return failures.empty(); }
};

// The gate for moving `e` to `to` (ab_test: every variant but control; rollout: the rollout
// variant). A variant whose model has no live version fails it. Errors: no recommender in
// this process, no gate rules, scoring failures (kUnavailable / kInternal).
Result<PhaseGateResult> RunPhaseGate(const Platform& platform, const Experiment& e, Phase to);

}  // namespace abrec
