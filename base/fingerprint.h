// Content fingerprints: FNV-1a 64 as 16 hex digits. For change detection and idempotency
// keys, not for security.
#pragma once

#include <string>
#include <string_view>

namespace abrec {

std::string Fingerprint(std::string_view bytes);

}  // namespace abrec
