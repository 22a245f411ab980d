// GET /healthz (liveness), /readyz (readiness and config errors), /metrics (Prometheus).
#include <fmt/format.h>

#include "platform/report_service.h"
#include "platform/views.h"
#include "server/http/json_body.h"
#include "server/router.h"
#include "server/routes/routes.h"

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
  const auto storage = ctx.platform.StorageHealth();
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

void Metrics(const RouteContext& ctx, const HttpRequest&, Respond respond) {
  // The transport's metrics, then the platform's (possibly on a report worker's thread).
  ctx.platform.RenderMetrics(
      [server = ctx.metrics.Render(), respond = std::move(respond)](std::string platform) {
        HttpResponse r;
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = server + platform;
        respond(std::move(r));
      });
}

}  // namespace abrec
