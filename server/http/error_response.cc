#include "server/http/error_response.h"

#include <nlohmann/json.hpp>

namespace abrec {

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
  }
  return 500;
}

HttpResponse ErrorResponse(const Error& error) {
  return ErrorResponse(HttpStatusFor(error.code), ErrorCodeName(error.code), error.message,
                       error.field);
}

HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message,
                           std::string_view field) {
  nlohmann::ordered_json body;
  body["error"] = {{"code", code}, {"message", message}, {"field", field}};
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

HttpResponse UnavailableResponse(const Error& error) {
  HttpResponse r =
      ErrorResponse(503, ErrorCodeName(ErrorCode::kUnavailable), error.message, error.field);
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

}  // namespace abrec
