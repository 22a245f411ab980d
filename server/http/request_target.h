// The request target of an HTTP/1.1 request line split into the router's path and query.
#pragma once

#include <string_view>
#include <utility>

namespace abrec {

// Splits `target` (origin form "/path?query", or absolute form "http://host/path?query",
// RFC 9112 section 3.2.2) into the percent-encoded path and the query after '?' (empty when
// there is none). An absolute form without a path gives "/". The views point into `target`.
inline std::pair<std::string_view, std::string_view> SplitRequestTarget(std::string_view target) {
  if (const auto scheme = target.find("://");
      scheme != std::string_view::npos &&
      (target.starts_with("http://") || target.starts_with("https://"))) {
    const auto slash = target.find('/', scheme + 3);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  const std::size_t q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

}  // namespace abrec
