// The text of a JSON response body, written one way by the HTTP layer and by the report
// service that keeps reports as the bytes it will send.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace abrec {

// Compact; invalid UTF-8 in strings is replaced, never thrown.
std::string DumpJson(const nlohmann::ordered_json& value);

}  // namespace abrec
