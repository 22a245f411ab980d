// Reading JSON request bodies with limits: content type, nesting depth (checked before
// parsing, so a 10,000-deep body costs a scan, not a recursion), valid UTF-8 and syntax.
#pragma once

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "server/http/message.h"

namespace abrec {

// Errors: kInvalidArgument with field "body" (syntax, depth) or "content-type".
Result<nlohmann::json> ParseJsonBody(const HttpRequest& request, int max_depth);

// Serialises a response body; invalid UTF-8 in strings is replaced, never thrown.
std::string DumpJson(const nlohmann::ordered_json& value);

HttpResponse JsonResponse(const nlohmann::ordered_json& value, int status = 200);

}  // namespace abrec
