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

HttpResponse GetReport(const RouteContext& ctx, const HttpRequest& req, std::string_view key) {
  const auto named = NamedExperiment(ctx, req, key);
  if (!named) return named.error();
  auto report = ExperimentReport(ctx.platform, (*named)->def);
  return report ? JsonResponse(*report) : ErrorResponse(report.error());
}

HttpResponse GetDashboards(const RouteContext& ctx, const HttpRequest& req) {
  if (!req.query.empty()) {
    return ErrorResponse(
        Error::InvalidArgument("this endpoint takes no query parameters", "query"));
  }
  std::vector<nlohmann::ordered_json> reports;
  const auto snapshot = ctx.platform.experiments();  // held for the loop (see CurrentAlerts)
  for (const auto& e : snapshot->experiments) {
    auto report = ExperimentReport(ctx.platform, e->def);
    if (!report) return ErrorResponse(report.error());
    reports.push_back(std::move(*report));
  }
  return HtmlResponse(RenderIndexHtml(reports));
}

HttpResponse GetAlerts(const RouteContext& ctx, const HttpRequest& req) {
  if (!req.query.empty()) {
    return ErrorResponse(
        Error::InvalidArgument("this endpoint takes no query parameters", "query"));
  }
  auto alerts = CurrentAlerts(ctx.platform);
  if (!alerts) return ErrorResponse(alerts.error());
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const Alert& a : *alerts) list.push_back(AlertJson(a));
  return JsonResponse({{"generated_at", FormatRfc3339(ctx.platform.clock().NowMicros())},
                       {"alerts", std::move(list)}});
}

HttpResponse GetDashboard(const RouteContext& ctx, const HttpRequest& req, std::string_view key) {
  const auto named = NamedExperiment(ctx, req, key);
  if (!named) return named.error();
  auto report = ExperimentReport(ctx.platform, (*named)->def);
  return report ? HtmlResponse(RenderReportHtml(*report)) : ErrorResponse(report.error());
}

}  // namespace abrec
