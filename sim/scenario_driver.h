// How a scenario reaches the platform: in process (a Platform on a simulated clock, for tests
// and quick studies) or over HTTP (a running `abrec serve`, through its public and admin
// API). The scenario's runner (scenario_runner.cc) speaks only to this interface.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "eventstore/event.h"
#include "recommender/data/catalog.h"
#include "recommender/model/customer_profile.h"

namespace abrec::sim {

struct Visit {
  std::string user_id;
  CustomerProfile customer;
  int k = 3;
  std::int64_t at_us = 0;  // simulated time (in process); the service's clock over HTTP
};

// What a visit was shown, when its exposure was logged in an experiment.
struct ServedVisit {
  std::string request_id, experiment, bucket;
  std::vector<std::size_t> products;  // catalog indices, in rank order
};

class ScenarioDriver {
 public:
  virtual ~ScenarioDriver() = default;
  virtual const Catalog& catalog() const = 0;
  // Where a trained model goes to be served (recommender.model_dir).
  virtual std::string model_dir() const = 0;
  // The event database (storage.path), which `train: {from: events}` reads.
  virtual std::string database() const = 0;
  virtual Result<void> ReloadModels() = 0;
  // Puts a definition; answers its phase as loaded.
  virtual Result<std::string> PutExperiment(const std::string& key, const std::string& text) = 0;
  // Moves a phase; answers the refusal's message, or empty when applied.
  virtual Result<std::string> ChangePhase(const std::string& key, const std::string& to,
                                          const std::string& reason) = 0;
  // Serves the visits in order; null for a visit whose exposure was not logged.
  virtual Result<std::vector<std::optional<ServedVisit>>> Serve(
      const std::vector<Visit>& visits) = 0;
  // Clicks and binds (timestamps are used in process only).
  virtual Result<void> Submit(std::vector<Event> events) = 0;
  virtual Result<nlohmann::ordered_json> Report(const std::string& key) = 0;
  // The simulated time (in process); ignored over HTTP, where the service's clock runs.
  virtual void SetTime(std::int64_t micros) = 0;
  virtual std::int64_t Now() const = 0;
  virtual void Close() = 0;
};

// In process: a Platform over a new workspace folder, with `config`'s catalog, ranking and
// gate, on a simulated clock starting at `start_us`; its exploration lists drawn from `seed`
// (Platform::OpenOptions::random_seed), so a run replays exactly.
Result<std::unique_ptr<ScenarioDriver>> OpenInProcess(const std::string& workspace,
                                                      const std::string& config,
                                                      std::int64_t start_us, std::uint64_t seed);

// Over HTTP: the service at `url`, whose platform config is `config` (its catalog, model
// folder and admin token file are read from it).
Result<std::unique_ptr<ScenarioDriver>> OpenHttp(const std::string& url, const std::string& config);

}  // namespace abrec::sim
