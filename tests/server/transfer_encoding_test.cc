#include "server/http/transfer_encoding.h"

#include <doctest/doctest.h>

namespace abrec {

// RFC 9112 section 6.1 and 6.3: chunked must be the final coding, applied once.
TEST_CASE("only chunked, as the final and only coding, frames a request body") {
  using V = TransferEncodingVerdict;
  CHECK(ClassifyTransferEncoding("chunked") == V::kChunked);
  CHECK(ClassifyTransferEncoding("Chunked") == V::kChunked);
  CHECK(ClassifyTransferEncoding(" CHUNKED\t") == V::kChunked);
  CHECK(ClassifyTransferEncoding(", chunked,") == V::kChunked);  // empty elements do not count

  CHECK(ClassifyTransferEncoding("gzip") == V::kBadFraming);
  CHECK(ClassifyTransferEncoding("identity") == V::kBadFraming);
  CHECK(ClassifyTransferEncoding("chunked, identity") == V::kBadFraming);
  CHECK(ClassifyTransferEncoding("chunked, gzip") == V::kBadFraming);
  CHECK(ClassifyTransferEncoding("chunked, chunked") == V::kBadFraming);
  CHECK(ClassifyTransferEncoding("chunked;q=1") == V::kBadFraming);
  CHECK(ClassifyTransferEncoding("chunked x") == V::kBadFraming);
  CHECK(ClassifyTransferEncoding("chunkedx") == V::kBadFraming);
  CHECK(ClassifyTransferEncoding("") == V::kBadFraming);
  CHECK(ClassifyTransferEncoding(" , ") == V::kBadFraming);
  CHECK(ClassifyTransferEncoding("g zip, chunked") == V::kBadFraming);

  // Well framed, but abrec decodes no other coding: 501.
  CHECK(ClassifyTransferEncoding("gzip, chunked") == V::kUnsupported);
  CHECK(ClassifyTransferEncoding("gzip;level=1, chunked") == V::kUnsupported);
  CHECK(ClassifyTransferEncoding("x-custom, deflate, chunked") == V::kUnsupported);
}

}  // namespace abrec
