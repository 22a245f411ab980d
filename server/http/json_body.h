// Reading JSON request bodies with limits: content type, nesting depth (checked before
// parsing, so a 10,000-deep body costs a scan, not a recursion), valid UTF-8 and syntax.
#pragma once

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "server/http/message.h"
#include "platform/json_text.h"  // DumpJson

namespace abrec {

// Errors: kInvalidArgument with field "body" (syntax, depth) or "content-type".
Result<nlohmann::json> ParseJsonBody(const HttpRequest& request, int max_depth);

// The list of a batch body {"KEY": [ ... ]}: an object with that one key, holding an array
// of at most `max` entries. Errors name KEY (or the unknown field); too many entries is
// kResourceExhausted (HTTP 413).
Result<const nlohmann::json*> BatchList(const nlohmann::json& body, std::string_view key,
                                        std::size_t max);

HttpResponse JsonResponse(const nlohmann::ordered_json& value, int status = 200);

}  // namespace abrec
