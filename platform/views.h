// JSON views of platform values, shared by the HTTP routes and the CLI so both print the
// same wire format (DESIGN.md).
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "base/diagnostic.h"
#include "experiments/registry.h"
#include "platform/platform.h"
#include "recommender/model/gate.h"

namespace abrec {

// GET /v1/assign: {"user_id", "experiment", "phase", "bucket", "variant", "policy",
// "hashes": {"population", "namespace", "experiment"}, "hash_version": 2, ...}.
nlohmann::ordered_json AssignView(std::string_view user_id, const AssignOutcome& outcome);

// GET /v1/experiments/{key}: the definition as loaded, variants in order.
nlohmann::ordered_json ExperimentView(const LoadedExperiment& e);

// One entry of GET /v1/experiments.
nlohmann::ordered_json ExperimentSummaryView(const LoadedExperiment& e);

// POST /v1/recommend: {"request_id", "user_id", "experiment", "bucket", "variant", "policy",
// "model_version", "items": [{"product_id", "rank", "score", "p_click", "p_bind",
// "propensity", "reason"}], "fallback", "latency_us", ...}.
nlohmann::ordered_json RecommendView(const Catalog& catalog, const RecommendOutcome& outcome);

nlohmann::ordered_json DiagnosticsView(const Diagnostics& diagnostics);

// A deployment gate's result (abrec gate --format json, and the admin phase change):
// {"customers", "passed", "failures", "parity": [{"attribute", "product", "candidate_gap",
// "baseline_gap", "candidate_p_value", "failed"}]}.
nlohmann::ordered_json GateReportView(const GateReport& report);

}  // namespace abrec
