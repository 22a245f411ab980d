// The recommender's settings (the `recommender` section of config/abrec.yaml, read by
// platform/platform_config.cc): models, catalog, ranking, gate, candidate cache, latency
// budget. Relative paths are resolved against the config file's folder.
#pragma once

#include <string>

namespace abrec {

struct RecommenderConfig {
  std::string model_dir = "../var/models";  // NAME/VERSION folders (recommender/serving/model_registry.h)
  std::string catalog = "catalog.yaml";
  std::string ranking = "ranking.yaml";
  // The deployment gate run when an experiment moves to ab_test or rollout through the admin
  // API (platform/lifecycle.h): its rules, and how many synthetic customers it compares on.
  std::string gate = "gate.yaml";
  int gate_customers = 2000;
  std::string default_model = "hybrid";  // for variants that name no model
  int candidates = 100;                  // generated per request when the cache has none
  int poll_interval_ms = 1000;           // model folder polling; 0: reload only on request
  double latency_budget_ms = 50;         // past it, the rule-based list is served
  int p99_fallback_ms = 200;             // the p99 monitor's threshold
  std::string cache = "sqlite";          // precomputed candidates: sqlite, redis or none
  std::string cache_path = "../var/candidates.db";
  std::string redis_address = "127.0.0.1:6379";  // HOST:PORT
  int redis_timeout_ms = 5;  // connect and per command; past it the request computes on the fly
};

}  // namespace abrec
