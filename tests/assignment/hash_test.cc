#include "assignment/hash.h"

#include <cmath>

#include <doctest/doctest.h>

#include "growthbook_cases.h"

namespace abrec {

TEST_CASE("every hash case of GrowthBook's cross-SDK test file") {
  const auto& cases = testing::GrowthBookCases().at("hash");
  REQUIRE(cases.size() == 15);
  for (const auto& c : cases) {
    const std::string seed = c[0], value = c[1];
    const int version = c[2];
    CAPTURE(seed);
    CAPTURE(value);
    CAPTURE(version);
    const auto h = Hash(seed, value, version);
    if (c[3].is_null()) {
      REQUIRE_FALSE(h.has_value());  // unknown version: GrowthBook returns null
      CHECK(h.error().field == "version");
    } else {
      REQUIRE(h.has_value());
      CHECK(*h == doctest::Approx(c[3].get<double>()).epsilon(1e-12));
    }
  }
}

TEST_CASE("non-ASCII ids hash by code point") {
  // Reference: GrowthBook's Python SDK algorithm (h ^= ord(c) per code point), run with
  // Debian's python3; for the first three (Basic Multilingual Plane) the JS SDK's
  // charCodeAt gives the same numbers.
  CHECK(*Hash("seed", "Jos\xC3\xA9", 2) == doctest::Approx(0.1358));
  CHECK(*Hash("seed", "Jos\xC3\xA9", 1) == doctest::Approx(0.379));
  CHECK(*Hash("recsys_v2_hybrid",
              "\xE3\x83\xA6\xE3\x83\xBC\xE3\x82\xB6\xE3\x83\xBC"
              "42",
              2) == doctest::Approx(0.5911));
  CHECK(*Hash("seed",
              "\xC3\x86r\xC3\xB8sk\xC3\xB8"
              "bing",
              2) == doctest::Approx(0.7128));
  // Astral plane: code points (Python SDK, 0.7218), not UTF-16 halves (JS SDK, 0.4915).
  CHECK(*Hash("seed", "\xF0\x9F\x98\x80user", 2) == doctest::Approx(0.7218));
}

TEST_CASE("an id that is not valid UTF-8 is rejected with a clear error") {
  const auto h = Hash("seed", "user\xFF", 2);
  REQUIRE_FALSE(h.has_value());
  CHECK(h.error().code == ErrorCode::kInvalidArgument);
  CHECK(h.error().field == "user_id");
  CHECK(h.error().message.find("not valid UTF-8") != std::string::npos);
  CHECK(h.error().message.find("byte offset 4") != std::string::npos);
  CHECK_FALSE(Hash("seed\xC0", "user", 2).has_value());
}

TEST_CASE("version 2 values have four decimals, version 1 three") {
  for (int i = 0; i < 1000; ++i) {
    const std::string id = "u" + std::to_string(i);
    const double v2 = HashV2Unchecked("s", id);
    const double v1 = HashV1Unchecked("s", id);
    CHECK(std::fabs(v2 * 10000 - std::round(v2 * 10000)) < 1e-6);
    CHECK(std::fabs(v1 * 1000 - std::round(v1 * 1000)) < 1e-6);
    CHECK(v2 >= 0.0);
    CHECK(v2 < 1.0);
  }
}

}  // namespace abrec
