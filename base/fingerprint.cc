#include "base/fingerprint.h"

#include <cstdint>

#include <fmt/format.h>

namespace abrec {

std::string Fingerprint(std::string_view bytes) {
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a 64 offset basis
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;  // FNV-1a 64 prime
  }
  return fmt::format("{:016x}", h);
}

}  // namespace abrec
