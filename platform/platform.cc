#include "platform/platform.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <fmt/format.h>

#include "assignment/hash.h"
#include "base/log.h"
#include "base/secure_random.h"
#include "eventstore/counter_keys.h"
#include "eventstore/open_store.h"
#include "platform/population_guard.h"
#include "platform/report_service.h"

namespace abrec {

Platform::Platform(PlatformConfig config, const Clock& clock, bool read_only)
    : config_(std::move(config)),
      clock_(clock),
      population_(config_.population),
      audit_(config_.experiments.audit_log, clock_),
      registry_(config_.registry_config(), audit_, clock_, RegistryOptions{read_only}) {}

Platform::~Platform() {
  registry_.StopWatching();
  if (recommender_) recommender_->models().StopWatching();
}

bool Platform::IsExposure(const AssignOutcome& o) {
  return o.decision.InExperiment() && o.experiment->def.phase != Phase::kStopped;
}

Event Platform::ExposureEvent(std::string_view user_id, const AssignOutcome& o,
                              std::string request_id) const {
  Event e;
  e.event_id = request_id;
  e.request_id = std::move(request_id);
  e.type = EventType::kExposure;
  e.user_id = std::string(user_id);
  e.ts_us = clock_.NowMicros();
  e.experiment = o.experiment->def.key;
  e.bucket = std::string(o.bucket);
  e.variant = o.variant ? std::string(*o.variant) : std::string();
  e.counterfactual_variant =
      o.counterfactual_variant ? std::string(*o.counterfactual_variant) : std::string();
  e.policy = std::string(PolicyName(o.arm.policy));
  // The phase the exposure was made in, per day: the report's sequences start again when the
  // experiment changes phase (analysis/phase_periods.h).
  e.counters.push_back(counter_keys::Phase(PhaseName(o.experiment->def.phase)));
  e.source = std::string(kSourceServer);
  e.counters.push_back(counter_keys::Source(kSourceServer));
  // Server-made: the id is new for every request, so the hash only has to be stable.
  e.payload_hash = fmt::format("exposure:{}:{}:{}:{}", e.event_id, e.experiment, e.bucket, e.ts_us);
  return e;
}

Result<void> Platform::AssignAndLog(std::string_view user_id, std::string_view key,
                                    AssignDone done) const {
  auto outcome = Assign(user_id, key);
  if (!outcome) return std::unexpected(outcome.error());
  std::string request_id = NewRequestId();
  if (!events_ || !IsExposure(*outcome)) {
    done(std::pair{std::move(*outcome), std::move(request_id)});
    return {};
  }
  Event exposure = ExposureEvent(user_id, *outcome, request_id);
  auto result = std::make_shared<std::pair<AssignOutcome, std::string>>(std::move(*outcome),
                                                                        std::move(request_id));
  return events_->Submit({std::move(exposure)},
                         [result, done = std::move(done)](Result<std::vector<EventOutcome>> r) {
                           if (!r) return done(std::unexpected(r.error()));
                           done(std::move(*result));
                         });
}

std::string Platform::NewRequestId() const {
  // Random rather than time-ordered: ids are shown to clients, and a time prefix told them
  // when the service started and how busy it is. The indexes on ids pay with random inserts.
  if (!ids_) return SecureRandomHex(16);
  std::lock_guard lock(ids_mu_);
  return fmt::format("{:016x}{:016x}", (*ids_)(), (*ids_)());
}

ModelRegistry::Approve Platform::AuditModelSwap(std::string actor) {
  return [this, actor = std::move(actor)](const std::vector<ModelReloadResult>& results) {
    std::string summary;
    for (const ModelReloadResult& r : results) {
      summary +=
          fmt::format("{}{} {} {}", summary.empty() ? "" : "; ", r.name, r.version, r.status);
    }
    return audit_.Append(AuditEntry{.action = "models_reloaded",
                                    .file = config_.recommender.model_dir,
                                    .reason = summary,
                                    .actor = actor});
  };
}

Result<std::unique_ptr<Platform>> Platform::Open(PlatformConfig config, const Clock& clock,
                                                 OpenOptions options) {
  std::unique_ptr<Platform> p(new Platform(std::move(config), clock, options.read_only));
  p->random_seed_ = options.random_seed;
  // Another stream than the lists' (platform_recommend.cc): ids never repeat a list's draws.
  if (options.random_seed) p->ids_.emplace(*options.random_seed ^ 0x9e3779b97f4a7c15ULL);
  if (!options.read_only) {
    if (auto ok = GuardPopulationSplit(p->config_, p->audit_); !ok) {
      return std::unexpected(ok.error());
    }
    const auto& c = p->config_;
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(c.storage.path).parent_path(), ec);
    auto recommender = RecommenderServing::Open(c.recommender, c.server.threads, p->clock_,
                                                p->AuditModelSwap("model_watcher"));
    if (!recommender) return std::unexpected(recommender.error());
    p->recommender_ = std::move(*recommender);
    std::map<std::string, double, std::less<>> margins;
    for (const Product& product : p->recommender_->catalog().products) {
      margins[product.id] = product.margin;
    }
    auto store = OpenEventStore(
        EventStoreOptions{
            .path = c.storage.path,
            .synchronous = c.storage.synchronous,
            .queue_capacity = static_cast<std::size_t>(c.storage.queue_capacity),
            .max_transaction_events = static_cast<std::size_t>(c.storage.max_transaction_events),
            .attribution_window_us =
                std::int64_t{c.events.attribution_window_days} * 86'400'000'000,
            .retention_us = std::int64_t{c.storage.retention_days} * 86'400'000'000,
            .wal_limit_bytes = std::int64_t{c.storage.wal_limit_mb} << 20,
            .max_size_bytes = std::int64_t{c.storage.max_size_mb} << 20,
            .product_margins = std::move(margins)},
        p->clock_);
    if (!store) return std::unexpected(store.error());
    p->events_ = std::move(*store);
    p->reports_ = std::make_unique<ReportService>(
        *p, ReportService::Options{.workers = c.server.report_workers,
                                   .max_age_ms = c.experiments.alerts_max_age_ms});
    auto cache = OpenCandidateCache(c.recommender, c.server.threads + 1);
    if (!cache) return std::unexpected(cache.error());
    p->cache_ = std::move(*cache);
  }
  p->registry_.Reload();
  return p;
}

