#include "server/http/transfer_encoding.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

namespace abrec {

namespace {

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// tchar of RFC 9110 section 5.6.2.
bool IsToken(std::string_view s) {
  constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           kSpecials.find(c) != std::string_view::npos;
  });
}

bool IsChunked(std::string_view coding) {
  constexpr std::string_view kChunked = "chunked";
  return std::equal(coding.begin(), coding.end(), kChunked.begin(), kChunked.end(),
                    [](char a, char b) { return (a | 0x20) == b; });
}

}  // namespace

TransferEncodingVerdict ClassifyTransferEncoding(std::string_view value) {
  // transfer-coding = token *( OWS ";" OWS transfer-parameter ); chunked takes no parameter.
  std::vector<std::string_view> codings;
  while (true) {
    const std::size_t comma = value.find(',');
    const std::string_view element = TrimOws(value.substr(0, comma));
    if (!element.empty()) codings.push_back(element);  // empty list elements do not count
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  if (codings.empty() || !IsChunked(codings.back())) return TransferEncodingVerdict::kBadFraming;
  for (std::size_t i = 0; i + 1 < codings.size(); ++i) {
    const std::string_view name = TrimOws(codings[i].substr(0, codings[i].find(';')));
    // Chunked applied twice is forbidden (section 7.1), not merely unsupported.
    if (!IsToken(name) || IsChunked(name)) return TransferEncodingVerdict::kBadFraming;
  }
  return codings.size() == 1 ? TransferEncodingVerdict::kChunked
                             : TransferEncodingVerdict::kUnsupported;
}

std::optional<FramingError> CheckFraming(const boost::beast::http::fields& header,
                                         unsigned version) {
  namespace http = boost::beast::http;
  if (header.count(http::field::transfer_encoding) == 0) return std::nullopt;
  if (header.count(http::field::content_length) > 0) {
    return FramingError{400, "bad_request",
                        "a request may not carry both Content-Length and Transfer-Encoding"};
  }
  if (version < 11) {
    return FramingError{400, "bad_request",
                        "an HTTP/1.0 request may not carry Transfer-Encoding"};
  }
  std::string value;
  for (auto [it, end] = header.equal_range(http::field::transfer_encoding); it != end; ++it) {
    if (!value.empty()) value += ", ";
    value.append(it->value().data(), it->value().size());
  }
  switch (ClassifyTransferEncoding(value)) {
    case TransferEncodingVerdict::kChunked: return std::nullopt;
    case TransferEncodingVerdict::kBadFraming:
      return FramingError{400, "bad_request",
                          fmt::format("Transfer-Encoding \"{}\": the final coding must be "
                                      "chunked, once and without parameters",
                                      value)};
    case TransferEncodingVerdict::kUnsupported:
      return FramingError{
          501, "not_implemented",
          fmt::format("Transfer-Encoding \"{}\": only chunked is supported", value)};
  }
  return FramingError{400, "bad_request", "unreadable Transfer-Encoding"};
}

}  // namespace abrec
