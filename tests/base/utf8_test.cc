#include "base/utf8.h"

#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace abrec {

TEST_CASE("valid UTF-8 is accepted and decoded to code points") {
  const std::string text = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";  // a é € 😀
  CHECK_FALSE(FindInvalidUtf8(text).has_value());
  std::vector<std::uint32_t> cps;
  ForEachCodePoint(text, [&](std::uint32_t c) { cps.push_back(c); });
  CHECK(cps == std::vector<std::uint32_t>{0x61, 0xE9, 0x20AC, 0x1F600});
  CHECK(IsAscii("plain-ascii-user-42"));
  CHECK_FALSE(IsAscii(text));
}

TEST_CASE("invalid UTF-8 is found at the offending byte") {
  CHECK(FindInvalidUtf8("ab\xFF") == 2u);                          // never valid
  CHECK(FindInvalidUtf8("\xC0\xAF") == 0u);                        // overlong '/'
  CHECK(FindInvalidUtf8("\xE0\x80\xAF") == 0u);                    // overlong, three bytes
  CHECK(FindInvalidUtf8("x\xED\xA0\x80") == 1u);                   // UTF-16 surrogate D800
  CHECK(FindInvalidUtf8("\xF4\x90\x80\x80") == 0u);                // above U+10FFFF
  CHECK(FindInvalidUtf8("\xE2\x82") == 0u);                        // truncated
  CHECK(FindInvalidUtf8("\xC3\x28") == 0u);                        // bad continuation
  CHECK(FindInvalidUtf8(std::string("a\0b", 3)) == std::nullopt);  // NUL is a code point
}

}  // namespace abrec
