// GrowthBook's deterministic hash (FNV-1a 32 bit), exactly as its SDKs compute it, so that
// GrowthBook's SDKs reproduce our numbers for ASCII ids (and the JS and Python SDKs for the
// Basic Multilingual Plane). Strings are hashed as sequences of Unicode code points, each
// code point XOR-ed in whole, as the Python SDK does (`ord(c)`) and the JS SDK does for
// every character outside the astral planes (`charCodeAt`).
#pragma once

#include <cstdint>
#include <string_view>

#include "base/error.h"

namespace abrec {

inline constexpr std::uint32_t kFnvOffsetBasis = 2166136261u;
inline constexpr std::uint32_t kFnvPrime = 16777619u;

// FNV-1a 32 with offset basis 2166136261 and prime 16777619, over the code points of the
// concatenation a + b. Both must be valid UTF-8 (a bug otherwise). Pure; thread-safe.
std::uint32_t Fnv1a32(std::string_view a, std::string_view b = {});

// Continues an FNV-1a state over the code points of `text` (valid UTF-8). The state after a
// fixed seed can be computed once and continued per user: fnv(seed + id) =
// Fnv1aContinue(Fnv1aContinue(kFnvOffsetBasis, seed), id).
std::uint32_t Fnv1aContinue(std::uint32_t state, std::string_view text);

// The outer half of version 2: (fnv1a32(decimal(inner)) % 10000) / 10000.
double HashV2FromInner(std::uint32_t inner);

// Version 1: (fnv1a32(value + seed) % 1000) / 1000.
double HashV1Unchecked(std::string_view seed, std::string_view value);
// Version 2: (fnv1a32(decimal(fnv1a32(seed + value))) % 10000) / 10000.
double HashV2Unchecked(std::string_view seed, std::string_view value);

// The checked entry point: seed and value must be valid UTF-8 (error naming the field
// "seed" or "user_id" otherwise) and version 1 or 2 (field "version").
Result<double> Hash(std::string_view seed, std::string_view value, int version);

// Checks that an id is usable for hashing: valid UTF-8. The error names `field`.
Result<void> ValidateHashInput(std::string_view text, std::string_view field);

}  // namespace abrec
