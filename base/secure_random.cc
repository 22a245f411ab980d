#include "base/secure_random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace abrec {

void SecureRandomBytes(std::span<std::uint8_t> out) {
  std::size_t filled = 0;
  while (filled < out.size()) {
    const ssize_t n = ::getrandom(out.data() + filled, out.size() - filled, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::fprintf(stderr, "abrec: getrandom failed: %s\n", std::strerror(errno));
      std::abort();
    }
    filled += static_cast<std::size_t>(n);
  }
}

std::string SecureRandomHex(std::size_t bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::vector<std::uint8_t> raw(bytes);
  SecureRandomBytes(raw);
  std::string hex(2 * bytes, '0');
  for (std::size_t i = 0; i < bytes; ++i) {
    hex[2 * i] = kDigits[raw[i] >> 4];
    hex[2 * i + 1] = kDigits[raw[i] & 0xf];
  }
  return hex;
}

}  // namespace abrec
