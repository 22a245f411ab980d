// Which Transfer-Encodings a request may carry (RFC 9112 section 6.1 and 6.3): chunked, as
// the final and only coding. Anything else leaves the body's length unknown, so accepting
// it would let the bytes after it be read as another request (smuggling).
#pragma once

#include <string_view>

namespace abrec {

enum class TransferEncodingVerdict {
  kChunked,      // exactly "chunked" (any case, list whitespace and empty elements allowed)
  kBadFraming,   // final coding not chunked, chunked twice or with parameters, malformed,
                 // or empty: 400 and close
  kUnsupported,  // well framed ("gzip, chunked"), but abrec decodes no other coding: 501
};

// `value`: every Transfer-Encoding field line of the request joined with ", ". Pure.
TransferEncodingVerdict ClassifyTransferEncoding(std::string_view value);

}  // namespace abrec
