// Helpers for reading experiments from text in tests.
#pragma once

#include <string>

#include <doctest/doctest.h>

#include "configtree/config_tree.h"
#include "experiments/experiment_reader.h"

namespace abrec::testing {

inline ParseResult<Experiment> ReadText(const std::string& text,
                                        const std::string& file = "exp.yaml") {
  auto tree = ParseConfigText(text, file, ParseLimits{});
  if (!tree) return std::unexpected(tree.error());
  return ReadExperiment(*tree, file);
}

// All messages joined by newlines, for CHECKs with find().
inline std::string Messages(const Diagnostics& ds) {
  std::string out;
  for (const auto& d : ds) out += d.ToString() + "\n";
  return out;
}

inline bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

inline const char* kValidYaml = R"(experiment: recsys_v2_hybrid
description: Hybrid recommender against the legacy rules
surface: portal_home
owner: pm@example.com
phase: ab_test
traffic:
  coverage: 1.0
  split: {control: 0.5, treatment: 0.5}
namespace: {name: portal_recs, range: [0.0, 1.0]}
variants:
  control:   {policy: legacy_rules}
  treatment: {policy: recommender, model: hybrid}
metrics:
  primary: bind_rate
  secondary: [click_rate, premium_per_user]
  guardrails:
    - {metric: latency_p99_ms, max: 200}
    - {metric: bind_rate, min_relative_change: -0.02}
analysis: {alpha: 0.05, sequential: true, tuning_n: 5000, mde: 0.05}
fairness: {attributes: [sex, age_band], max_parity_gap: 0.10}
)";

// kValidYaml with `from` replaced by `to` (which must occur).
inline std::string Edit(const std::string& from, const std::string& to,
                        std::string text = kValidYaml) {
  const auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  text.replace(pos, from.size(), to);
  return text;
}

}  // namespace abrec::testing
