#include "assignment/hash.h"

#include <charconv>

#include <fmt/format.h>

#include "base/utf8.h"

namespace abrec {
namespace {

inline std::uint32_t Absorb(std::uint32_t h, std::string_view s) {
  if (IsAscii(s)) {
    for (const char ch : s) {
      h ^= static_cast<unsigned char>(ch);
      h *= kFnvPrime;
    }
  } else {
    ForEachCodePoint(s, [&h](std::uint32_t c) {
      h ^= c;
      h *= kFnvPrime;
    });
  }
  return h;
}

}  // namespace

std::uint32_t Fnv1a32(std::string_view a, std::string_view b) {
  return Absorb(Absorb(kFnvOffsetBasis, a), b);
}

std::uint32_t Fnv1aContinue(std::uint32_t state, std::string_view text) {
  return Absorb(state, text);
}

double HashV2FromInner(std::uint32_t inner) {
  char digits[16];
  const auto res = std::to_chars(digits, digits + sizeof digits, inner);
  std::uint32_t h = kFnvOffsetBasis;
  for (const char* p = digits; p < res.ptr; ++p) {
    h ^= static_cast<unsigned char>(*p);
    h *= kFnvPrime;
  }
  return static_cast<double>(h % 10000u) / 10000.0;
}

double HashV1Unchecked(std::string_view seed, std::string_view value) {
  return static_cast<double>(Fnv1a32(value, seed) % 1000u) / 1000.0;
}

double HashV2Unchecked(std::string_view seed, std::string_view value) {
  return HashV2FromInner(Fnv1a32(seed, value));
}

Result<void> ValidateHashInput(std::string_view text, std::string_view field) {
  if (const auto bad = FindInvalidUtf8(text)) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("{} is not valid UTF-8 (invalid byte sequence at byte offset {})", field, *bad),
        std::string(field)));
  }
  return {};
}

Result<double> Hash(std::string_view seed, std::string_view value, int version) {
  if (auto ok = ValidateHashInput(seed, "seed"); !ok) return std::unexpected(ok.error());
  if (auto ok = ValidateHashInput(value, "user_id"); !ok) return std::unexpected(ok.error());
  switch (version) {
    case 1: return HashV1Unchecked(seed, value);
    case 2: return HashV2Unchecked(seed, value);
    default:
      return std::unexpected(Error::InvalidArgument(
          fmt::format("hash version {} is not supported; allowed: 1 or 2", version), "version"));
  }
}

}  // namespace abrec
