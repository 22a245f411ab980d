// GET /healthz (liveness), /readyz (readiness and config errors), /metrics (Prometheus).
#include <fmt/format.h>

#include "server/http/json_body.h"
#include "server/report_service.h"
#include "server/router.h"
#include "server/routes/routes.h"
#include "server/views.h"

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

HttpResponse Metrics(const RouteContext& ctx, const HttpRequest&) {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = ctx.metrics.Render();
  if (auto* events = ctx.platform.events()) {
    r.body += "# HELP abrec_event_queue_depth Events waiting for the writer thread.\n";
    r.body += "# TYPE abrec_event_queue_depth gauge\n";
    r.body += "abrec_event_queue_depth " + std::to_string(events->QueuedEvents()) + "\n";
    const EventStore::Stats stats = events->stats();
    r.body += fmt::format(
        "# HELP abrec_event_store_events Raw events stored (after retention and erasure).\n"
        "# TYPE abrec_event_store_events gauge\n"
        "abrec_event_store_events {}\n"
        "# HELP abrec_event_store_users Users with stored events, totals or covariates.\n"
        "# TYPE abrec_event_store_users gauge\n"
        "abrec_event_store_users {}\n"
        "# HELP abrec_event_id_index_bytes Memory of the in-memory event id index.\n"
        "# TYPE abrec_event_id_index_bytes gauge\n"
        "abrec_event_id_index_bytes {}\n",
        stats.events, stats.users, stats.index_bytes);
  }
  if (auto* recommender = ctx.platform.recommender()) r.body += recommender->RenderMetrics();
  if (ctx.platform.events()) {
    // Active alerts by experiment, kind and severity (dashboards/alerts.h).
    r.body +=
        "# HELP abrec_alerts Active alerts of the experiments not stopped.\n"
        "# TYPE abrec_alerts gauge\n";
    if (auto alerts = CurrentAlerts(ctx.platform)) {
      std::map<std::tuple<std::string, std::string, std::string>, int> count;
      for (const Alert& a : *alerts) ++count[{a.experiment, a.kind, a.severity}];
      for (const auto& [key, n] : count) {
        const auto& [experiment, kind, severity] = key;
        r.body += fmt::format("abrec_alerts{{experiment=\"{}\",kind=\"{}\",severity=\"{}\"}} {}\n",
                              experiment, kind, severity, n);
      }
    }
  }
  return r;
}

}  // namespace abrec
