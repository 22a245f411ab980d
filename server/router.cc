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
  kLogin,
  kLogout,
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
                                            "/login",
                                            "/logout",
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

Router::Router(Platform& platform, const Authorizer& authorizer, SessionStore& sessions,
               bool cookie_secure, ServerMetrics& metrics, const std::atomic<ServiceState>& state)
    : platform_(platform),
      authorizer_(authorizer),
      sessions_(sessions),
      cookie_secure_(cookie_secure),
      metrics_(metrics),
      state_(state) {}

std::vector<std::string> Router::RouteNames() {
  return {std::begin(kRouteNames), std::end(kRouteNames)};
}

HttpResponse Router::Route(const HttpRequest& req) const {
  std::promise<HttpResponse> answer;
  auto future = answer.get_future();
  Dispatch(req, [&answer](HttpResponse r) { answer.set_value(std::move(r)); });
  return future.get();
}

namespace {

// RouteContext::actor of an allowed request.
std::string ActorOf(const AuthResult& auth) {
  if (!auth.who) return "anonymous";
  if (auth.who->id.empty()) return "admin";  // the admin token
  return "key:" + auth.who->name;
}

// The route a path names, with its one path segment (percent-decoded) where it has one.
struct RouteMatch {
  std::size_t id = kUnmatched;
  std::optional<Result<std::string>> segment;
};

RouteMatch Match(std::string_view path) {
  if (path == "/v1/assign") return {kAssign, {}};
  if (path == "/v1/recommend") return {kRecommend, {}};
  if (auto user = Segment(path, kRecommendPrefix, "user_id")) return {kRecommendUser, user};
  if (path == "/v1/models/reload") return {kModelsReload, {}};
  if (path == "/v1/events") return {kEvents, {}};
  if (path == "/v1/covariates") return {kCovariates, {}};
  if (auto user = Segment(path, kUserPrefix, "user_id")) return {kUser, user};
  if (auto id = Segment(path, kAuditPrefix, "request_id")) return {kAudit, id};
  if (path == "/v1/experiments" || path == "/v1/experiments/") return {kExperiments, {}};
  if (auto key = Segment(path, kExperimentPrefix, "experiment", kReportSuffix)) {
    return {kExperimentReport, key};
  }
  if (auto key = Segment(path, kExperimentPrefix, "experiment", kPhaseSuffix)) {
    return {kExperimentPhase, key};
  }
  if (auto key = Segment(path, kExperimentPrefix, "experiment")) return {kExperiment, key};
  if (path == "/v1/alerts") return {kAlerts, {}};
  if (path == "/dashboards" || path == kDashboardPrefix) return {kDashboards, {}};
  if (auto key = Segment(path, kDashboardPrefix, "experiment")) return {kDashboard, key};
  if (path == "/healthz") return {kHealthz, {}};
  if (path == "/readyz") return {kReadyz, {}};
  if (path == "/metrics") return {kMetrics, {}};
  if (path == "/login") return {kLogin, {}};
  if (path == "/logout") return {kLogout, {}};
  return {kUnmatched, {}};
}

// The scope a route needs (auth/scopes.h), or nullopt for the open ones: liveness,
// readiness, signing in and out, and unknown paths (404).
std::optional<Scope> NeededScope(std::size_t route, std::string_view method) {
  switch (route) {
    case kAssign:
    case kRecommend:
    case kRecommendUser:
    case kEvents:
    case kCovariates: return Scope::kServe;
    case kModelsReload:
    case kExperimentPhase:
    case kAudit:
    case kUser: return Scope::kAdmin;
    case kExperiment: return method == "PUT" ? Scope::kAdmin : Scope::kRead;
    case kExperiments:
    case kExperimentReport:
    case kAlerts:
    case kDashboards:
    case kDashboard:
    case kMetrics: return Scope::kRead;
    default: return std::nullopt;
  }
}

}  // namespace

