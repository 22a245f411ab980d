// Fuzzes the query-string parser (server/http/query_string.h) with oracles: decoding never
// grows the text; a text percent-encoded here decodes back to itself; a parsed query holds
// only allowed names, none with a value longer than the query.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/http/query_string.h"

namespace {

constexpr std::string_view kAllowed[] = {"user_id", "experiment", "log", "surface", "k"};

std::string Encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '-' ||
        b == '_' || b == '.') {
      out += c;
    } else {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace abrec;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const bool plus : {false, true}) {
    auto decoded = PercentDecode(text, plus, "q");
    if (decoded && decoded->size() > text.size()) std::abort();
    auto round = PercentDecode(Encode(text), plus, "q");
    if (!round || *round != text) std::abort();
  }
  auto query = ParseQuery(text, kAllowed);
  if (!query) {
    if (query.error().message.empty()) std::abort();
    return 0;
  }
  for (const auto& [name, value] : *query) {
    bool allowed = false;
    for (const auto a : kAllowed) allowed = allowed || a == name;
    if (!allowed || value.size() > text.size()) std::abort();
  }
  return 0;
}
