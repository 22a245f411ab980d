// GET /v1/experiments, GET /v1/experiments/{key} and GET /v1/experiments/{key}/report.
#include <expected>
#include <memory>

#include <fmt/format.h>

#include "dashboards/report.h"
#include "server/http/error_response.h"
#include "server/http/json_body.h"
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
  const Experiment& e = (*named)->def;
  if (auto missing = RequireEventStore(ctx)) return *missing;
  auto totals = ctx.platform.events()->Totals(e.key);
  if (!totals) return ErrorResponse(totals.error());
  auto history = ctx.platform.events()->History(e.key);
  if (!history) return ErrorResponse(history.error());
  const std::int64_t now = ctx.platform.clock().NowMicros();
  std::string since = LatencySince(now);
  auto latency = ctx.platform.events()->Latency(e.key, since);
  if (!latency) return ErrorResponse(latency.error());
  auto counters = ctx.platform.events()->Counters(e.key);
  if (!counters) return ErrorResponse(counters.error());
  return JsonResponse(BuildReport({.experiment = &e,
                                   .population = ctx.platform.population().split(),
                                   .totals = std::move(*totals),
                                   .history = std::move(*history),
                                   .latency = std::move(*latency),
                                   .latency_since = std::move(since),
                                   .counters = std::move(*counters),
                                   .now_us = now}));
}

}  // namespace abrec
