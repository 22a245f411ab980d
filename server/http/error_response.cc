#include "server/http/error_response.h"

#include <nlohmann/json.hpp>

#include "platform/json_text.h"
#include "platform/views.h"

namespace abrec {
namespace {

HttpResponse ErrorBody(int status, std::string_view code, std::string_view message,
                       std::string_view field, const Diagnostics& diagnostics) {
  nlohmann::ordered_json body;
  body["error"] = {{"code", code}, {"message", message}, {"field", field}};
  if (!diagnostics.empty()) body["diagnostics"] = DiagnosticsView(diagnostics);
  HttpResponse r;
  r.status = status;
  r.body = DumpJson(body);
  return r;
}

}  // namespace

int HttpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kFailedPrecondition: return 409;
    case ErrorCode::kResourceExhausted: return 413;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kIo: return 500;
    case ErrorCode::kInternal: return 500;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kPermissionDenied: return 403;
    case ErrorCode::kUnsupportedMediaType: return 415;
    case ErrorCode::kGateRefused: return 422;
  }
  return 500;
}

HttpResponse ErrorResponse(const Error& error) {
  return ErrorBody(HttpStatusFor(error.code), ErrorCodeName(error.code), error.message, error.field,
                   error.diagnostics);
}

HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message,
                           std::string_view field) {
  return ErrorBody(status, code, message, field, {});
}

HttpResponse UnavailableResponse(const Error& error) {
  HttpResponse r =
      ErrorBody(503, ErrorCodeName(ErrorCode::kUnavailable), error.message, error.field, {});
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

}  // namespace abrec
