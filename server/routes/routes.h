// The handlers behind the router, one file per group of endpoints.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string_view>

#include "auth/authorizer.h"
#include "server/http/message.h"
#include "server/http/metrics.h"
#include "platform/platform.h"

namespace abrec {

enum class ServiceState;

// Handlers that may answer later (after a commit) take a Respond; it is called exactly
// once, possibly on another thread.
using Respond = std::function<void(HttpResponse)>;

struct RouteContext {
  Platform& platform;
  ServerMetrics& metrics;
  const std::atomic<ServiceState>& state;
  // Who the request is from, for the audit log: "key:NAME" for an API key, "admin" for the
  // admin token, "anonymous" without a credential (auth.anonymous_scopes).
  std::string actor = "anonymous";
};

// assign_routes.cc
void GetAssign(const RouteContext& ctx, const HttpRequest& req, Respond respond);
void PostAssign(const RouteContext& ctx, const HttpRequest& req, Respond respond);

// event_routes.cc
void PostEvents(const RouteContext& ctx, const HttpRequest& req, Respond respond);

// recommend_routes.cc
void PostRecommend(const RouteContext& ctx, const HttpRequest& req, Respond respond);
void GetRecommend(const RouteContext& ctx, const HttpRequest& req, std::string_view user_id,
                  Respond respond);

// experiment_routes.cc
HttpResponse ListExperiments(const RouteContext& ctx, const HttpRequest& req);
HttpResponse GetExperiment(const RouteContext& ctx, const HttpRequest& req, std::string_view key);
// The analyst's report (dashboards/report.h), computed off the I/O threads and cached
// (platform/report_service.h); 503 without an event store.
void GetReport(const RouteContext& ctx, const HttpRequest& req, std::string_view key,
               Respond respond);
// GET /v1/alerts: the alerts of every experiment not stopped (dashboards/alerts.h), from the
// latest snapshot (ReportService::Current: at most experiments.alerts_max_age_ms old).
void GetAlerts(const RouteContext& ctx, const HttpRequest& req, Respond respond);
// The dashboards: the index of every experiment (from the latest snapshot, as the alerts),
// and one experiment's page (HTML, from its report).
void GetDashboards(const RouteContext& ctx, const HttpRequest& req, Respond respond);
void GetDashboard(const RouteContext& ctx, const HttpRequest& req, std::string_view key,
                  Respond respond);

// covariate_routes.cc
void PostCovariates(const RouteContext& ctx, const HttpRequest& req, Respond respond);

// login_routes.cc: what a request without the scope it needs gets (401 or 403, JSON), and
// the dashboards' sign-in (a form and an HttpOnly session cookie).
HttpResponse AuthError(const AuthResult& auth);
// For the HTML pages: the sign-in form, with `WWW-Authenticate: Basic` on a 401.
HttpResponse SignInRequired(const HttpRequest& req, const AuthResult& auth);
HttpResponse LoginForm(const HttpRequest& req);
HttpResponse PostLogin(const Authorizer& authorizer, SessionStore& sessions, bool cookie_secure,
                       const HttpRequest& req);
HttpResponse PostLogout(SessionStore& sessions, bool cookie_secure, const HttpRequest& req);

// admin_routes.cc: the router lets only the admin scope in (server/router.cc).
// 503 for the routes that need the event store when the platform has none.
std::optional<HttpResponse> RequireEventStore(const RouteContext& ctx);
void GetAudit(const RouteContext& ctx, const HttpRequest& req, std::string_view request_id,
              Respond respond);
// POST /v1/models/reload: loads new live model versions now; answers what changed.
HttpResponse ReloadModels(const RouteContext& ctx, const HttpRequest& req);
void DeleteUser(const RouteContext& ctx, const HttpRequest& req, std::string_view user_id,
                Respond respond);

// lifecycle_routes.cc: the admin scope (platform/lifecycle.h).
// PUT /v1/experiments/{key}: a whole definition, YAML or the seed's JSON form.
HttpResponse PutExperimentRoute(const RouteContext& ctx, const HttpRequest& req,
                                std::string_view key);
// POST /v1/experiments/{key}/phase: {"phase", "reason", "rollout_variant"?}.
HttpResponse PostPhase(const RouteContext& ctx, const HttpRequest& req, std::string_view key);

// ops_routes.cc
HttpResponse Healthz(const RouteContext& ctx, const HttpRequest& req);
HttpResponse Readyz(const RouteContext& ctx, const HttpRequest& req);
// The alerts' gauges come from the latest snapshot, as GET /v1/alerts.
void Metrics(const RouteContext& ctx, const HttpRequest& req, Respond respond);

}  // namespace abrec
