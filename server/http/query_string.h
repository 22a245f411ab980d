// application/x-www-form-urlencoded query strings (WHATWG URL standard): '&'-separated
// name=value pairs, '+' for space, %XX escapes. Malformed escapes and repeated names are
// errors naming the parameter.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>

#include "base/error.h"

namespace abrec {

// Decodes %XX escapes (and '+' when `plus_is_space`). Fails on a truncated or non-hex escape.
Result<std::string> PercentDecode(std::string_view text, bool plus_is_space,
                                  std::string_view field);

// Parses a query into name -> value. Names outside `allowed` are errors (with a suggestion).
Result<std::map<std::string, std::string, std::less<>>> ParseQuery(
    std::string_view query, std::span<const std::string_view> allowed);

}  // namespace abrec
