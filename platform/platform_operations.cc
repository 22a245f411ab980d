// Platform's event log, reports, models and operations: each an intent that the platform
// routes to its part (event store, report service, recommender, registry), so that callers
// never hold the parts themselves.
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "platform/platform.h"
#include "platform/report_service.h"

namespace abrec {
namespace {

Error NoEventStore() { return Error{ErrorCode::kUnavailable, "no event store", "storage"}; }

Error NoRecommender() {
  return Error{ErrorCode::kUnavailable, "this process serves no recommendations", "recommender"};
}

// One sample of a metric without labels, with its HELP and TYPE lines.
void AppendMetric(std::string& body, std::string_view name, std::string_view type,
                  std::string_view help, double value) {
  body += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
}

}  // namespace

const Catalog* Platform::catalog() const {
  return recommender_ ? &recommender_->catalog() : nullptr;
}

Result<void> Platform::LogEvents(std::vector<Event> events, EventStore::Done done) const {
  if (!events_) return std::unexpected(NoEventStore());
  return events_->Submit(std::move(events), std::move(done));
}

Result<void> Platform::SetCovariates(std::vector<Covariates> covariates,
                                     std::function<void(Result<std::int64_t>)> done) const {
  if (!events_) return std::unexpected(NoEventStore());
  return events_->SetCovariates(std::move(covariates), std::move(done));
}

Result<void> Platform::EventsOfRequest(std::string request_id,
                                       std::function<void(Result<std::vector<Event>>)> done) const {
  if (!events_) return std::unexpected(NoEventStore());
  return events_->EventsOfRequest(std::move(request_id), std::move(done));
}

Result<void> Platform::EraseUser(std::string user_id,
                                 std::function<void(Result<Erased>)> done) const {
  if (auto ok = ValidateUserId(user_id); !ok) return ok;
  if (!events_) return std::unexpected(NoEventStore());
  // The precomputed entry (attributes and candidates) goes first: the events' erasure is
  // the one acknowledged after its commit.
  std::int64_t cached = 0;
  if (cache_) {
    auto removed = cache_->Erase(user_id);
    if (!removed) return std::unexpected(removed.error());
    cached = *removed;
  }
  return events_->EraseUser(std::move(user_id),
                            [cached, done = std::move(done)](Result<std::int64_t> erased) {
                              if (!erased) return done(std::unexpected(erased.error()));
                              done(Erased{.events = *erased, .cached_entries = cached});
                            });
}

std::optional<Error> Platform::StorageHealth() const {
  return events_ ? events_->WriteHealth() : std::nullopt;
}

void Platform::SetCompletionExecutor(std::function<void(std::function<void()>)> run) const {
  if (events_) events_->SetCompletionExecutor(std::move(run));
}

Result<void> Platform::Report(
    std::shared_ptr<const LoadedExperiment> experiment,
    std::function<void(Result<std::shared_ptr<const RenderedReport>>)> done) const {
  if (!reports_) return std::unexpected(NoEventStore());
  reports_->Report(std::move(experiment), std::move(done));
  return {};
}

Result<void> Platform::CurrentReports(
    std::function<void(std::shared_ptr<const ReportSnapshot>)> done) const {
  if (!reports_) return std::unexpected(NoEventStore());
  reports_->Current(std::move(done));
  return {};
}

Result<std::vector<ModelReloadResult>> Platform::ReloadModels(std::string actor) {
  if (!recommender_) return std::unexpected(NoRecommender());
  return recommender_->models().Reload(AuditModelSwap(std::move(actor)));
}

void Platform::StartWatching() { registry_.StartWatching(); }

void Platform::Stop() {
  std::lock_guard lock(stop_mu_);
  registry_.StopWatching();
  if (reports_) reports_->Stop();
  if (events_) events_->Close();
}

void Platform::RenderMetrics(std::function<void(std::string)> done) const {
  std::string body;
  auto gauge = [&body](std::string_view name, std::string_view help, auto value) {
    AppendMetric(body, name, "gauge", help, static_cast<double>(value));
  };
  auto counter = [&body](std::string_view name, std::string_view help, auto value) {
    AppendMetric(body, name, "counter", help, static_cast<double>(value));
  };
  if (events_) {
    gauge("abrec_event_queue_depth", "Events waiting for the writer thread.",
          events_->QueuedEvents());
    const EventStore::Stats stats = events_->stats();
    gauge("abrec_event_store_events", "Raw events stored (after retention and erasure).",
          stats.events);
    gauge("abrec_event_store_users", "Users with stored events, totals or covariates.",
          stats.users);
    gauge("abrec_event_id_index_bytes", "Memory of the in-memory event id index.",
          stats.index_bytes);
    gauge("abrec_event_store_wal_bytes",
          "Content of the write-ahead log; kept near storage.wal_limit_mb under load.",
          stats.wal_bytes);
    counter("abrec_event_store_wal_restarts_total",
            "Times the write-ahead log was found restarted from its beginning.",
            stats.wal_restarts);
  }
  if (recommender_) body += recommender_->RenderMetrics();
  if (!events_ || !reports_) return done(std::move(body));
  const ReportService::Counts counts = reports_->counts();
  counter("abrec_report_computations_total",
          "Reports computed (a report asked again before a new commit is served from the "
          "cache).",
          counts.computed);
  counter("abrec_report_cache_hits_total", "Reports served from the cache.", counts.cache_hits);
  gauge("abrec_report_cache_entries", "Reports cached now: one per loaded experiment at most.",
        counts.cached);
  counter("abrec_report_snapshots_total",
          "Snapshots of every experiment's report and alerts computed (alert thread, or a "
          "request finding the latest too old).",
          counts.snapshots);
  // Active alerts by experiment, kind and severity (dashboards/alerts.h), from the latest
  // snapshot.
  reports_->Current([body = std::move(body), done = std::move(done),
                     clock = &clock_](std::shared_ptr<const ReportSnapshot> s) mutable {
    AppendMetric(
        body, "abrec_alerts_age_seconds", "gauge",
        "Age of the alerts below (experiments.alerts_max_age_ms bounds it).",
        s->computed_us > 0 ? static_cast<double>(clock->NowMicros() - s->computed_us) / 1e6 : 0.0);
    body +=
        "# HELP abrec_alerts Active alerts of the experiments not stopped.\n"
        "# TYPE abrec_alerts gauge\n";
    if (!s->error) {
      std::map<std::tuple<std::string, std::string, std::string>, int> count;
      for (const Alert& a : s->alerts) ++count[{a.experiment, a.kind, a.severity}];
      for (const auto& [key, n] : count) {
        const auto& [experiment, kind, severity] = key;
        body += fmt::format("abrec_alerts{{experiment=\"{}\",kind=\"{}\",severity=\"{}\"}} {}\n",
                            experiment, kind, severity, n);
      }
    }
    done(std::move(body));
  });
}

}  // namespace abrec
