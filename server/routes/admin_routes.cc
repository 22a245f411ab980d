// Admin endpoints: GET /v1/audit/{request_id}, DELETE /v1/users/{id} and POST
// /v1/models/reload. They show or remove personal data or change what is served, so the router
// lets only callers with the admin scope in.
#include <fmt/format.h>

#include "base/clock.h"
#include "base/log.h"
#include "server/http/error_response.h"
#include "server/http/json_body.h"
#include "server/routes/routes.h"

namespace abrec {

std::optional<HttpResponse> RequireEventStore(const RouteContext& ctx) {
  if (ctx.platform.logs_events()) return std::nullopt;
  return ErrorResponse(Error{ErrorCode::kUnavailable, "no event store", "storage"});
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
    nlohmann::ordered_json item{
        {"product_id", it.product_id}, {"position", it.position}, {"propensity", it.propensity}};
    if (!it.in_lists.empty()) item["in_lists"] = it.in_lists;
    items.push_back(std::move(item));
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

void GetAudit(const RouteContext& ctx, const HttpRequest& /*req*/, std::string_view request_id,
              Respond respond) {
  if (auto missing = RequireEventStore(ctx)) return respond(*missing);
  std::string id(request_id);
  auto queued = ctx.platform.EventsOfRequest(id, [id, respond](Result<std::vector<Event>> events) {
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

void DeleteUser(const RouteContext& ctx, const HttpRequest& /*req*/, std::string_view user_id,
                Respond respond) {
  if (auto ok = ValidateUserId(user_id); !ok) return respond(ErrorResponse(ok.error()));
  if (auto missing = RequireEventStore(ctx)) return respond(*missing);
  std::string user(user_id);
  auto queued = ctx.platform.EraseUser(user, [user, respond](Result<Platform::Erased> erased) {
    if (!erased) return respond(UnavailableResponse(erased.error()));
    respond(JsonResponse({{"user_id", user},
                          {"events_removed", erased->events},
                          {"cached_entries_removed", erased->cached_entries}}));
  });
  if (!queued) respond(UnavailableResponse(queued.error()));
}

HttpResponse ReloadModels(const RouteContext& ctx, const HttpRequest& /*req*/) {
  auto reloaded = ctx.platform.ReloadModels(ctx.actor);
  if (!reloaded) return ErrorResponse(reloaded.error());
  nlohmann::ordered_json models = nlohmann::ordered_json::array();
  bool failed = false;
  for (const ModelReloadResult& r : *reloaded) {
    failed = failed || r.status == "failed";
    nlohmann::ordered_json m{{"name", r.name},
                             {"version", r.version},
                             {"previous", r.previous.empty() ? nlohmann::ordered_json(nullptr)
                                                             : nlohmann::ordered_json(r.previous)},
                             {"status", r.status}};
    if (!r.error.empty()) m["error"] = r.error;
    models.push_back(std::move(m));
  }
  return JsonResponse({{"models", std::move(models)}}, failed ? 422 : 200);
}

}  // namespace abrec
