// POST /v1/covariates: pre-experiment covariates per user (annual premium held before the
// experiment, products held), for CUPED variance reduction. Validated one by one; 202 once
// the good ones are committed.
#include <cmath>

#include <fmt/format.h>

#include "server/event_reader.h"
#include "server/http/error_response.h"
#include "server/http/json_body.h"
#include "server/routes/routes.h"

namespace abrec {
namespace {

constexpr std::int64_t kMaxProductsHeld = 1000;

Result<Covariates> ReadCovariates(const nlohmann::json& j, std::size_t index) {
  const std::string at = fmt::format("covariates[{}]", index);
  auto invalid = [&](std::string_view field, std::string message) {
    return std::unexpected(
        Error::InvalidArgument(std::move(message), fmt::format("{}.{}", at, field)));
  };
  if (!j.is_object()) return std::unexpected(Error::InvalidArgument("expected an object", at));
  for (const auto& [k, _] : j.items()) {
    if (k != "user_id" && k != "premium_before" && k != "products_held") {
      return invalid(
          k,
          fmt::format("unknown field \"{}\"; allowed: user_id, premium_before, products_held", k));
    }
  }
  Covariates c;
  const auto user = j.find("user_id");
  if (user == j.end() || !user->is_string())
    return invalid("user_id", "user_id is required and must be a string");
  c.user_id = user->get<std::string>();
  if (auto ok = ValidateUserId(c.user_id); !ok) return invalid("user_id", ok.error().message);
  const auto premium = j.find("premium_before");
  if (premium == j.end() || !premium->is_number() || !std::isfinite(premium->get<double>()) ||
      premium->get<double>() < 0 || premium->get<double>() > kMaxPremium) {
    return invalid(
        "premium_before",
        fmt::format("premium_before is required: the annual premium held before, 0 to {}",
                    kMaxPremium));
  }
  c.premium_before_cents = std::llround(premium->get<double>() * 100.0);
  const auto held = j.find("products_held");
  if (held == j.end() || !held->is_number_integer() || held->get<std::int64_t>() < 0 ||
      held->get<std::int64_t>() > kMaxProductsHeld) {
    return invalid(
        "products_held",
        fmt::format("products_held is required: a whole number from 0 to {}", kMaxProductsHeld));
  }
  c.products_held = held->get<std::int64_t>();
  return c;
}

}  // namespace

void PostCovariates(const RouteContext& ctx, const HttpRequest& req, Respond respond) {
  if (auto missing = RequireEventStore(ctx)) return respond(*missing);
  const auto& cfg = ctx.platform.config();
  auto json = ParseJsonBody(req, cfg.limits.max_yaml_depth);
  if (!json) return respond(ErrorResponse(json.error()));
  auto batch =
      BatchList(*json, "covariates", static_cast<std::size_t>(cfg.events.max_events_per_request));
  if (!batch) return respond(ErrorResponse(batch.error()));
  const auto& list = **batch;
  auto rejected = std::make_shared<nlohmann::ordered_json>(nlohmann::ordered_json::array());
  std::vector<Covariates> good;
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto c = ReadCovariates(list[i], i);
    if (!c) {
      rejected->push_back({{"index", i},
                           {"error",
                            {{"code", ErrorCodeName(c.error().code)},
                             {"message", c.error().message},
                             {"field", c.error().field}}}});
      continue;
    }
    good.push_back(std::move(*c));
  }
  auto answer = [rejected, respond](std::int64_t accepted) {
    respond(JsonResponse({{"accepted", accepted}, {"rejected", std::move(*rejected)}}, 202));
  };
  auto queued =
      ctx.platform.SetCovariates(std::move(good), [answer, respond](Result<std::int64_t> stored) {
        if (!stored) return respond(UnavailableResponse(stored.error()));
        answer(*stored);
      });
  if (!queued) respond(UnavailableResponse(queued.error()));
}

}  // namespace abrec
