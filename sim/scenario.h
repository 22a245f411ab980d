// Closed-loop scenarios (config/scenarios/*.yaml, `abrec simulate scenario FILE`): customers
// of the seeded ground-truth world (recommender/data/synthetic_world.h) visit the platform day by
// day, are assigned, see the arm's list, and click and bind with the world's probabilities;
// their events go through the real event store, and the steps of the scenario train models,
// put experiments, move phases (with the deployment gate) and check the report against the
// truth the simulation knows.
//
//   scenario: NAME
//   description: ...
//   seed: 20261129            # the world's and the traffic's
//   customers: 20000          # the world's customers; each day's visitors are drawn from them
//   start: 2026-11-02         # the first simulated day (UTC)
//   visits_per_day: 2000
//   k: 3                      # list length asked for
//   steps:                    # in order
//     - train: {model: hybrid, version: v1, target: balanced}   # from the world's portfolio
//     - train: {model: hybrid, version: v2, target: bind, from: events}  # from the event log
//     - experiment: {file: NAME.yaml}     # relative to the scenario file; or {text: "..."}
//     - phase: {experiment: KEY, to: ab_test, expect: applied|refused}
//     - days: 7
//     - check: {experiment: KEY, decision: continue|[codes], covers: [bind_rate, click_rate]}
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/diagnostic.h"
#include "base/error.h"
#include "configtree/config_tree.h"

namespace abrec::sim {

struct ScenarioStep {
  enum class Kind { kTrain, kExperiment, kPhase, kDays, kCheck };
  Kind kind = Kind::kDays;
  int line = 0;
  // train
  std::string model, version, target;
  bool from_events = false;  // train on the platform's event log, not the world's portfolio
  // experiment: the definition's text (read from `file` when given)
  std::string text;
  // phase, check
  std::string experiment;
  std::string to;                      // phase
  bool expect_refused = false;         // phase
  int days = 0;                        // days
  std::vector<std::string> decisions;  // check: any of these
  std::vector<std::string> covers;     // check: metrics whose intervals must cover the truth
};

struct Scenario {
  std::string name, description, file;
  std::uint64_t seed = 20261129;
  int customers = 20'000;
  std::string start = "2026-11-02";
  int visits_per_day = 2'000;
  int k = 3;
  std::vector<ScenarioStep> steps;
};

// Errors: FILE:LINE:COL diagnostics naming the field.
ParseResult<Scenario> LoadScenario(const std::string& path, const ParseLimits& limits);

struct ScenarioOptions {
  // Empty: in process, over `workspace`. Else the running service at http://HOST:PORT, whose
  // platform config is `config` (its model folder and admin token are used).
  std::string url;
  std::string workspace;  // a new folder: experiments, database, models
  std::string config;     // the platform config whose catalog, ranking and gate are used
  std::optional<std::uint64_t> seed;  // overrides the scenario's
  std::function<void(const std::string&)> progress;
};

// Runs the scenario; the result says, per step, what happened and, for checks, whether the
// report agreed with the truth: {"scenario", "seed", "steps": [...], "ok"}. Errors: the
// platform could not be opened, a step could not run (not a failed check).
Result<nlohmann::ordered_json> RunScenario(const Scenario& scenario,
                                           const ScenarioOptions& options);

}  // namespace abrec::sim
