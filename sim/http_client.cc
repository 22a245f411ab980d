#include "sim/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

namespace abrec::sim {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

struct HttpClient::Impl {
  std::string host, port;
  std::chrono::milliseconds timeout{30'000};
  boost::asio::io_context io;
  std::unique_ptr<beast::tcp_stream> stream;

  bool Connect(std::string& error) {
    try {
      tcp::resolver resolver(io);
      stream = std::make_unique<beast::tcp_stream>(io);
      stream->expires_after(timeout);
      stream->connect(resolver.resolve(host, port));
      return true;
    } catch (const std::exception& e) {
      error = e.what();
      stream.reset();
      return false;
    }
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpClient>> HttpClient::Open(std::string_view url, int timeout_ms) {
  constexpr std::string_view kScheme = "http://";
  std::string_view rest = url;
  if (!rest.starts_with(kScheme)) {
    return std::unexpected(
        Error::InvalidArgument(fmt::format("expected http://HOST:PORT, got \"{}\"", url), "url"));
  }
  rest.remove_prefix(kScheme.size());
  while (rest.ends_with('/')) rest.remove_suffix(1);
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size() ||
      rest.find('/') != std::string_view::npos) {
    return std::unexpected(
        Error::InvalidArgument(fmt::format("expected http://HOST:PORT, got \"{}\"", url), "url"));
  }
  auto impl = std::make_unique<Impl>();
  impl->host = std::string(rest.substr(0, colon));
  impl->port = std::string(rest.substr(colon + 1));
  impl->timeout = std::chrono::milliseconds(timeout_ms);
  std::string error;
  if (!impl->Connect(error)) {
    return std::unexpected(
        Error{ErrorCode::kUnavailable, fmt::format("cannot reach {}: {}", url, error), "url"});
  }
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

Result<HttpAnswer> HttpClient::Request(
    std::string_view method, std::string_view target, std::string_view body,
    std::string_view content_type,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string error;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!impl_->stream && !impl_->Connect(error)) break;
    try {
      const beast::string_view verb(method.data(), method.size());
      http::request<http::string_body> req{http::string_to_verb(verb),
                                           beast::string_view(target.data(), target.size()), 11};
      req.set(http::field::host, impl_->host);
      req.set(http::field::user_agent, "abrec-simulate");
      if (!content_type.empty()) {
        req.set(http::field::content_type,
                beast::string_view(content_type.data(), content_type.size()));
      }
      for (const auto& [name, value] : headers) req.set(name, value);
      req.body() = std::string(body);
      req.prepare_payload();
      impl_->stream->expires_after(impl_->timeout);
      http::write(*impl_->stream, req);
      beast::flat_buffer buffer;
      http::response_parser<http::string_body> parser;
      parser.body_limit(64 << 20);
      http::read(*impl_->stream, buffer, parser);
      auto res = parser.release();
      if (!res.keep_alive()) impl_->stream.reset();
      return HttpAnswer{static_cast<int>(res.result_int()), std::move(res.body())};
    } catch (const std::exception& e) {
      error = e.what();
      impl_->stream.reset();  // closed by the server: one fresh connection, then give up
    }
  }
  return std::unexpected(
      Error{ErrorCode::kUnavailable, fmt::format("{} {}: {}", method, target, error), "url"});
}

}  // namespace abrec::sim
