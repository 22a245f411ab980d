// GET /v1/assign?user_id=&experiment=[&log=] and POST /v1/assign (batch).
#include <fmt/format.h>

#include "server/http/error_response.h"
#include "server/http/json_body.h"
#include "server/http/query_string.h"
#include "server/routes/routes.h"
#include "server/views.h"

namespace abrec {
namespace {

constexpr std::string_view kAssignParams[] = {"user_id", "experiment", "log"};

Result<bool> ParseLogFlag(std::string_view v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return std::unexpected(
      Error::InvalidArgument(fmt::format("log must be true or false, got \"{}\"", v), "log"));
}

Result<nlohmann::ordered_json> AssignOne(const RouteContext& ctx, std::string_view user_id,
                                         std::string_view key) {
  auto outcome = ctx.platform.Assign(user_id, key);
  if (!outcome) return std::unexpected(outcome.error());
  ctx.metrics.CountAssignment(outcome->experiment->def.key, outcome->bucket);
  return AssignView(user_id, *outcome);
}

}  // namespace

HttpResponse GetAssign(const RouteContext& ctx, const HttpRequest& req) {
  auto params = ParseQuery(req.query, kAssignParams);
  if (!params) return ErrorResponse(params.error());
  const auto user = params->find("user_id");
  if (user == params->end() || user->second.empty()) {
    return ErrorResponse(Error::InvalidArgument("query parameter user_id is required", "user_id"));
  }
  const auto exp = params->find("experiment");
  if (exp == params->end() || exp->second.empty()) {
    return ErrorResponse(
        Error::InvalidArgument("query parameter experiment is required", "experiment"));
  }
  if (const auto log = params->find("log"); log != params->end()) {
    // Exposure logging is the event log's (it records an exposure unless log=false).
    if (auto flag = ParseLogFlag(log->second); !flag) return ErrorResponse(flag.error());
  }
  auto body = AssignOne(ctx, user->second, exp->second);
  if (!body) return ErrorResponse(body.error());
  return JsonResponse(*body);
}

HttpResponse PostAssign(const RouteContext& ctx, const HttpRequest& req) {
  if (!req.query.empty()) {
    return ErrorResponse(Error::InvalidArgument(
        "POST /v1/assign takes its arguments in the JSON body, not the query", "query"));
  }
  const auto& limits = ctx.platform.config().limits;
  auto json = ParseJsonBody(req, limits.max_yaml_depth);
  if (!json) return ErrorResponse(json.error());
  if (!json->is_object()) {
    return ErrorResponse(Error::InvalidArgument(
        "expected a JSON object {\"experiment\", \"user_ids\", \"log\"}", "body"));
  }
  for (const auto& [k, _] : json->items()) {
    if (k != "experiment" && k != "user_ids" && k != "log") {
      return ErrorResponse(Error::InvalidArgument(
          fmt::format("unknown field \"{}\"; allowed: experiment, user_ids, log", k), k));
    }
  }
  const auto exp = json->find("experiment");
  if (exp == json->end() || !exp->is_string() || exp->get_ref<const std::string&>().empty()) {
    return ErrorResponse(
        Error::InvalidArgument("experiment is required and must be a string", "experiment"));
  }
  if (const auto log = json->find("log"); log != json->end() && !log->is_boolean()) {
    return ErrorResponse(Error::InvalidArgument("log must be true or false", "log"));
  }
  const auto ids = json->find("user_ids");
  if (ids == json->end() || !ids->is_array()) {
    return ErrorResponse(
        Error::InvalidArgument("user_ids is required and must be a list of strings", "user_ids"));
  }
  if (ids->size() > static_cast<std::size_t>(limits.max_batch_users)) {
    return ErrorResponse(Error{ErrorCode::kResourceExhausted,
                               fmt::format("user_ids has {} entries; at most {} per request",
                                           ids->size(), limits.max_batch_users),
                               "user_ids"});
  }
  const std::string& key = exp->get_ref<const std::string&>();
  // Every id is checked before any is assigned: a rejected batch assigns (and logs) nothing.
  for (std::size_t i = 0; i < ids->size(); ++i) {
    const auto& id = (*ids)[i];
    const std::string field = fmt::format("user_ids[{}]", i);
    if (!id.is_string()) {
      return ErrorResponse(
          Error::InvalidArgument(fmt::format("{} must be a string", field), field));
    }
    if (auto ok = ValidateUserId(id.get_ref<const std::string&>()); !ok) {
      return ErrorResponse(
          Error::InvalidArgument(fmt::format("{}: {}", field, ok.error().message), field));
    }
  }
  if (!ctx.platform.experiments()->Find(key)) {
    return ErrorResponse(Error::NotFound(fmt::format("no experiment \"{}\"", key), "experiment"));
  }
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const auto& id : *ids) {
    auto one = AssignOne(ctx, id.get_ref<const std::string&>(), key);
    if (!one) return ErrorResponse(one.error());
    results.push_back(std::move(*one));
  }
  return JsonResponse({{"experiment", key}, {"results", std::move(results)}});
}

}  // namespace abrec
