// The in-process API of abrec: what serving code can link instead of calling HTTP. Owns the
// platform config, the experiment registry and the audit log. Thread-safe: every method may
// be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string_view>

#include <nlohmann/json.hpp>

#include "assignment/assigner.h"
#include "base/clock.h"
#include "base/error.h"
#include "eventstore/event.h"
#include "eventstore/event_store.h"
#include "experiments/audit_log.h"
#include "experiments/registry.h"
#include "platform/arm_policy.h"
#include "platform/platform_config.h"
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
  int k = 5;            // 1..kMaxRecommendations
  bool log = true;      // false: the list is served without its exposure (HEAD)
  // Who the customer is, the first that is set: `customer` (in-process callers), the API's
  // attribute object (recommender/model/customer_profile.h), else what the precomputed cache
  // knows of the user. The cache's candidates are used in every case.
  std::optional<CustomerProfile> customer;
  std::optional<nlohmann::json> attributes;
  // With neither: a user the cache does not know is kNotFound (field user_id) rather than a
  // cold start from no attributes (GET /v1/recommend/{user_id}). A cache that cannot be read
  // is a cold start whatever this says, with fallback "cache_down".
  bool known_users_only = false;
};

struct RecommendOutcome {
  std::string request_id;
  std::string user_id;
  std::optional<AssignOutcome> assignment;  // null when no experiment runs on the surface
  std::string surface;
  std::string bucket;  // as assignment's, or the population bucket without an experiment
  std::optional<std::string> variant;
  Policy policy = Policy::kNone;
  ServedList served;
  std::int64_t latency_us = 0;
  bool logged = false;  // the exposure was committed to the event log
};

inline constexpr int kMaxRecommendations = 20;

class PlatformParts;
class ReportService;
struct RenderedReport;
struct ReportSnapshot;

class Platform {
 public:
  struct OpenOptions {
    // Read-only tools (abrec assign) write nothing: no population record, no audit entries,
    // no accepted versions. The service checks and records them.
    bool read_only = false;
    // Simulations: the exploration bucket's random lists drawn from a generator seeded with
    // this, the user and the clock's time, so that a run replays exactly; and the request ids
    // drawn from a generator seeded with it. Unset: unseeded lists, and request ids from the
    // kernel's CSPRNG.
    std::optional<std::uint64_t> random_seed{};
  };

  // Loads the experiments once (errors are reported, not fatal: a bad file is skipped) and
  // checks the population split. `clock` must outlive the platform.
  static Result<std::unique_ptr<Platform>> Open(PlatformConfig config, const Clock& clock,
                                                OpenOptions options);
  ~Platform();

  // ---- Assignment and recommendations

  // Assigns `user_id` (valid UTF-8, 1..256 bytes) in experiment `key`.
  // Errors: kInvalidArgument (field user_id), kNotFound (field experiment).
  Result<AssignOutcome> Assign(std::string_view user_id, std::string_view key) const;

  // Assign, and log the exposure when the user is in the experiment: `done` runs once the
  // exposure is committed (on the store's writer thread), or at once when there is nothing
  // to log, with the outcome and its request id. Fails at once (without calling `done`) on
  // bad input or a full write queue (kUnavailable).
  using AssignDone = std::function<void(Result<std::pair<AssignOutcome, std::string>>)>;
  Result<void> AssignAndLog(std::string_view user_id, std::string_view key, AssignDone done) const;

  // Recommends for `request.user_id` on its surface: resolves the customer (the request's
  // profile or attributes, or the precomputed cache's entry), assigns the user in the
  // experiment running there, runs the arm's policy and logs the exposure (items,
  // propensities, model version, features) when the user is in the experiment. `done` runs
  // once it is committed, or at once when there is nothing to log. Fails at once on bad input
  // (kInvalidArgument naming the field; kNotFound for an unknown user with known_users_only),
  // without a recommender (kUnavailable) or on a full write queue.
  using RecommendDone = std::function<void(Result<RecommendOutcome>)>;
  Result<void> RecommendAndLog(RecommendRequest request, RecommendDone done) const;
  // The same without logging (tests, tools).
  Result<RecommendOutcome> Recommend(const RecommendRequest& request) const;

  // The products recommendations are made from; null when this process serves none
  // (read-only tools). Lives as long as the platform.
  const Catalog* catalog() const;

  // ---- The event log

  // Whether events are logged here (false for read-only tools).
  bool logs_events() const { return events_ != nullptr; }

  // The exposure event of an assignment, to log: who, which experiment and bucket, the
  // variant (or counterfactual variant) and policy, with source "server" (event.h).
  // `request_id` doubles as the event id.
  Event ExposureEvent(std::string_view user_id, const AssignOutcome& outcome,
                      std::string request_id) const;
  // Whether an assignment is logged: users in the experiment, unless it is stopped.
  static bool IsExposure(const AssignOutcome& outcome);