Result<void> ValidateUserId(std::string_view user_id) {
  if (user_id.empty())
    return std::unexpected(Error::InvalidArgument("user_id is required", "user_id"));
  if (user_id.size() > kMaxUserIdBytes) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("user_id is {} bytes; at most {} are allowed", user_id.size(), kMaxUserIdBytes),
        "user_id"));
  }
  return ValidateHashInput(user_id, "user_id");
}

namespace {

// The default policy of `surface` (the legacy rules for a surface the config does not name).
Policy SurfaceDefaultPolicy(const PlatformConfig& config, const std::string& surface) {
  const auto s = config.surfaces.find(surface);
  return s != config.surfaces.end() ? s->second.default_policy : Policy::kLegacyRules;
}

}  // namespace

Result<AssignOutcome> Platform::Assign(std::string_view user_id, std::string_view key) const {
  if (auto ok = ValidateUserId(user_id); !ok) return std::unexpected(ok.error());
  auto exp = registry_.Snapshot()->Find(key);
  if (!exp) {
    return std::unexpected(Error::NotFound(fmt::format("no experiment \"{}\"", key), "experiment"));
  }
  // The id was checked above (ValidateUserId): no second UTF-8 scan on the hot path.
  const auto d = AssignValidated(population_, exp->spec, user_id);

  AssignOutcome out;
  out.decision = d;
  const Experiment& e = exp->def;
  const auto arm = [&e](int i) -> std::string_view {
    return e.variants[static_cast<std::size_t>(i)].name;
  };
  if (d.InExperiment()) {
    if (d.population == PopulationBucket::kExperiment) {
      out.bucket = arm(d.variant);
      out.variant = out.bucket;
    } else {
      out.bucket = PopulationBucketName(d.population);
      out.counterfactual_variant = arm(d.variant);
    }
  } else {
    out.bucket = "not_enrolled";
  }
  out.arm = PolicyFor(&e, d.population, d.InExperiment() ? d.variant : -1,
                      SurfaceDefaultPolicy(config_, e.surface));
  out.experiment = std::move(exp);
  return out;
}

}  // namespace abrec
