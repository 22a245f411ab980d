// The one place where errors become HTTP statuses and JSON bodies:
// {"error": {"code", "message", "field"}[, "diagnostics": [...]]}.
#pragma once

#include <string_view>

#include "base/error.h"
#include "server/http/message.h"

namespace abrec {

int HttpStatusFor(ErrorCode code);

// The response for an error: its status from HttpStatusFor, its diagnostics (if any) listed.
// Routes answer every error this way.
HttpResponse ErrorResponse(const Error& error);

// A transport-level error (bad framing, header and body limits, an unsupported transfer
// coding) whose status the HTTP layer decides; routes never use it.
HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message,
                           std::string_view field = {});

// 503 with Retry-After for a transient failure (full write queue, storage unavailable).
HttpResponse UnavailableResponse(const Error& error);

}  // namespace abrec
