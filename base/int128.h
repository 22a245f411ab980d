// Exact 128-bit integers for sums that can pass 2^63: a bucket's sum of squared premiums in
// cents reaches 9.2e18 with a million users holding $30,000 each. GCC's __int128, with the
// decimal conversions that storage needs (SQLite integers are 64-bit).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace abrec {

__extension__ typedef __int128 Int128;

// Decimal digits with a leading '-' when negative.
std::string Int128ToString(Int128 value);
// The inverse; nullopt for anything but an optional '-' and 1 to 39 digits within range.
std::optional<Int128> ParseInt128(std::string_view text);
// Whether `value` fits in a signed 64-bit integer.
bool FitsInt64(Int128 value);

}  // namespace abrec
