// UTF-8 validation and decoding to Unicode code points (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace abrec {

// Returns the byte offset of the first invalid sequence, or std::nullopt when `text` is
// valid UTF-8. Thread-safe; allocates nothing.
std::optional<std::size_t> FindInvalidUtf8(std::string_view text);

// True when every byte is below 0x80.
bool IsAscii(std::string_view text);

// Calls fn(code_point) for every code point of `text`, which must be valid UTF-8
// (checked by FindInvalidUtf8 first; invalid input is a bug).
template <typename Fn>
void ForEachCodePoint(std::string_view text, Fn&& fn) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    std::uint32_t c = *p;
    if (c < 0x80) {
      ++p;
    } else if (c < 0xE0) {
      c = ((c & 0x1Fu) << 6) | (p[1] & 0x3Fu);
      p += 2;
    } else if (c < 0xF0) {
      c = ((c & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
      p += 3;
    } else {
      c = ((c & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
      p += 4;
    }
    fn(c);
  }
}

}  // namespace abrec
