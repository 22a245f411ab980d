#include "server/router.h"

#include <chrono>
#include <future>

#include <fmt/format.h>

#include "server/http/error_response.h"
#include "server/http/query_string.h"
#include "server/routes/routes.h"

namespace abrec {
namespace {

enum RouteId : std::size_t {
  kAssign,
  kRecommend,
  kRecommendUser,
  kModelsReload,
  kEvents,
  kCovariates,
  kExperiments,
  kExperiment,
  kExperimentReport,
  kExperimentPhase,
  kAlerts,
  kDashboards,
  kDashboard,
  kAudit,
  kUser,
  kHealthz,
  kReadyz,
  kMetrics,
  kUnmatched,
  kRouteCount
};

// The metrics label of each RouteId, in the same order.
constexpr std::string_view kRouteNames[] = {"/v1/assign",
                                            "/v1/recommend",
                                            "/v1/recommend/{user_id}",
                                            "/v1/models/reload",
                                            "/v1/events",
                                            "/v1/covariates",
                                            "/v1/experiments",
                                            "/v1/experiments/{key}",
                                            "/v1/experiments/{key}/report",
                                            "/v1/experiments/{key}/phase",
                                            "/v1/alerts",
                                            "/dashboards/",
                                            "/dashboards/{key}",
                                            "/v1/audit/{request_id}",
                                            "/v1/users/{id}",
                                            "/healthz",
                                            "/readyz",
                                            "/metrics",
                                            "unmatched"};
static_assert(std::size(kRouteNames) == kRouteCount);

constexpr std::string_view kExperimentPrefix = "/v1/experiments/";
constexpr std::string_view kReportSuffix = "/report";
constexpr std::string_view kPhaseSuffix = "/phase";
constexpr std::string_view kDashboardPrefix = "/dashboards/";
constexpr std::string_view kAuditPrefix = "/v1/audit/";
constexpr std::string_view kUserPrefix = "/v1/users/";
constexpr std::string_view kRecommendPrefix = "/v1/recommend/";

// The one path segment between `prefix` and `suffix`, percent-decoded; nullopt when the
// path does not have that shape.
std::optional<Result<std::string>> Segment(std::string_view path, std::string_view prefix,
                                           std::string_view field, std::string_view suffix = {}) {
  if (!path.starts_with(prefix) || !path.ends_with(suffix) ||
      path.size() <= prefix.size() + suffix.size()) {
    return std::nullopt;
  }
  const std::string_view segment =
      path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
  if (segment.find('/') != std::string_view::npos) return std::nullopt;
  return PercentDecode(segment, false, field);
}

HttpResponse MethodNotAllowed(const HttpRequest& req, std::string_view allow) {
  HttpResponse r = ErrorResponse(
      405, "method_not_allowed",
      fmt::format("{} is not allowed on {}; allowed: {}", req.method, req.path, allow));
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

}  // namespace

Router::Router(Platform& platform, ServerMetrics& metrics, const std::atomic<ServiceState>& state)
    : platform_(platform), metrics_(metrics), state_(state) {}

std::vector<std::string> Router::RouteNames() {
  return {std::begin(kRouteNames), std::end(kRouteNames)};
}

HttpResponse Router::Route(const HttpRequest& req) const {
  std::promise<HttpResponse> answer;
  auto future = answer.get_future();
  Dispatch(req, [&answer](HttpResponse r) { answer.set_value(std::move(r)); });
  return future.get();
}

void Router::Dispatch(const HttpRequest& req, std::function<void(HttpResponse)> respond) const {
  const auto start = std::chrono::steady_clock::now();
  const RouteContext ctx{platform_, metrics_, state_};
  const bool get = req.method == "GET" || req.method == "HEAD";
  const std::string_view path = req.path;
  std::size_t route = kUnmatched;
  // Every answer goes through here, so the metrics see the time to the final answer.
  auto done = [this, start, &route, respond = std::move(respond)]() {
    return [this, start, route, respond](HttpResponse r) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      metrics_.ObserveRequest(route, r.status, seconds);
      respond(std::move(r));
    };
  };
  if (path == "/v1/assign") {
    route = kAssign;
    if (get) return GetAssign(ctx, req, done());
    if (req.method == "POST") return PostAssign(ctx, req, done());
    return done()(MethodNotAllowed(req, "GET, POST"));
  }
  if (path == "/v1/recommend") {
    route = kRecommend;
    if (req.method == "POST") return PostRecommend(ctx, req, done());
    return done()(MethodNotAllowed(req, "POST"));
  }
  if (auto user = Segment(path, kRecommendPrefix, "user_id")) {
    route = kRecommendUser;
    if (!*user) return done()(ErrorResponse(user->error()));
    if (get) return GetRecommend(ctx, req, **user, done());
    return done()(MethodNotAllowed(req, "GET"));
  }
  if (path == "/v1/models/reload") {
    route = kModelsReload;
    return done()(req.method == "POST" ? ReloadModels(ctx, req) : MethodNotAllowed(req, "POST"));
  }
  if (path == "/v1/events") {
    route = kEvents;
    if (req.method == "POST") return PostEvents(ctx, req, done());
    return done()(MethodNotAllowed(req, "POST"));
  }
  if (path == "/v1/covariates") {
    route = kCovariates;
    if (req.method == "POST") return PostCovariates(ctx, req, done());
    return done()(MethodNotAllowed(req, "POST"));
  }
  if (auto user = Segment(path, kUserPrefix, "user_id")) {
    route = kUser;
    if (!*user) return done()(ErrorResponse(user->error()));
    if (req.method == "DELETE") return DeleteUser(ctx, req, **user, done());
    return done()(MethodNotAllowed(req, "DELETE"));
  }
  if (auto request_id = Segment(path, kAuditPrefix, "request_id")) {
    route = kAudit;
    if (!*request_id) return done()(ErrorResponse(request_id->error()));
    if (get) return GetAudit(ctx, req, **request_id, done());
    return done()(MethodNotAllowed(req, "GET"));
  }
  // Reports and what is drawn from them are computed off the I/O threads (report_service.h).
  if (auto report = Segment(path, kExperimentPrefix, "experiment", kReportSuffix)) {
    route = kExperimentReport;
    if (!*report) return done()(ErrorResponse(report->error()));
    if (get) return GetReport(ctx, req, **report, done());
    return done()(MethodNotAllowed(req, "GET"));
  }
  if (path == "/v1/alerts") {
    route = kAlerts;
    if (get) return GetAlerts(ctx, req, done());
    return done()(MethodNotAllowed(req, "GET"));
  }
  if (path == "/dashboards" || path == kDashboardPrefix) {
    route = kDashboards;
    if (get) return GetDashboards(ctx, req, done());
    return done()(MethodNotAllowed(req, "GET"));
  }
  if (auto key = Segment(path, kDashboardPrefix, "experiment")) {
    route = kDashboard;
    if (!*key) return done()(ErrorResponse(key->error()));
    if (get) return GetDashboard(ctx, req, **key, done());
    return done()(MethodNotAllowed(req, "GET"));
  }
  if (path == "/metrics") {
    route = kMetrics;
    if (get) return Metrics(ctx, req, done());
    return done()(MethodNotAllowed(req, "GET"));
  }
  HttpResponse resp;
  if (path == "/v1/experiments" || path == "/v1/experiments/") {
    route = kExperiments;
    resp = get ? ListExperiments(ctx, req) : MethodNotAllowed(req, "GET");
  } else if (auto phase = Segment(path, kExperimentPrefix, "experiment", kPhaseSuffix)) {
    route = kExperimentPhase;
    resp = !*phase                ? ErrorResponse(phase->error())
           : req.method == "POST" ? PostPhase(ctx, req, **phase)
                                  : MethodNotAllowed(req, "POST");
  } else if (auto experiment = Segment(path, kExperimentPrefix, "experiment")) {
    route = kExperiment;
    resp = !*experiment          ? ErrorResponse(experiment->error())
           : get                 ? GetExperiment(ctx, req, **experiment)
           : req.method == "PUT" ? PutExperimentRoute(ctx, req, **experiment)
                                 : MethodNotAllowed(req, "GET, PUT");
  } else if (path == "/healthz") {
    route = kHealthz;
    resp = get ? Healthz(ctx, req) : MethodNotAllowed(req, "GET");
  } else if (path == "/readyz") {
    route = kReadyz;
    resp = get ? Readyz(ctx, req) : MethodNotAllowed(req, "GET");
  } else {
    resp = ErrorResponse(404, "not_found", fmt::format("no endpoint at {}", req.path), "path");
  }
  done()(std::move(resp));
}

}  // namespace abrec
