// POST /v1/events: exposures, clicks and binds, validated one by one; the good events of a
// batch are kept when others are bad, and the answer (202) comes once they are committed.
#include <set>

#include <fmt/format.h>

#include "platform/views.h"
#include "server/event_reader.h"
#include "server/http/error_response.h"
#include "server/http/json_body.h"
#include "server/routes/routes.h"

namespace abrec {
namespace {

nlohmann::ordered_json Rejection(std::size_t index, const std::string& event_id, const Error& e,
                                 std::string_view code = {}) {
  return {{"index", index},
          {"event_id",
           event_id.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(event_id)},
          {"error",
           {{"code", code.empty() ? ErrorCodeName(e.code) : code},
            {"message", e.message},
            {"field", e.field}}}};
}

}  // namespace

void PostEvents(const RouteContext& ctx, const HttpRequest& req, Respond respond) {
  if (!req.query.empty()) {
    return respond(
        ErrorResponse(Error::InvalidArgument("this endpoint takes no query parameters", "query")));
  }
  if (auto missing = RequireEventStore(ctx)) return respond(*missing);
  const auto& cfg = ctx.platform.config();
  auto json = ParseJsonBody(req, cfg.limits.max_yaml_depth);
  if (!json) return respond(ErrorResponse(json.error()));
  auto batch =
      BatchList(*json, "events", static_cast<std::size_t>(cfg.events.max_events_per_request));
  if (!batch) return respond(ErrorResponse(batch.error()));
  const auto& list = **batch;
  auto rejected = std::make_shared<nlohmann::ordered_json>(nlohmann::ordered_json::array());
  std::vector<Event> good;
  std::vector<std::size_t> good_index;
  std::set<std::string> ids;
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto e = ReadEvent(list[i], i, ctx.platform);
    if (!e) {
      const auto& item = list[i];
      std::string id;
      if (item.is_object() && item.contains("event_id") && item["event_id"].is_string()) {
        id = item["event_id"].get<std::string>();
      }
      rejected->push_back(Rejection(i, id, e.error()));
      continue;
    }
    if (!ids.insert(e->event_id).second) {
      rejected->push_back(
          Rejection(i, e->event_id,
                    Error::InvalidArgument("event_id appears more than once in this batch",
                                           fmt::format("events[{}].event_id", i)),
                    "duplicate_in_batch"));
      continue;
    }
    good_index.push_back(i);
    good.push_back(std::move(*e));
  }
  auto answer = [rejected](std::int64_t accepted, std::int64_t duplicates) {
    nlohmann::ordered_json body{
        {"accepted", accepted}, {"duplicates", duplicates}, {"rejected", std::move(*rejected)}};
    return JsonResponse(body, 202);
  };
  ctx.metrics.CountEvents("rejected", rejected->size());
  if (good.empty()) return respond(answer(0, 0));
  std::vector<std::string> event_ids;
  for (const auto& e : good) event_ids.push_back(e.event_id);
  const std::size_t n_good = good.size();
  ServerMetrics& metrics = ctx.metrics;  // outlives the store's completions
  auto submitted = ctx.platform.LogEvents(
      std::move(good), [rejected, respond, answer, good_index, event_ids,
                        &metrics](Result<std::vector<EventOutcome>> committed) {
        if (!committed) {
          metrics.CountEvents("unavailable", good_index.size());
          return respond(UnavailableResponse(committed.error()));
        }
        std::int64_t accepted = 0, duplicates = 0;
        for (std::size_t k = 0; k < committed->size(); ++k) {
          switch ((*committed)[k]) {
            case EventOutcome::kAccepted: ++accepted; break;
            case EventOutcome::kDuplicate: ++duplicates; break;
            case EventOutcome::kConflict:
              rejected->push_back(Rejection(
                  good_index[k], event_ids[k],
                  Error{ErrorCode::kConflict,
                        "this event_id was already used for an event with another payload",
                        fmt::format("events[{}].event_id", good_index[k])},
                  "conflict"));
              break;
            case EventOutcome::kExpired:
              rejected->push_back(Rejection(
                  good_index[k], event_ids[k],
                  Error::InvalidArgument("the event is older than the retention period "
                                         "(storage.retention_days); it is not stored",
                                         fmt::format("events[{}].timestamp", good_index[k])),
                  "expired"));
              break;
          }
        }
        metrics.CountEvents("accepted", static_cast<std::uint64_t>(accepted));
        metrics.CountEvents("duplicate", static_cast<std::uint64_t>(duplicates));
        metrics.CountEvents("rejected",
                            committed->size() - static_cast<std::size_t>(accepted + duplicates));
        respond(answer(accepted, duplicates));
      });
  if (!submitted) {
    ctx.metrics.CountEvents("unavailable", n_good);
    respond(UnavailableResponse(submitted.error()));
  }
}

}  // namespace abrec
