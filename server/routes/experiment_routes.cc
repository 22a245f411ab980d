// GET /v1/experiments, GET /v1/experiments/{key}, GET /v1/experiments/{key}/report and the
// HTML dashboards (/dashboards/, /dashboards/{key}) drawn from the same report.
#include <expected>
#include <memory>

#include <fmt/format.h>

#include "dashboards/html.h"
#include "dashboards/report.h"
#include "server/http/error_response.h"
#include "server/http/json_body.h"
#include "server/report_service.h"
#include "server/routes/routes.h"
#include "server/views.h"

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

// The report of the experiment a request names, computed off the I/O threads
// (ReportService); `render` turns it into the answer, on the thread that computed it.
void WithReport(const RouteContext& ctx, const HttpRequest& req, std::string_view key,
                std::function<HttpResponse(const nlohmann::ordered_json&)> render,
                Respond respond) {
  const auto named = NamedExperiment(ctx, req, key);
  if (!named) return respond(named.error());
  ReportService* reports = ctx.platform.reports();
  if (!reports) {
    return respond(ErrorResponse(Error{ErrorCode::kUnavailable, "no event store", "storage"}));
  }
  reports->Report(*named, [render = std::move(render),
                           respond = std::move(respond)](Result<nlohmann::ordered_json> report) {
    respond(report ? render(*report) : ErrorResponse(report.error()));
  });
}

// The latest snapshot of every experiment's report and alerts (ReportService::Current).
void WithSnapshot(const RouteContext& ctx, const HttpRequest& req,
                  std::function<HttpResponse(const ReportSnapshot&)> render, Respond respond) {
  if (!req.query.empty()) {
    return respond(
        ErrorResponse(Error::InvalidArgument("this endpoint takes no query parameters", "query")));
  }
  ReportService* reports = ctx.platform.reports();
  if (!reports) {
    return respond(ErrorResponse(Error{ErrorCode::kUnavailable, "no event store", "storage"}));
  }
  reports->Current([render = std::move(render),
                    respond = std::move(respond)](std::shared_ptr<const ReportSnapshot> s) {
    respond(s->error ? ErrorResponse(*s->error) : render(*s));
  });
}

}  // namespace

void GetReport(const RouteContext& ctx, const HttpRequest& req, std::string_view key,
               Respond respond) {
  WithReport(
      ctx, req, key, [](const nlohmann::ordered_json& r) { return JsonResponse(r); },
      std::move(respond));
}

void GetDashboard(const RouteContext& ctx, const HttpRequest& req, std::string_view key,
                  Respond respond) {
  WithReport(
      ctx, req, key,
      [](const nlohmann::ordered_json& r) { return HtmlResponse(RenderReportHtml(r)); },
      std::move(respond));
}

void GetDashboards(const RouteContext& ctx, const HttpRequest& req, Respond respond) {
  WithSnapshot(
      ctx, req, [](const ReportSnapshot& s) { return HtmlResponse(RenderIndexHtml(s.reports)); },
      std::move(respond));
}

void GetAlerts(const RouteContext& ctx, const HttpRequest& req, Respond respond) {
  WithSnapshot(
      ctx, req,
      [](const ReportSnapshot& s) {
        nlohmann::ordered_json list = nlohmann::ordered_json::array();
        for (const Alert& a : s.alerts) list.push_back(AlertJson(a));
        return JsonResponse(
            {{"generated_at", FormatRfc3339(s.computed_us)}, {"alerts", std::move(list)}});
      },
      std::move(respond));
}

}  // namespace abrec
