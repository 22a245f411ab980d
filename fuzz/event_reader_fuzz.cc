// Fuzzes the reading of a POST /v1/events body as the events route does it, short of the
// store: ParseJsonBody (depth, UTF-8, syntax), BatchList, then ReadEvent on each entry
// against the fuzzing platform. A valid event must come back with its fields filled.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_platform.h"
#include "server/event_reader.h"
#include "server/http/json_body.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace abrec;
  const auto fixture = fuzz::GetFuzzPlatform();
  const auto& cfg = fixture.platform.config();
  HttpRequest request;
  request.method = "POST";
  request.path = "/v1/events";
  request.content_type = "application/json";
  request.body.assign(reinterpret_cast<const char*>(data), size);
  auto json = ParseJsonBody(request, cfg.limits.max_yaml_depth);
  if (!json) return 0;
  auto batch =
      BatchList(*json, "events", static_cast<std::size_t>(cfg.events.max_events_per_request));
  if (!batch) return 0;
  const auto& list = **batch;
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto event = ReadEvent(list[i], i, fixture.platform);
    if (!event) {
      if (event.error().field.empty()) std::abort();  // every rejection names its field
      continue;
    }
    if (event->event_id.empty() || event->user_id.empty()) std::abort();
  }
  return 0;
}
