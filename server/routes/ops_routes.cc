// GET /healthz (liveness), /readyz (readiness and config errors), /metrics (Prometheus).
#include <fmt/format.h>

#include "server/http/json_body.h"
#include "platform/report_service.h"
#include "server/router.h"
#include "server/routes/routes.h"
#include "platform/views.h"

namespace abrec {

HttpResponse Healthz(const RouteContext&, const HttpRequest&) {
  return JsonResponse({{"status", "ok"}});
}

HttpResponse Readyz(const RouteContext& ctx, const HttpRequest&) {
  const ServiceState state = ctx.state.load();
  if (state != ServiceState::kServing) {
    return JsonResponse({{"status", state == ServiceState::kStarting ? "starting" : "stopping"}},
                        503);
  }
  const auto snap = ctx.platform.experiments();
  // A bad file keeps its last good version live: the service still serves correctly, so it
  // stays ready and reports the problem here instead of dropping out of the load balancer.
  // Writes that cannot be acknowledged (a failed fsync, a full disk or queue) do take it out.
  const auto storage = ctx.platform.events() ? ctx.platform.events()->WriteHealth() : std::nullopt;
  nlohmann::ordered_json body{{"status", snap->errors.empty() && !storage ? "ready" : "degraded"},
                              {"experiments", snap->experiments.size()},
                              {"generation", snap->generation},
                              {"errors", DiagnosticsView(snap->errors)}};
  if (storage) {
    body["storage"] = {{"code", ErrorCodeName(storage->code)},
                       {"message", storage->message},
                       {"field", "storage"}};
  }
  return JsonResponse(std::move(body), storage ? 503 : 200);
}

namespace {

// One sample of a metric without labels, with its HELP and TYPE lines.
void AppendMetric(std::string& body, std::string_view name, std::string_view type,
                  std::string_view help, double value) {
  body += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
}

}  // namespace

void Metrics(const RouteContext& ctx, const HttpRequest&, Respond respond) {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = ctx.metrics.Render();
  auto gauge = [&r](std::string_view name, std::string_view help, auto value) {
    AppendMetric(r.body, name, "gauge", help, static_cast<double>(value));
  };
  auto counter = [&r](std::string_view name, std::string_view help, auto value) {
    AppendMetric(r.body, name, "counter", help, static_cast<double>(value));
  };
  if (auto* events = ctx.platform.events()) {
    gauge("abrec_event_queue_depth", "Events waiting for the writer thread.",
          events->QueuedEvents());
    const EventStore::Stats stats = events->stats();
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
  if (auto* recommender = ctx.platform.recommender()) r.body += recommender->RenderMetrics();
  ReportService* reports = ctx.platform.reports();
  if (!ctx.platform.events() || !reports) return respond(std::move(r));
  const ReportService::Counts counts = reports->counts();
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
  // snapshot: a scrape never computes a report on the I/O thread.
  const Clock* clock = &ctx.platform.clock();
  reports->Current([r = std::move(r), respond = std::move(respond),
                    clock](std::shared_ptr<const ReportSnapshot> s) mutable {
    AppendMetric(
        r.body, "abrec_alerts_age_seconds", "gauge",
        "Age of the alerts below (experiments.alerts_max_age_ms bounds it).",
        s->computed_us > 0 ? static_cast<double>(clock->NowMicros() - s->computed_us) / 1e6 : 0.0);
    r.body +=
        "# HELP abrec_alerts Active alerts of the experiments not stopped.\n"
        "# TYPE abrec_alerts gauge\n";
    if (!s->error) {
      std::map<std::tuple<std::string, std::string, std::string>, int> count;
      for (const Alert& a : s->alerts) ++count[{a.experiment, a.kind, a.severity}];
      for (const auto& [key, n] : count) {
        const auto& [experiment, kind, severity] = key;
        r.body += fmt::format("abrec_alerts{{experiment=\"{}\",kind=\"{}\",severity=\"{}\"}} {}\n",
                              experiment, kind, severity, n);
      }
    }
    respond(std::move(r));
  });
}

}  // namespace abrec
