// Admin endpoints (bearer token): GET /v1/audit/{request_id} and DELETE /v1/users/{id}.
// They show or remove personal data, so every call needs the admin token.
#include <fmt/format.h>

#include "base/clock.h"
#include "server/http/error_response.h"
#include "server/http/json_body.h"
#include "server/routes/routes.h"

namespace abrec {

std::optional<HttpResponse> RequireEventStore(const RouteContext& ctx) {
  if (ctx.platform.events()) return std::nullopt;
  return ErrorResponse(Error{ErrorCode::kUnavailable, "no event store", "storage"});
}

std::optional<HttpResponse> RequireAdmin(const RouteContext& ctx, const HttpRequest& req) {
  switch (ctx.platform.CheckAdmin(req.authorization)) {
    case Platform::AdminCheck::kAllowed: return std::nullopt;
    case Platform::AdminCheck::kMissing: {
      HttpResponse r = ErrorResponse(401, "unauthenticated",
                                     "this endpoint needs \"Authorization: Bearer TOKEN\" with the "
                                     "admin token (admin.token_file)",
                                     "authorization");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r;
    }
    case Platform::AdminCheck::kWrong:
      return ErrorResponse(403, "forbidden", "the bearer token is not the admin token",
                           "authorization");
  }
  return ErrorResponse(403, "forbidden", "not allowed", "authorization");
}

namespace {

nlohmann::ordered_json NullIfEmpty(const std::string& s) {
  return s.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s);
}

nlohmann::ordered_json AuditJson(const Event& e) {
  nlohmann::ordered_json j{{"event_id", e.event_id},
                           {"type", EventTypeName(e.type)},
                           {"user_id", e.user_id},
                           {"timestamp", FormatRfc3339(e.ts_us)}};
  if (e.type != EventType::kExposure) {
    j["product_id"] = e.product_id;
    j["position"] =
        e.position ? nlohmann::ordered_json(*e.position) : nlohmann::ordered_json(nullptr);
    if (e.type == EventType::kBind) j["premium"] = static_cast<double>(e.premium_cents) / 100.0;
    return j;
  }
  nlohmann::ordered_json items = nlohmann::ordered_json::array();
  for (const auto& it : e.items) {
    items.push_back(
        {{"product_id", it.product_id}, {"position", it.position}, {"propensity", it.propensity}});
  }
  j["experiment"] = e.experiment;
  j["bucket"] = e.bucket;
  j["variant"] = NullIfEmpty(e.variant);
  j["counterfactual_variant"] = NullIfEmpty(e.counterfactual_variant);
  j["policy"] = e.policy;
  j["model_version"] = NullIfEmpty(e.model_version);
  j["items"] = std::move(items);
  j["features"] = e.features_json.empty()
                      ? nlohmann::ordered_json(nullptr)
                      : nlohmann::ordered_json::parse(e.features_json, nullptr, false);
  return j;
}

}  // namespace

void GetAudit(const RouteContext& ctx, const HttpRequest& req, std::string_view request_id,
              Respond respond) {
  if (auto denied = RequireAdmin(ctx, req)) return respond(*denied);
  if (auto missing = RequireEventStore(ctx)) return respond(*missing);
  std::string id(request_id);
  auto queued =
      ctx.platform.events()->EventsOfRequest(id, [id, respond](Result<std::vector<Event>> events) {
        if (!events) return respond(UnavailableResponse(events.error()));
        if (events->empty()) {
          return respond(ErrorResponse(Error::NotFound(
              fmt::format("no events were logged under request_id \"{}\" (or they were purged or "
                          "erased)",
                          id),
              "request_id")));
        }
        nlohmann::ordered_json list = nlohmann::ordered_json::array();
        for (const Event& e : *events) list.push_back(AuditJson(e));
        respond(JsonResponse({{"request_id", id}, {"events", std::move(list)}}));
      });
  if (!queued) respond(UnavailableResponse(queued.error()));
}

void DeleteUser(const RouteContext& ctx, const HttpRequest& req, std::string_view user_id,
                Respond respond) {
  if (auto denied = RequireAdmin(ctx, req)) return respond(*denied);
  if (auto ok = ValidateUserId(user_id); !ok) return respond(ErrorResponse(ok.error()));
  if (auto missing = RequireEventStore(ctx)) return respond(*missing);
  std::string user(user_id);
  auto queued =
      ctx.platform.events()->EraseUser(user, [user, respond](Result<std::int64_t> erased) {
        if (!erased) return respond(UnavailableResponse(erased.error()));
        respond(JsonResponse({{"user_id", user}, {"events_removed", *erased}}));
      });
  if (!queued) respond(UnavailableResponse(queued.error()));
}

}  // namespace abrec
