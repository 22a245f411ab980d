// The one place where errors become HTTP statuses and JSON bodies:
// {"error": {"code", "message", "field"}}.
#pragma once

#include <string_view>

#include "base/error.h"
#include "server/http/message.h"

namespace abrec {

int HttpStatusFor(ErrorCode code);

// The response for an error crossing from the platform.
HttpResponse ErrorResponse(const Error& error);

// A transport-level error (bad framing, limits, unknown route) with its own status and code.
HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message,
                           std::string_view field = {});

// 503 with Retry-After for a transient failure (full write queue, storage unavailable).
HttpResponse UnavailableResponse(const Error& error);

}  // namespace abrec