void Router::Dispatch(const HttpRequest& req, std::function<void(HttpResponse)> respond) const {
  const auto start = std::chrono::steady_clock::now();
  RouteContext ctx{platform_, metrics_, state_};
  const bool get = req.method == "GET" || req.method == "HEAD";
  const RouteMatch match = Match(req.path);
  const std::size_t route = match.id;
  // Every answer goes through here, so the metrics see the time to the final answer.
  auto done = [this, start, route, respond = std::move(respond)]() {
    return [this, start, route, respond](HttpResponse r) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      metrics_.ObserveRequest(route, r.status, seconds);
      respond(std::move(r));
    };
  };
  if (const auto scope = NeededScope(route, req.method)) {
    const AuthResult auth = authorizer_.Check(
        Credentials{req.method, req.authorization, req.cookie, req.remote_address}, *scope,
        route == kMetrics);
    if (auth.access != Access::kAllowed) {
      const bool page = route == kDashboards || route == kDashboard;
      return done()(page ? SignInRequired(req, auth) : AuthError(auth));
    }
    ctx.actor = ActorOf(auth);
  }
  if (match.segment && !*match.segment) return done()(ErrorResponse(match.segment->error()));
  const std::string segment = match.segment ? **match.segment : std::string();
  HttpResponse resp;
  switch (route) {
    case kAssign:
      if (get) return GetAssign(ctx, req, done());
      if (req.method == "POST") return PostAssign(ctx, req, done());
      return done()(MethodNotAllowed(req, "GET, POST"));
    case kRecommend:
      if (req.method == "POST") return PostRecommend(ctx, req, done());
      return done()(MethodNotAllowed(req, "POST"));
    case kRecommendUser:
      if (get) return GetRecommend(ctx, req, segment, done());
      return done()(MethodNotAllowed(req, "GET"));
    case kModelsReload:
      resp = req.method == "POST" ? ReloadModels(ctx, req) : MethodNotAllowed(req, "POST");
      break;
    case kEvents:
      if (req.method == "POST") return PostEvents(ctx, req, done());
      return done()(MethodNotAllowed(req, "POST"));
    case kCovariates:
      if (req.method == "POST") return PostCovariates(ctx, req, done());
      return done()(MethodNotAllowed(req, "POST"));
    case kUser:
      if (req.method == "DELETE") return DeleteUser(ctx, req, segment, done());
      return done()(MethodNotAllowed(req, "DELETE"));
    case kAudit:
      if (get) return GetAudit(ctx, req, segment, done());
      return done()(MethodNotAllowed(req, "GET"));
    case kExperiments: resp = get ? ListExperiments(ctx, req) : MethodNotAllowed(req, "GET"); break;
    // Reports and what is drawn from them are computed off the I/O threads
    // (report_service.h).
    case kExperimentReport:
      if (get) return GetReport(ctx, req, segment, done());
      return done()(MethodNotAllowed(req, "GET"));
    case kExperimentPhase:
      resp = req.method == "POST" ? PostPhase(ctx, req, segment) : MethodNotAllowed(req, "POST");
      break;
    case kExperiment:
      resp = get                   ? GetExperiment(ctx, req, segment)
             : req.method == "PUT" ? PutExperimentRoute(ctx, req, segment)
                                   : MethodNotAllowed(req, "GET, PUT");
      break;
    case kAlerts:
      if (get) return GetAlerts(ctx, req, done());
      return done()(MethodNotAllowed(req, "GET"));
    case kDashboards:
      if (get) return GetDashboards(ctx, req, done());
      return done()(MethodNotAllowed(req, "GET"));
    case kDashboard:
      if (get) return GetDashboard(ctx, req, segment, done());
      return done()(MethodNotAllowed(req, "GET"));
    case kHealthz: resp = get ? Healthz(ctx, req) : MethodNotAllowed(req, "GET"); break;
    case kReadyz: resp = get ? Readyz(ctx, req) : MethodNotAllowed(req, "GET"); break;
    case kMetrics:
      if (get) return Metrics(ctx, req, done());
      return done()(MethodNotAllowed(req, "GET"));
    case kLogin:
      resp = get                    ? LoginForm(req)
             : req.method == "POST" ? PostLogin(authorizer_, sessions_, cookie_secure_, req)
                                    : MethodNotAllowed(req, "GET, POST");
      break;
    case kLogout:
      resp = req.method == "POST" ? PostLogout(sessions_, cookie_secure_, req)
                                  : MethodNotAllowed(req, "POST");
      break;
    default:
      resp = ErrorResponse(Error::NotFound(fmt::format("no endpoint at {}", req.path), "path"));
  }
  done()(std::move(resp));
}

}  // namespace abrec
