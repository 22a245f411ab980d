// The in-process API of abrec: what serving code can link instead of calling HTTP. Owns the
// platform config, the experiment registry and the audit log. Thread-safe: every method may
// be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "assignment/assigner.h"
#include "base/clock.h"
#include "base/error.h"
#include "experiments/audit_log.h"
#include "eventstore/event.h"
#include "eventstore/event_store.h"
#include "platform/arm_policy.h"
#include "platform/platform_config.h"
#include "experiments/registry.h"
#include "recommender/serving/candidate_cache.h"
#include "recommender/serving/serving.h"

namespace abrec {

// One user's assignment to one experiment, with what decided it. The string views point
// into `experiment` (kept alive here) or into static strings.
struct AssignOutcome {
  std::shared_ptr<const LoadedExperiment> experiment;
  Decision decision;
  std::string_view bucket;  // "holdout", "exploration", "not_enrolled" or a variant name
  std::optional<std::string_view> variant;  // the arm served; null outside the variants
  // Holdout and exploration users in the experiment: the variant they would have had.
  std::optional<std::string_view> counterfactual_variant;
  ArmPolicy arm;  // what the user is shown (PolicyFor)
};

// POST /v1/recommend and GET /v1/recommend/{user_id}, in-process.
struct RecommendRequest {
  std::string user_id;
  std::string surface;  // empty: the platform's default surface
  CustomerProfile customer;
  int k = 5;  // 1..kMaxRecommendations
  // Precomputed candidates (the batch cache) and the model version they came from.
  std::vector<std::size_t> cached_candidates;
  std::string cached_version;
  bool cache_down = false;  // the cache could not be read: candidates are computed now
  bool log = true;          // false: the list is served without its exposure (HEAD)
};

struct RecommendOutcome {
  std::string request_id;
  std::string user_id;
  std::optional<AssignOutcome> assignment;  // null when no experiment runs on the surface
  std::string surface;
  std::string bucket;  // as assignment's, or the population bucket without an experiment
  std::optional<std::string> variant;
  std::string policy;
  ServedList served;
  std::int64_t latency_us = 0;
  bool logged = false;  // the exposure was committed to the event log
};

inline constexpr int kMaxRecommendations = 20;

class ReportService;

class Platform {
 public:
  struct OpenOptions {
    // Read-only tools (abrec assign) write nothing: no population record, no audit entries,
    // no accepted versions. The service checks and records them.
    bool read_only = false;
    // Simulations: the exploration bucket's random lists drawn from a generator seeded with
    // this, the user and the clock's time, so that a run replays exactly. Unset: unseeded.
    std::optional<std::uint64_t> random_seed{};
  };

  // Loads the experiments once (errors are reported, not fatal: a bad file is skipped) and
  // checks the population split. `clock` must outlive the platform.
  static Result<std::unique_ptr<Platform>> Open(PlatformConfig config, const Clock& clock,
                                                OpenOptions options);
  ~Platform();

  // Assigns `user_id` (valid UTF-8, 1..256 bytes) in experiment `key`.
  // Errors: kInvalidArgument (field user_id), kNotFound (field experiment).
  Result<AssignOutcome> Assign(std::string_view user_id, std::string_view key) const;

  // Assign, and log the exposure when the user is in the experiment: `done` runs once the
  // exposure is committed (on the store's writer thread), or at once when there is nothing
  // to log, with the outcome and its request id. Fails at once (without calling `done`) on
  // bad input or a full write queue (kUnavailable).
  using AssignDone = std::function<void(Result<std::pair<AssignOutcome, std::string>>)>;
  Result<void> AssignAndLog(std::string_view user_id, std::string_view key, AssignDone done) const;

  // Recommends for `request.user_id` on its surface: assigns the user in the experiment
  // running there, runs the arm's policy and logs the exposure (items, propensities, model
  // version, features) when the user is in the experiment. `done` runs once it is committed,
  // or at once when there is nothing to log. Fails at once on bad input (kInvalidArgument
  // naming the field), without a recommender (kUnavailable) or a full write queue.
  using RecommendDone = std::function<void(Result<RecommendOutcome>)>;
  Result<void> RecommendAndLog(RecommendRequest request, RecommendDone done) const;
  // The same without logging (tests, tools).
  Result<RecommendOutcome> Recommend(const RecommendRequest& request) const;

  // The precomputed candidates (recommender.cache); null when none is configured.
  CandidateCache* candidate_cache() const { return cache_.get(); }
  // Looks up the user's precomputed entry into `request` (candidates, their version, and the
  // attributes when `use_attributes`); true when an entry was found. A cache that cannot be
  // read sets request.cache_down instead. Unknown products in an entry are skipped.
  bool ApplyCachedCandidates(RecommendRequest& request, bool use_attributes) const;

  // The recommender; null for read-only tools.
  RecommenderServing* recommender() const { return recommender_.get(); }

  // The event store; null for read-only tools.
  EventStore* events() const { return events_.get(); }

  // The exposure event of an assignment, to log: who, which experiment and bucket, the
  // variant (or counterfactual variant) and policy, with source "server" (event.h).
  // `request_id` doubles as the event id.
  Event ExposureEvent(std::string_view user_id, const AssignOutcome& outcome,
                      std::string request_id) const;
  // Whether an assignment is logged: users in the experiment, unless it is stopped.
  static bool IsExposure(const AssignOutcome& outcome);

  // A new request id: 32 hex digits, 128 bits from the kernel's CSPRNG: unique, and
  // revealing nothing (neither the time nor the next id). Thread-safe.
  static std::string NewRequestId();

  // Reports and alerts computed off the caller's thread, cached (platform/report_service.h);
  // null for read-only tools.
  ReportService* reports() const { return reports_.get(); }

  // Stops the report workers, commits what is queued and closes the event store (the service
  // calls it once its HTTP server has stopped, so no completion runs after the transport is
  // gone). Thread-safe: events() stays valid (its writes then answer kUnavailable, its reads
  // work) until the platform is destroyed.
  void CloseEvents();

  const PlatformConfig& config() const { return config_; }
  const Clock& clock() const { return clock_; }
  const Population& population() const { return population_; }
  ExperimentRegistry& registry() { return registry_; }
  // The audit log of changes (experiments, model reloads).
  AuditLog& audit() { return audit_; }
  // Approves a model swap by appending its audit entry ("models_reloaded", by `actor`):
  // what ModelRegistry::Reload asks before it swaps, so no swap goes unrecorded.
  ModelRegistry::Approve AuditModelSwap(std::string actor);
  std::shared_ptr<const RegistrySnapshot> experiments() const { return registry_.Snapshot(); }

 private:
  Platform(PlatformConfig config, const Clock& clock, bool read_only);

  PlatformConfig config_;
  const Clock& clock_;
  Population population_;
  AuditLog audit_;
  ExperimentRegistry registry_;
  std::unique_ptr<RecommenderServing> recommender_;
  std::unique_ptr<CandidateCache> cache_;
  std::unique_ptr<EventStore> events_;
  std::mutex close_mu_;  // serialises CloseEvents()
  std::unique_ptr<ReportService> reports_;  // declared after events_: stopped before it
  std::optional<std::uint64_t> random_seed_;
};

// The calendar year now (UTC): birth_year attributes are read against it.
int CurrentYear(const Clock& clock);

// The longest user id accepted, in bytes.
inline constexpr std::size_t kMaxUserIdBytes = 256;

// A user id must be 1..kMaxUserIdBytes bytes of valid UTF-8 (error on field "user_id").
Result<void> ValidateUserId(std::string_view user_id);

}  // namespace abrec
