// What a caller may do. Three scopes, as the field separates them (GrowthBook's SDK and
// secret keys, Segment's write keys): `serve` for the serving path (assign, recommend,
// events, covariates), `read` for what analysts read (reports, dashboards, alerts,
// experiment definitions, metrics), `admin` for changes (experiment PUT, phase, audit,
// erasure, model reload). No scope implies another: a key holds the set it was created with.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"

namespace abrec {

enum class Scope : std::uint8_t { kServe = 1, kRead = 2, kAdmin = 4 };

class ScopeSet {
 public:
  constexpr ScopeSet() = default;
  constexpr ScopeSet(Scope s) : bits_(static_cast<std::uint8_t>(s)) {}  // NOLINT: implicit

  constexpr bool Has(Scope s) const { return (bits_ & static_cast<std::uint8_t>(s)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr ScopeSet& operator|=(ScopeSet o) {
    bits_ |= o.bits_;
    return *this;
  }
  constexpr bool operator==(const ScopeSet&) const = default;

 private:
  std::uint8_t bits_ = 0;
};

std::string_view ScopeName(Scope s);

// "serve,read" -> {serve, read}. Errors: kInvalidArgument naming the unknown scope, or an
// empty list; `field` is the error's field.
Result<ScopeSet> ParseScopes(std::string_view text, std::string_view field);

// "serve,read" in the fixed order serve, read, admin.
std::string ScopeList(ScopeSet s);

}  // namespace abrec
