// Admin lifecycle endpoints (bearer token): PUT /v1/experiments/{key} takes a whole
// definition (YAML, or the seed's JSON form) and POST /v1/experiments/{key}/phase a phase
// change {"phase", "reason", "rollout_variant"?}. Both answer the definition now live, the
// previous phase and the gate's result (platform/lifecycle.h); a refusal names the field and
// carries the validation diagnostics or the gate's reasons.
#include <fmt/format.h>

#include "platform/lifecycle.h"
#include "platform/views.h"
#include "server/http/error_response.h"
#include "server/http/json_body.h"
#include "server/routes/routes.h"

namespace abrec {
namespace {

// The longest reason recorded with a phase change.
constexpr std::size_t kMaxReasonBytes = 1000;

nlohmann::ordered_json GateJson(const PhaseGateResult& gate) {
  nlohmann::ordered_json variants = nlohmann::ordered_json::array();
  for (const VariantGate& v : gate.variants) {
    nlohmann::ordered_json j = GateReportView(v.report);
    j["variant"] = v.variant;
    j["candidate"] = v.candidate;
    j["baseline"] = v.baseline;
    variants.push_back(std::move(j));
  }
  return {
      {"passed", gate.passed()}, {"failures", gate.failures}, {"variants", std::move(variants)}};
}

HttpResponse Answer(const LifecycleResult& result) {
  if (!result) {
    const LifecycleRefusal& r = result.error();
    HttpResponse resp = ErrorResponse(r.error);
    if (!r.gate) return resp;
    auto body = nlohmann::ordered_json::parse(resp.body);
    body["gate"] = GateJson(*r.gate);
    resp.body = DumpJson(body);
    return resp;
  }
  const LifecycleChange& c = *result;
  return JsonResponse(
      {{"experiment", ExperimentView(*c.experiment)},
       {"previous_phase", c.previous_phase ? nlohmann::ordered_json(PhaseName(*c.previous_phase))
                                           : nlohmann::ordered_json(nullptr)},
       {"unchanged", c.unchanged},
       {"gate", c.gate ? GateJson(*c.gate) : nlohmann::ordered_json(nullptr)}},
      c.previous_phase ? 200 : 201);
}

bool AcceptedDefinitionType(std::string_view content_type) {
  const std::string_view type = content_type.substr(0, content_type.find(';'));
  for (std::string_view t : {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml",
                             "text/plain", "application/json"}) {
    if (type == t) return true;
  }
  return false;
}

}  // namespace

HttpResponse PutExperimentRoute(const RouteContext& ctx, const HttpRequest& req,
                                std::string_view key) {
  if (!req.query.empty()) {
    return ErrorResponse(
        Error::InvalidArgument("this endpoint takes no query parameters", "query"));
  }
  if (!AcceptedDefinitionType(req.content_type)) {
    return ErrorResponse(Error{ErrorCode::kUnsupportedMediaType,
                               fmt::format("send the definition as application/yaml (or the "
                                           "seed's JSON form as application/json), not \"{}\"",
                                           req.content_type),
                               "content-type"});
  }
  return Answer(PutExperiment(ctx.platform, key, req.body, {.actor = ctx.actor, .reason = ""}));
}

HttpResponse PostPhase(const RouteContext& ctx, const HttpRequest& req, std::string_view key) {
  auto json = ParseJsonBody(req, ctx.platform.config().limits.max_yaml_depth);
  if (!json) return ErrorResponse(json.error());
  if (!json->is_object()) {
    return ErrorResponse(
        Error::InvalidArgument("expected an object {\"phase\": ..., \"reason\": ...}", "body"));
  }
  for (const auto& [k, v] : json->items()) {
    if (k != "phase" && k != "reason" && k != "rollout_variant") {
      return ErrorResponse(Error::InvalidArgument(
          fmt::format("unknown field \"{}\"; known: phase, reason, rollout_variant", k), k));
    }
  }
  const auto phase_field = json->find("phase");
  if (phase_field == json->end() || !phase_field->is_string()) {
    return ErrorResponse(Error::InvalidArgument(
        "give the phase to move to: shadow, ab_test, rollout or stopped", "phase"));
  }
  const auto phase = ParsePhase(phase_field->get<std::string>());
  if (!phase) {
    return ErrorResponse(Error::InvalidArgument(
        fmt::format("unknown phase \"{}\"; known: shadow, ab_test, rollout, stopped",
                    phase_field->get<std::string>()),
        "phase"));
  }
  const auto reason = json->find("reason");
  if (reason == json->end() || !reason->is_string() || reason->get<std::string>().empty() ||
      reason->get<std::string>().size() > kMaxReasonBytes) {
    return ErrorResponse(Error::InvalidArgument(
        fmt::format("give why, for the audit log: a string of 1 to {} bytes", kMaxReasonBytes),
        "reason"));
  }
  std::string rollout_variant;
  if (const auto v = json->find("rollout_variant"); v != json->end()) {
    if (!v->is_string()) {
      return ErrorResponse(Error::InvalidArgument("expected a variant name", "rollout_variant"));
    }
    rollout_variant = v->get<std::string>();
  }
  return Answer(ChangePhase(ctx.platform, key, *phase, rollout_variant,
                            {.actor = ctx.actor, .reason = reason->get<std::string>()}));
}

}  // namespace abrec
