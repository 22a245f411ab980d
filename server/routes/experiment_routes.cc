// GET /v1/experiments, GET /v1/experiments/{key}, GET /v1/experiments/{key}/report and the
// HTML dashboards (/dashboards/, /dashboards/{key}) drawn from the same report.
#include <expected>
#include <memory>

#include <fmt/format.h>

#include "dashboards/html.h"
#include "dashboards/report.h"
#include "platform/report_service.h"
#include "platform/views.h"
#include "server/http/error_response.h"
#include "server/http/json_body.h"
#include "server/routes/routes.h"

namespace abrec {

HttpResponse ListExperiments(const RouteContext& ctx, const HttpRequest& req) {
  if (!req.query.empty()) {
    return ErrorResponse(
        Error::InvalidArgument("this endpoint takes no query parameters", "query"));
  }
  const auto snap = ctx.platform.experiments();
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& e : snap->experiments) list.push_back(ExperimentSummaryView(*e));
  return JsonResponse({{"experiments", std::move(list)},
                       {"generation", snap->generation},
                       {"errors", DiagnosticsView(snap->errors)}});
}

namespace {

HttpResponse HtmlResponse(std::string html) {
  HttpResponse r;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::move(html);
  return r;
}

// The experiment a GET on /v1/experiments/{key}[/report] names: 400 when the request has a
// query string, 404 when there is no such experiment.
std::expected<std::shared_ptr<const LoadedExperiment>, HttpResponse> NamedExperiment(
    const RouteContext& ctx, const HttpRequest& req, std::string_view key) {
  if (!req.query.empty()) {
    return std::unexpected(
        ErrorResponse(Error::InvalidArgument("this endpoint takes no query parameters", "query")));
  }
  auto e = ctx.platform.experiments()->Find(key);
  if (!e) {
    return std::unexpected(
        ErrorResponse(Error::NotFound(fmt::format("no experiment \"{}\"", key), "experiment")));
  }
  return e;
}

}  // namespace

HttpResponse GetExperiment(const RouteContext& ctx, const HttpRequest& req, std::string_view key) {
  const auto e = NamedExperiment(ctx, req, key);
  return e ? JsonResponse(ExperimentView(**e)) : e.error();
}

namespace {

// The report of the experiment a request names, computed and rendered off the I/O threads
// (ReportService); `answer` picks the rendering to send, a copy of bytes.
void WithReport(const RouteContext& ctx, const HttpRequest& req, std::string_view key,
                HttpResponse (*answer)(const RenderedReport&), Respond respond) {
  const auto named = NamedExperiment(ctx, req, key);
  if (!named) return respond(named.error());
  auto queued = ctx.platform.Report(
      *named, [answer, respond](Result<std::shared_ptr<const RenderedReport>> report) {
        respond(report ? answer(**report) : ErrorResponse(report.error()));
      });
  if (!queued) respond(ErrorResponse(queued.error()));
}

// The latest snapshot of every experiment's report and alerts (ReportService::Current).
void WithSnapshot(const RouteContext& ctx, const HttpRequest& req,
                  HttpResponse (*answer)(const ReportSnapshot&), Respond respond) {
  if (!req.query.empty()) {
    return respond(
        ErrorResponse(Error::InvalidArgument("this endpoint takes no query parameters", "query")));
  }
  auto queued =
      ctx.platform.CurrentReports([answer, respond](std::shared_ptr<const ReportSnapshot> s) {
        respond(s->error ? ErrorResponse(*s->error) : answer(*s));
      });
  if (!queued) respond(ErrorResponse(queued.error()));
}

HttpResponse JsonText(std::string text) {
  HttpResponse r;
  r.body = std::move(text);
  return r;
}

}  // namespace

void GetReport(const RouteContext& ctx, const HttpRequest& req, std::string_view key,
               Respond respond) {
  WithReport(
      ctx, req, key, [](const RenderedReport& r) { return JsonText(r.json_text); },
      std::move(respond));
}

void GetDashboard(const RouteContext& ctx, const HttpRequest& req, std::string_view key,
                  Respond respond) {
  WithReport(
      ctx, req, key, [](const RenderedReport& r) { return HtmlResponse(r.html); },
      std::move(respond));
}

void GetDashboards(const RouteContext& ctx, const HttpRequest& req, Respond respond) {
  WithSnapshot(
      ctx, req, [](const ReportSnapshot& s) { return HtmlResponse(s.index_html); },
      std::move(respond));
}

void GetAlerts(const RouteContext& ctx, const HttpRequest& req, Respond respond) {
  WithSnapshot(
      ctx, req, [](const ReportSnapshot& s) { return JsonText(s.alerts_json_text); },
      std::move(respond));
}

}  // namespace abrec