  // A new request id: 32 hex digits. From the kernel's CSPRNG (128 bits: unique, revealing
  // neither the time nor the next id), or, with OpenOptions::random_seed, from a generator
  // seeded with it (simulations). Thread-safe.
  std::string NewRequestId() const;

  // Logs `events` (EventStore::Submit: idempotent by event id; `done` runs on commit).
  // kUnavailable without an event store, on a full queue or once stopped.
  Result<void> LogEvents(std::vector<Event> events, EventStore::Done done) const;
  // Stores users' pre-experiment covariates (EventStore::SetCovariates).
  Result<void> SetCovariates(std::vector<Covariates> covariates,
                             std::function<void(Result<std::int64_t>)> done) const;
  // The events logged under one request id, for the audit endpoint (EventStore::EventsOfRequest).
  Result<void> EventsOfRequest(std::string request_id,
                               std::function<void(Result<std::vector<Event>>)> done) const;
  // Erases a user: the precomputed cache's entry at once, then the events and aggregates
  // (EventStore::EraseUser); `done` runs once the erasure is committed.
  struct Erased {
    std::int64_t events = 0;
    std::int64_t cached_entries = 0;
  };
  Result<void> EraseUser(std::string user_id, std::function<void(Result<Erased>)> done) const;
  // Why writes cannot be acknowledged now (a failed fsync, a full disk or queue); nullopt when
  // they can, or without an event store.
  std::optional<Error> StorageHealth() const;
  // Where the event store runs the completions of its writes (EventStore::SetCompletionExecutor).
  void SetCompletionExecutor(std::function<void(std::function<void()>)> run) const;

  // ---- Reports, models, operations

  // The report of `experiment`, computed off the caller's thread and cached
  // (platform/report_service.h). kUnavailable (field storage) without an event store.
  Result<void> Report(
      std::shared_ptr<const LoadedExperiment> experiment,
      std::function<void(Result<std::shared_ptr<const RenderedReport>>)> done) const;
  // The latest snapshot of every experiment's report and alerts (ReportService::Current).
  Result<void> CurrentReports(
      std::function<void(std::shared_ptr<const ReportSnapshot>)> done) const;

  // Loads new live model versions now, each swap audit-logged as done by `actor`
  // ("models_reloaded"). kUnavailable without a recommender.
  Result<std::vector<ModelReloadResult>> ReloadModels(std::string actor);

  // The platform's Prometheus metrics (event store, recommender, report service and the
  // active alerts from the latest snapshot), handed to `done`, possibly on another thread: a
  // scrape never computes a report on the caller's thread.
  void RenderMetrics(std::function<void(std::string)> done) const;

  // Watches the experiments folder (and the models, as configured) for changes (the service).
  void StartWatching();
  // Stops watching, stops the report workers, commits what is queued and closes the event
  // store (the service calls it once its HTTP server has stopped, so no completion runs after
  // the transport is gone). Idempotent and thread-safe: later writes answer kUnavailable.
  void Stop();

  // Values, fixed for the platform's life or replaced whole (experiments()).
  const PlatformConfig& config() const { return config_; }
  // The platform's clock now (simulations run on their own): event times are read against it.
  std::int64_t NowMicros() const { return clock_.NowMicros(); }
  const Population& population() const { return population_; }
  std::shared_ptr<const RegistrySnapshot> experiments() const { return registry_.Snapshot(); }

 private:
  friend class PlatformParts;  // platform/internal/platform_parts.h: the module's own pieces
  struct ResolvedCustomer;

  Platform(PlatformConfig config, const Clock& clock, bool read_only);
  // Approves a model swap by appending its audit entry ("models_reloaded", by `actor`):
  // what ModelRegistry::Reload asks before it swaps, so no swap goes unrecorded.
  ModelRegistry::Approve AuditModelSwap(std::string actor);
  // Checks the request (recommender, user id, k) and resolves its customer.
  Result<ResolvedCustomer> Resolve(const RecommendRequest& request) const;
  Result<RecommendOutcome> Serve(const RecommendRequest& request,
                                 const ResolvedCustomer& customer) const;

  PlatformConfig config_;
  const Clock& clock_;
  Population population_;
  AuditLog audit_;
  ExperimentRegistry registry_;
  std::unique_ptr<RecommenderServing> recommender_;
  std::unique_ptr<CandidateCache> cache_;
  std::unique_ptr<EventStore> events_;
  std::mutex stop_mu_;                      // serialises Stop()
  std::unique_ptr<ReportService> reports_;  // declared after events_: stopped before it
  std::optional<std::uint64_t> random_seed_;
  mutable std::mutex ids_mu_;
  mutable std::optional<std::mt19937_64> ids_;  // seeded request ids (random_seed)
};

// The calendar year now (UTC): birth_year attributes are read against it.
int CurrentYear(const Clock& clock);

// The longest user id accepted, in bytes.
inline constexpr std::size_t kMaxUserIdBytes = 256;

// A user id must be 1..kMaxUserIdBytes bytes of valid UTF-8 (error on field "user_id").
Result<void> ValidateUserId(std::string_view user_id);

}  // namespace abrec
