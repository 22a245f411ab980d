#include "base/clock.h"

#include <doctest/doctest.h>

namespace abrec {

TEST_CASE("RFC 3339 formatting in UTC with microseconds") {
  CHECK(FormatRfc3339(0) == "1970-01-01T00:00:00.000000Z");
  // 2026-11-29T01:28:00Z = 1795915680 s (date -u -d 2026-11-29T01:28:00Z +%s)
  CHECK(FormatRfc3339(1795915680LL * 1'000'000 + 42) == "2026-11-29T01:28:00.000042Z");
  CHECK(FormatRfc3339(-1) == "1969-12-31T23:59:59.999999Z");
}

TEST_CASE("the manual clock moves only when told") {
  ManualClock c(100);
  CHECK(c.NowMicros() == 100);
  c.Advance(50);
  CHECK(c.NowMicros() == 150);
}

}  // namespace abrec
