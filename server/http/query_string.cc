#include "server/http/query_string.h"

#include <algorithm>

#include <fmt/format.h>

#include "configtree/schema_reader.h"

namespace abrec {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::string> PercentDecode(std::string_view text, bool plus_is_space,
                                  std::string_view field) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      const int hi = i + 1 < text.size() ? HexValue(text[i + 1]) : -1;
      const int lo = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return std::unexpected(Error::InvalidArgument(
            fmt::format("malformed percent-escape at character {} of {}: '%' must be followed by "
                        "two hex digits",
                        i, field.empty() ? "the query" : std::string(field)),
            std::string(field)));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<std::map<std::string, std::string, std::less<>>> ParseQuery(
    std::string_view query, std::span<const std::string_view> allowed) {
  std::map<std::string, std::string, std::less<>> out;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    auto name = PercentDecode(pair.substr(0, eq), true, "");
    if (!name) return std::unexpected(name.error());
    auto value = PercentDecode(
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true, *name);
    if (!value) return std::unexpected(value.error());
    if (std::find(allowed.begin(), allowed.end(), *name) == allowed.end()) {
      std::string msg =
          fmt::format("unknown query parameter \"{}\"; allowed: {}", *name, JoinNames(allowed));
      if (const auto s = SuggestName(*name, allowed))
        msg += fmt::format(" (did you mean \"{}\"?)", *s);
      return std::unexpected(Error::InvalidArgument(std::move(msg), *name));
    }
    if (out.contains(*name)) {
      return std::unexpected(Error::InvalidArgument(
          fmt::format("query parameter \"{}\" is given more than once", *name), *name));
    }
    out.emplace(std::move(*name), std::move(*value));
  }
  return out;
}

}  // namespace abrec
