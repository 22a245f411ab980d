// POST /v1/recommend {user_id, surface, attributes, k} and GET /v1/recommend/{user_id}
// (known users: their attributes and candidates come from the precomputed cache). The answer
// waits for the exposure's commit, as /v1/assign's does: a list the client shows is an
// exposure the analysis counts, and its audit record (GET /v1/audit/{request_id}) exists.
#include <fmt/format.h>

#include "platform/views.h"
#include "server/http/error_response.h"
#include "server/http/json_body.h"
#include "server/http/query_string.h"
#include "server/routes/routes.h"

namespace abrec {
namespace {

void Answer(const RouteContext& ctx, RecommendRequest request, Respond respond) {
  // The catalog outlives every request (it is the platform's); the route's context does
  // not, so the completion must not capture it.
  const Catalog* catalog = ctx.platform.catalog();
  auto queued = ctx.platform.RecommendAndLog(
      std::move(request), [catalog, respond](Result<RecommendOutcome> outcome) {
        if (!outcome) return respond(UnavailableResponse(outcome.error()));
        respond(JsonResponse(RecommendView(*catalog, *outcome)));
      });
  if (!queued) respond(ErrorResponse(queued.error()));
}

Result<int> ParseK(const nlohmann::json& v) {
  if (!v.is_number_integer()) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("k must be an integer 1..{}", kMaxRecommendations), "k"));
  }
  const auto k = v.get<std::int64_t>();
  if (k < 1 || k > kMaxRecommendations) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("k must be 1..{}, got {}", kMaxRecommendations, k), "k"));
  }
  return static_cast<int>(k);
}

std::optional<HttpResponse> RequireRecommender(const RouteContext& ctx) {
  if (ctx.platform.catalog()) return std::nullopt;
  return ErrorResponse(
      Error{ErrorCode::kUnavailable, "this process serves no recommendations", "recommender"});
}

}  // namespace

void PostRecommend(const RouteContext& ctx, const HttpRequest& req, Respond respond) {
  if (auto missing = RequireRecommender(ctx)) return respond(*missing);
  if (!req.query.empty()) {
    return respond(ErrorResponse(Error::InvalidArgument(
        "POST /v1/recommend takes its arguments in the JSON body, not the query", "query")));
  }
  auto json = ParseJsonBody(req, ctx.platform.config().limits.max_yaml_depth);
  if (!json) return respond(ErrorResponse(json.error()));
  if (!json->is_object()) {
    return respond(ErrorResponse(Error::InvalidArgument(
        "expected a JSON object {\"user_id\", \"surface\", \"attributes\", \"k\"}", "body")));
  }
  RecommendRequest r;
  for (const auto& [key, v] : json->items()) {
    if (key == "user_id") {
      if (!v.is_string()) {
        return respond(
            ErrorResponse(Error::InvalidArgument("user_id must be a string", "user_id")));
      }
      r.user_id = v.get<std::string>();
    } else if (key == "surface") {
      if (!v.is_string()) {
        return respond(
            ErrorResponse(Error::InvalidArgument("surface must be a string", "surface")));
      }
      r.surface = v.get<std::string>();
    } else if (key == "k") {
      auto k = ParseK(v);
      if (!k) return respond(ErrorResponse(k.error()));
      r.k = *k;
    } else if (key != "attributes") {
      return respond(ErrorResponse(Error::InvalidArgument(
          fmt::format("unknown field \"{}\"; allowed: user_id, surface, attributes, k", key),
          key)));
    }
  }
  if (auto ok = ValidateUserId(r.user_id); !ok) return respond(ErrorResponse(ok.error()));
  // A known user sent without attributes is served from what the cache knows of them.
  if (const auto a = json->find("attributes"); a != json->end() && !a->is_null()) {
    r.attributes = std::move(*a);
  }
  Answer(ctx, std::move(r), std::move(respond));
}

void GetRecommend(const RouteContext& ctx, const HttpRequest& req, std::string_view user_id,
                  Respond respond) {
  if (auto missing = RequireRecommender(ctx)) return respond(*missing);
  constexpr std::string_view kParams[] = {"surface", "k"};
  auto params = ParseQuery(req.query, kParams);
  if (!params) return respond(ErrorResponse(params.error()));
  RecommendRequest r;
  r.user_id = std::string(user_id);
  // HEAD is safe (RFC 9110 section 9.3.2): it answers as GET would, without the exposure.
  r.log = req.method != "HEAD";
  if (auto ok = ValidateUserId(r.user_id); !ok) return respond(ErrorResponse(ok.error()));
  if (const auto s = params->find("surface"); s != params->end()) r.surface = s->second;
  if (const auto k = params->find("k"); k != params->end()) {
    auto parsed = ParseK(nlohmann::json::parse(k->second, nullptr, false));
    if (!parsed) return respond(ErrorResponse(parsed.error()));
    r.k = *parsed;
  }
  // An unknown user is 404. Cache down: the user's attributes are unknown; the list is
  // computed from none (cold start) and says so with fallback "cache_down".
  r.known_users_only = true;
  Answer(ctx, std::move(r), std::move(respond));
}

}  // namespace abrec
