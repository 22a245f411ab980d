#include "assignment/hash.h"

#include <charconv>

#include <fmt/format.h>

#include "base/utf8.h"

namespace abrec {
namespace {

constexpr std::uint32_t kFnvOffset = 2166136261u;
constexpr std::uint32_t kFnvPrime = 16777619u;

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
  return Absorb(Absorb(kFnvOffset, a), b);
}

double HashV1Unchecked(std::string_view seed, std::string_view value) {
  return static_cast<double>(Fnv1a32(value, seed) % 1000u) / 1000.0;
}

double HashV2Unchecked(std::string_view seed, std::string_view value) {
  char digits[16];
  const auto res = std::to_chars(digits, digits + sizeof digits, Fnv1a32(seed, value));
  const std::string_view inner(digits, static_cast<std::size_t>(res.ptr - digits));
  return static_cast<double>(Fnv1a32(inner) % 10000u) / 10000.0;
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
