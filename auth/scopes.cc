#include "auth/scopes.h"

#include <fmt/format.h>

namespace abrec {
namespace {

constexpr Scope kAll[] = {Scope::kServe, Scope::kRead, Scope::kAdmin};

}  // namespace

std::string_view ScopeName(Scope s) {
  switch (s) {
    case Scope::kServe: return "serve";
    case Scope::kRead: return "read";
    case Scope::kAdmin: return "admin";
  }
  return "?";
}

Result<ScopeSet> ParseScopes(std::string_view text, std::string_view field) {
  ScopeSet set;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    const std::string_view item = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    bool known = false;
    for (const Scope s : kAll) {
      if (item == ScopeName(s)) {
        set |= s;
        known = true;
      }
    }
    if (!known) {
      return std::unexpected(Error::InvalidArgument(
          fmt::format("unknown scope \"{}\": the scopes are serve, read and admin", item),
          std::string(field)));
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return set;
}

std::string ScopeList(ScopeSet s) {
  std::string out;
  for (const Scope x : kAll) {
    if (!s.Has(x)) continue;
    if (!out.empty()) out += ',';
    out += ScopeName(x);
  }
  return out;
}

}  // namespace abrec
