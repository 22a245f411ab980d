#include "base/clock.h"

#include <doctest/doctest.h>

namespace abrec {

TEST_CASE("RFC 3339 formatting in UTC with microseconds") {
  CHECK(FormatRfc3339(0) == "1970-01-01T00:00:00.000000Z");
  // 2026-11-29T01:28:00Z = 1795915680 s (date -u -d 2026-11-29T01:28:00Z +%s)
  CHECK(FormatRfc3339(1795915680LL * 1'000'000 + 42) == "2026-11-29T01:28:00.000042Z");
  CHECK(FormatRfc3339(-1) == "1969-12-31T23:59:59.999999Z");
}

TEST_CASE("RFC 3339 parsing: fractions, offsets, and what is refused") {
  CHECK(ParseRfc3339("2026-11-29T01:28:00Z") == 1795915680LL * 1'000'000);
  CHECK(ParseRfc3339("2026-11-29T01:28:00.000042Z") == 1795915680LL * 1'000'000 + 42);
  CHECK(ParseRfc3339("2026-11-29T01:28:00.5Z") == 1795915680LL * 1'000'000 + 500'000);
  CHECK(ParseRfc3339("2026-11-29T03:28:00+02:00") == 1795915680LL * 1'000'000);
  CHECK(ParseRfc3339("1970-01-01T00:00:00Z") == 0);
  CHECK(ParseRfc3339("2024-02-29T00:00:00Z").has_value());
  for (const char* bad : {"2026-11-29", "2026-11-29T01:28:00", "2026-13-01T00:00:00Z",
                          "2025-02-29T00:00:00Z", "2026-11-29T24:00:00Z", "2026-11-29T01:28:00.Z",
                          "2026-11-29T01:28:00Zjunk", "yesterday", ""}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseRfc3339(bad).has_value());
  }
}

TEST_CASE("the manual clock moves only when told") {
  ManualClock c(100);
  CHECK(c.NowMicros() == 100);
  c.Advance(50);
  CHECK(c.NowMicros() == 150);
}

}  // namespace abrec
