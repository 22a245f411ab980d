#include "base/int128.h"

#include <cstdint>
#include <limits>

#include <doctest/doctest.h>

namespace abrec {

TEST_CASE("128-bit integers round-trip through decimal text") {
  // 2^127 - 1 and -2^127, from Python: str(2**127 - 1), str(-2**127).
  const Int128 max = (Int128{1} << 126) - 1 + (Int128{1} << 126);
  const Int128 min = -max - 1;
  CHECK(Int128ToString(max) == "170141183460469231731687303715884105727");
  CHECK(Int128ToString(min) == "-170141183460469231731687303715884105728");
  CHECK(Int128ToString(0) == "0");
  CHECK(Int128ToString(-42) == "-42");
  CHECK(ParseInt128("170141183460469231731687303715884105727") == max);
  CHECK(ParseInt128("-170141183460469231731687303715884105728") == min);
  CHECK(ParseInt128("-0") == Int128{0});
  // One past either end, and malformed text.
  CHECK_FALSE(ParseInt128("170141183460469231731687303715884105728").has_value());
  CHECK_FALSE(ParseInt128("-170141183460469231731687303715884105729").has_value());
  for (const char* bad : {"", "-", "+1", "1.0", "1e3", " 1", "12a", "0x10"}) {
    CHECK_FALSE(ParseInt128(bad).has_value());
  }
  // A sum of squared premiums past 2^63: 4e9 cents squared is 1.6e19.
  const Int128 square = Int128{4'000'000'000} * 4'000'000'000;
  CHECK(Int128ToString(square) == "16000000000000000000");
  CHECK_FALSE(FitsInt64(square));
  CHECK(FitsInt64(std::numeric_limits<std::int64_t>::max()));
  CHECK(FitsInt64(std::numeric_limits<std::int64_t>::min()));
  CHECK_FALSE(FitsInt64(Int128{std::numeric_limits<std::int64_t>::max()} + 1));
}

}  // namespace abrec
