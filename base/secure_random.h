// Randomness for secrets and for identifiers that must reveal nothing (API keys, session ids,
// the admin token, request ids): the kernel's CSPRNG through getrandom(2), never a seeded
// generator. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace abrec {

// Fills `out` from getrandom(2) (blocking only until the kernel's pool is first seeded at
// boot). getrandom cannot fail on a supported kernel once given a valid buffer; if it does
// (ENOSYS), the process aborts with a message rather than hand out a predictable secret.
void SecureRandomBytes(std::span<std::uint8_t> out);

// `bytes` random bytes as 2·bytes lower-case hex digits.
std::string SecureRandomHex(std::size_t bytes);

}  // namespace abrec
