// The error vocabulary shared by every module. Errors cross module boundaries as values
// (std::expected<T, Error>), never as exceptions.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include "base/diagnostic.h"

namespace abrec {

// What kind of failure happened; the server maps each code to one HTTP status in one place
// (server/http/error_response.h HttpStatusFor).
enum class ErrorCode {
  kInvalidArgument,       // the caller's input is malformed or out of range
  kNotFound,              // a named thing (experiment, user, file, endpoint) does not exist
  kConflict,              // the input contradicts state already accepted
  kFailedPrecondition,    // the system is not in a state that allows the request
  kResourceExhausted,     // a size or rate limit was exceeded
  kUnavailable,           // transient: retry later
  kIo,                    // a file or socket operation failed
  kInternal,              // a bug
  kUnauthenticated,       // no valid credential
  kPermissionDenied,      // a credential without the scope the request needs
  kUnsupportedMediaType,  // a body of a content type the endpoint does not read
  kGateRefused,           // a phase gate refused the change (platform/phase_gate.h)
};

// Short stable name of a code ("invalid_argument"), used in JSON error bodies.
std::string_view ErrorCodeName(ErrorCode code);

// An error a user can act on: what is wrong (message) and, where one applies, which input
// field is wrong (field, e.g. "user_id" or "traffic.split.control"); for a file or a body
// that failed validation, every problem with its file, line and column (diagnostics: the
// first one is usually the message).
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string field;
  Diagnostics diagnostics{};

  static Error InvalidArgument(std::string message, std::string field = {}) {
    return {ErrorCode::kInvalidArgument, std::move(message), std::move(field)};
  }
  static Error NotFound(std::string message, std::string field = {}) {
    return {ErrorCode::kNotFound, std::move(message), std::move(field)};
  }
};

template <typename T>
using Result = std::expected<T, Error>;

}  // namespace abrec
