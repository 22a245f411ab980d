// Which Transfer-Encodings a request may carry (RFC 9112 section 6.1 and 6.3): chunked, as
// the final and only coding. Anything else leaves the body's length unknown, so accepting
// it would let the bytes after it be read as another request (smuggling).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/fields.hpp>

namespace abrec {

enum class TransferEncodingVerdict {
  kChunked,      // exactly "chunked" (any case, list whitespace and empty elements allowed)
  kBadFraming,   // final coding not chunked, chunked twice or with parameters, malformed,
                 // or empty: 400 and close
  kUnsupported,  // well framed ("gzip, chunked"), but abrec decodes no other coding: 501
};

// `value`: every Transfer-Encoding field line of the request joined with ", ". Pure.
TransferEncodingVerdict ClassifyTransferEncoding(std::string_view value);

// Why a request's body cannot be read as framed, for the answer (field "transfer-encoding")
// after which the connection closes.
struct FramingError {
  int status = 400;          // 400, or 501 for a coding abrec does not decode
  std::string error;         // "bad_request", "not_implemented"
  std::string message;
};

// The framing check of a request's header (RFC 9112 sections 6.1 and 6.3), the one the
// server and the fuzz target apply: both Content-Length and Transfer-Encoding, a
// Transfer-Encoding on HTTP/1.0 (`version` 10), and any verdict but kChunked are refused.
// nullopt: the body can be read. Pure.
std::optional<FramingError> CheckFraming(const boost::beast::http::fields& header,
                                         unsigned version);

}  // namespace abrec
