// The experiment lifecycle through the admin API (DESIGN.md): a whole new definition
// (PUT /v1/experiments/{key}) or a phase change (POST /v1/experiments/{key}/phase), and
// auto_stop. Every change is checked as a file edit would be (validation, the other
// experiments, the reshuffle rule), plus the phase moves allowed and, on a move to ab_test
// or rollout, the deployment gate (platform/phase_gate.h). Then the YAML is rewritten
// atomically, the registry reloaded, and the change audit-logged with who asked and why.
// The files stay the single source of truth: the registry publishes what was written.
// Changes are serialised; thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/diagnostic.h"
#include "base/error.h"
#include "dashboards/alerts.h"
#include "experiments/registry.h"
#include "platform/phase_gate.h"
#include "platform/platform.h"

namespace abrec {

struct ChangeSource {
  std::string actor;   // "admin", "auto_stop"
  std::string reason;  // recorded in the audit log; may be empty for an admin PUT
};

struct LifecycleChange {
  std::shared_ptr<const LoadedExperiment> experiment;  // live now
  std::optional<Phase> previous_phase;                 // null when it was created
  std::optional<PhaseGateResult> gate;                 // when the move ran the gate
  bool unchanged = false;                              // the file already said this
};

struct LifecycleRefusal {
  // kInvalidArgument (with the validation problems as diagnostics, FILE:LINE:COL),
  // kNotFound, kConflict, kGateRefused, kUnavailable, kIo.
  Error error;
  std::optional<PhaseGateResult> gate{};  // a refusing gate
};

using LifecycleResult = std::expected<LifecycleChange, LifecycleRefusal>;

// Replaces (or creates, as EXPERIMENTS_DIR/KEY.yaml, or KEY.json for a JSON body) the
// definition of `key` with `text`, which must define that key.
LifecycleResult PutExperiment(Platform& platform, std::string_view key, std::string_view text,
                              const ChangeSource& source);

// Moves `key` to `to`, rewriting only the file's phase (and rollout_variant when given).
// Moving to the phase it is in answers unchanged.
LifecycleResult ChangePhase(Platform& platform, std::string_view key, Phase to,
                            std::string_view rollout_variant, const ChangeSource& source);

// Why `from` may not move to `to` (shadow → ab_test → rollout, stopped from anywhere,
// stopped → shadow to start again), or std::nullopt.
std::optional<std::string> RefusePhaseMove(Phase from, Phase to);

// Stops every experiment in ab_test with auto_stop: true that has an SRM or guardrail
// alert among `alerts`; logs and audit-logs each. Returns the keys stopped.
std::vector<std::string> AutoStop(Platform& platform, const std::vector<Alert>& alerts);

}  // namespace abrec
