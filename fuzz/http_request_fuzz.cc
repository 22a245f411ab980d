// Fuzzes the HTTP request path up to the router, without sockets: the bytes go through
// Beast's request parser with the limits the server sets (header and body limits from
// LimitsConfig), fed in pieces as a socket would deliver them, then the CL+TE refusal of
// server/http/http_server.cc (mirrored: it lives in its Session) and SplitRequestTarget (which
// that file still does inline), then Router::Route on the fuzzing platform. Every answer must
// be a status from 100 to 599, and no 5xx but 503.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>

#include "platform/platform_config.h"
#include "fuzz/fuzz_platform.h"
#include "server/http/request_target.h"
#include "server/http/transfer_encoding.h"

namespace {

namespace http = boost::beast::http;

// The Session's socket reads are 64 KiB at most; smaller pieces exercise Beast's
// need_more paths, where a real client splits a request across packets.
constexpr std::size_t kPiece = 4096;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace abrec;
  const auto fixture = fuzz::GetFuzzPlatform();
  const LimitsConfig& limits = fixture.platform.config().limits;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  // Several pipelined requests may share one input, as on a keep-alive connection.
  for (int request_index = 0; request_index < 4 && !input.empty(); ++request_index) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(limits.max_body_bytes);
    parser.eager(true);
    boost::beast::error_code ec;
    std::size_t used = 0;
    std::size_t available = std::min(input.size(), kPiece);
    while (!parser.is_done()) {
      const std::size_t n =
          parser.put(boost::asio::buffer(input.data() + used, available - used), ec);
      used += n;
      if (ec && ec != http::error::need_more) break;
      if (ec || n == 0 || used == available) {
        if (available == input.size()) {
          parser.put_eof(ec);  // the client closed the connection mid-request
          break;
        }
        available = std::min(input.size(), available + kPiece);
        ec = {};
      }
    }
    if (ec || !parser.is_done()) return 0;  // the server answers 400/413/431 and closes
    input.remove_prefix(used);

    const auto& req = parser.get();
    if (CheckFraming(req, req.version())) return 0;  // 400 or 501, and close
    HttpRequest r;
    r.method = std::string(req.method_string());
    const auto [path, query] =
        SplitRequestTarget(std::string_view(req.target().data(), req.target().size()));
    r.path = std::string(path);
    r.query = std::string(query);
    r.content_type = std::string(req[http::field::content_type]);
    r.authorization = std::string(req[http::field::authorization]);
    r.body = std::move(parser.get().body());
    const HttpResponse response = fixture.router.Route(r);
    // ABREC_FUZZ_VERBOSE=1 shows what reached the router (for checking a corpus by hand).
    static const bool verbose = std::getenv("ABREC_FUZZ_VERBOSE") != nullptr;
    if (verbose)
      std::fprintf(stderr, "%s %s -> %d\n", r.method.c_str(), r.path.c_str(), response.status);
    if (response.status < 100 || response.status > 599) std::abort();
    if (response.status >= 500 && response.status != 503) std::abort();  // no 5xx but overload
    if (!req.keep_alive()) break;
  }
  return 0;
}
