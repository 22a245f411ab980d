// GET /v1/experiments and GET /v1/experiments/{key}.
#include <fmt/format.h>

#include "server/http/error_response.h"
#include "server/http/json_body.h"
#include "server/routes/routes.h"
#include "server/views.h"

namespace abrec {

HttpResponse ListExperiments(const RouteContext& ctx, const HttpRequest& req) {
  if (!req.query.empty()) {
    return ErrorResponse(
        Error::InvalidArgument("this endpoint takes no query parameters", "query"));
  }
  const auto snap = ctx.platform.experiments();
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& e : snap->experiments) list.push_back(ExperimentSummaryView(*e));
  return JsonResponse({{"experiments", std::move(list)},
                       {"generation", snap->generation},
                       {"errors", DiagnosticsView(snap->errors)}});
}

HttpResponse GetExperiment(const RouteContext& ctx, const HttpRequest& req, std::string_view key) {
  if (!req.query.empty()) {
    return ErrorResponse(
        Error::InvalidArgument("this endpoint takes no query parameters", "query"));
  }
  const auto e = ctx.platform.experiments()->Find(key);
  if (!e)
    return ErrorResponse(Error::NotFound(fmt::format("no experiment \"{}\"", key), "experiment"));
  return JsonResponse(ExperimentView(*e));
}

}  // namespace abrec
