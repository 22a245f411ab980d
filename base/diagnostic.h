// Validation messages for config and experiment files: "FILE:LINE:COL: field: message". An
// Error (base/error.h) carries them as data, so a refusal lists every problem with its place.
#pragma once

#include <expected>
#include <string>
#include <vector>

namespace abrec {

struct Diagnostic {
  std::string file;
  int line = 0;  // 1-based; 0 when the message concerns the whole file
  int column = 0;
  std::string field;  // dotted path, e.g. "traffic.split.control"; empty for syntax errors
  std::string message;

  // "FILE:LINE:COL: field: message" (the field part is left out when empty).
  std::string ToString() const;
};

using Diagnostics = std::vector<Diagnostic>;

// A value, or every reason it could not be produced.
template <typename T>
using ParseResult = std::expected<T, Diagnostics>;

}  // namespace abrec
