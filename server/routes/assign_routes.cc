// GET /v1/assign?user_id=&experiment=[&log=] and POST /v1/assign (batch). Unless log=false,
// the exposure of every user in the experiment is logged, and the answer waits for its
// commit: an assignment the client acts on is an exposure the analysis counts.
#include <fmt/format.h>

#include "platform/views.h"
#include "server/http/error_response.h"
#include "server/http/json_body.h"
#include "server/http/query_string.h"
#include "server/routes/routes.h"

namespace abrec {
namespace {

constexpr std::string_view kAssignParams[] = {"user_id", "experiment", "log"};

Result<bool> ParseLogFlag(std::string_view v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return std::unexpected(
      Error::InvalidArgument(fmt::format("log must be true or false, got \"{}\"", v), "log"));
}

// Assigns every user; collects the exposures to log when `log` is set.
struct Assigned {
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  std::vector<Event> exposures;
};

Result<Assigned> AssignAll(const RouteContext& ctx, const std::vector<std::string>& users,
                           const std::string& key, bool log) {
  Assigned out;
  for (const auto& user : users) {
    auto outcome = ctx.platform.Assign(user, key);
    if (!outcome) return std::unexpected(outcome.error());
    ctx.metrics.CountAssignment(outcome->experiment->def.key, outcome->bucket);
    nlohmann::ordered_json view = AssignView(user, *outcome);
    const bool logged = log && ctx.platform.logs_events() && Platform::IsExposure(*outcome);
    std::string request_id = ctx.platform.NewRequestId();
    view["request_id"] = request_id;
    view["logged"] = logged;
    if (logged) out.exposures.push_back(ctx.platform.ExposureEvent(user, *outcome, request_id));
    out.results.push_back(std::move(view));
  }
  return out;
}

// Answers with `make(results)` once the exposures are committed. The answer is serialized
// here, on the request's thread, before the exposures are queued: the store's writer thread
// only hands it back.
void AnswerAfterLogging(const RouteContext& ctx, Assigned assigned, Respond respond,
                        std::function<nlohmann::ordered_json(nlohmann::ordered_json)> make) {
  HttpResponse answer = JsonResponse(make(std::move(assigned.results)));
  if (assigned.exposures.empty()) return respond(std::move(answer));
  auto ready = std::make_shared<HttpResponse>(std::move(answer));
  auto submitted = ctx.platform.LogEvents(
      std::move(assigned.exposures), [ready, respond](Result<std::vector<EventOutcome>> committed) {
        if (!committed) return respond(UnavailableResponse(committed.error()));
        respond(std::move(*ready));
      });
  if (!submitted) respond(UnavailableResponse(submitted.error()));
}

}  // namespace

void GetAssign(const RouteContext& ctx, const HttpRequest& req, Respond respond) {
  auto params = ParseQuery(req.query, kAssignParams);
  if (!params) return respond(ErrorResponse(params.error()));
  const auto user = params->find("user_id");
  if (user == params->end() || user->second.empty()) {
    return respond(
        ErrorResponse(Error::InvalidArgument("query parameter user_id is required", "user_id")));
  }
  const auto exp = params->find("experiment");
  if (exp == params->end() || exp->second.empty()) {
    return respond(ErrorResponse(
        Error::InvalidArgument("query parameter experiment is required", "experiment")));
  }
  bool log = true;
  if (const auto it = params->find("log"); it != params->end()) {
    auto flag = ParseLogFlag(it->second);
    if (!flag) return respond(ErrorResponse(flag.error()));
    log = *flag;
  }
  // HEAD is safe (RFC 9110 section 9.3.2): it answers as GET would, without the exposure.
  if (req.method == "HEAD") log = false;
  auto assigned = AssignAll(ctx, {user->second}, exp->second, log);
  if (!assigned) return respond(ErrorResponse(assigned.error()));
  AnswerAfterLogging(ctx, std::move(*assigned), std::move(respond),
                     [](nlohmann::ordered_json results) { return std::move(results[0]); });
}

void PostAssign(const RouteContext& ctx, const HttpRequest& req, Respond respond) {
  if (!req.query.empty()) {
    return respond(ErrorResponse(Error::InvalidArgument(
        "POST /v1/assign takes its arguments in the JSON body, not the query", "query")));
  }
  const auto& limits = ctx.platform.config().limits;
  auto json = ParseJsonBody(req, limits.max_yaml_depth);
  if (!json) return respond(ErrorResponse(json.error()));
  if (!json->is_object()) {
    return respond(ErrorResponse(Error::InvalidArgument(
        "expected a JSON object {\"experiment\", \"user_ids\", \"log\"}", "body")));
  }
  for (const auto& [k, _] : json->items()) {
    if (k != "experiment" && k != "user_ids" && k != "log") {
      return respond(ErrorResponse(Error::InvalidArgument(
          fmt::format("unknown field \"{}\"; allowed: experiment, user_ids, log", k), k)));
    }
  }
  const auto exp = json->find("experiment");
  if (exp == json->end() || !exp->is_string() || exp->get_ref<const std::string&>().empty()) {
    return respond(ErrorResponse(
        Error::InvalidArgument("experiment is required and must be a string", "experiment")));
  }
  bool log = true;
  if (const auto it = json->find("log"); it != json->end()) {
    if (!it->is_boolean()) {
      return respond(ErrorResponse(Error::InvalidArgument("log must be true or false", "log")));
    }
    log = it->get<bool>();
  }
  const auto ids = json->find("user_ids");
  if (ids == json->end() || !ids->is_array()) {
    return respond(ErrorResponse(
        Error::InvalidArgument("user_ids is required and must be a list of strings", "user_ids")));
  }
  if (ids->size() > static_cast<std::size_t>(limits.max_batch_users)) {
    return respond(
        ErrorResponse(Error{ErrorCode::kResourceExhausted,
                            fmt::format("user_ids has {} entries; at most {} per request",
                                        ids->size(), limits.max_batch_users),
                            "user_ids"}));
  }
  const std::string& key = exp->get_ref<const std::string&>();
  // Every id is checked before any is assigned: a rejected batch assigns (and logs) nothing.
  std::vector<std::string> users;
  for (std::size_t i = 0; i < ids->size(); ++i) {
    const auto& id = (*ids)[i];
    const std::string field = fmt::format("user_ids[{}]", i);
    if (!id.is_string()) {
      return respond(
          ErrorResponse(Error::InvalidArgument(fmt::format("{} must be a string", field), field)));
    }
    if (auto ok = ValidateUserId(id.get_ref<const std::string&>()); !ok) {
      return respond(ErrorResponse(
          Error::InvalidArgument(fmt::format("{}: {}", field, ok.error().message), field)));
    }
    users.push_back(id.get<std::string>());
  }
  if (!ctx.platform.experiments()->Find(key)) {
    return respond(
        ErrorResponse(Error::NotFound(fmt::format("no experiment \"{}\"", key), "experiment")));
  }
  auto assigned = AssignAll(ctx, users, key, log);
  if (!assigned) return respond(ErrorResponse(assigned.error()));
  AnswerAfterLogging(
      ctx, std::move(*assigned), std::move(respond), [key](nlohmann::ordered_json results) {
        return nlohmann::ordered_json{{"experiment", key}, {"results", std::move(results)}};
      });
}

}  // namespace abrec
