#include "base/int128.h"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace abrec {
namespace {

__extension__ typedef unsigned __int128 UInt128;

constexpr UInt128 kMaxMagnitude = static_cast<UInt128>(~UInt128{0} >> 1);  // 2^127 - 1

}  // namespace

std::string Int128ToString(Int128 value) {
  // The magnitude as unsigned, so that the most negative value does not overflow.
  UInt128 magnitude =
      value < 0 ? UInt128{0} - static_cast<UInt128>(value) : static_cast<UInt128>(value);
  std::string out;
  do {
    out.push_back(static_cast<char>('0' + static_cast<int>(magnitude % 10)));
    magnitude /= 10;
  } while (magnitude != 0);
  if (value < 0) out.push_back('-');
  std::reverse(out.begin(), out.end());
  return out;
}

std::optional<Int128> ParseInt128(std::string_view text) {
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  if (text.empty() || text.size() > 39) return std::nullopt;
  const UInt128 limit = kMaxMagnitude + (negative ? 1 : 0);  // -2^127 is representable
  UInt128 magnitude = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<unsigned>(c - '0');
    if (magnitude > (limit - digit) / 10) return std::nullopt;
    magnitude = magnitude * 10 + digit;
  }
  return negative ? static_cast<Int128>(UInt128{0} - magnitude) : static_cast<Int128>(magnitude);
}

bool FitsInt64(Int128 value) {
  return value >= std::numeric_limits<std::int64_t>::min() &&
         value <= std::numeric_limits<std::int64_t>::max();
}

}  // namespace abrec
