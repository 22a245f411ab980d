// The only file that knows Boost.Beast and Asio: the session (read, limits, deadlines, write)
// and the listener with its threads. Over 400 lines on purpose: splitting it would put
// Beast's and Asio's types in a shared header, and every other file of abrec free of them is
// worth more than a shorter file.
#include "server/http/http_server.h"

#include <pthread.h>

#include <cerrno>
#include <csignal>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "base/log.h"
#include "server/http/accept_backoff.h"
#include "server/http/body_budget.h"
#include "server/http/error_response.h"
#include "server/http/request_target.h"
#include "server/http/transfer_encoding.h"

namespace abrec {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t kReadChunk = 4096;
// After an error response with "Connection: close", unread request bytes are drained for at
// most this long before closing, so the client sees the response rather than a reset.
constexpr auto kLingerTime = std::chrono::milliseconds(500);
constexpr std::size_t kLingerBytes = 1 << 20;
// The read buffer holds a whole header (max_header_bytes), a chunk line or a trailer, and
// reads of the body pass through it: bounded at the header limit plus this much, so that a
// chunk extension or trailer that never ends cannot grow it (Beast 1.74's header limit does
// not cover them).
constexpr std::size_t kReadSlack = 16 << 10;

// Why the parser's chunk callback stopped a request.
enum class ChunkRefusal { kNone, kExtensions, kBudget };

struct Shared {
  const ServerConfig& server;
  const LimitsConfig& limits;
  const Router& router;
  ServerMetrics& metrics;
  std::atomic<ServiceState>& state;
  BodyBudget body_budget{limits.max_inflight_body_bytes};
  std::atomic<int> active_connections{0};
  std::atomic<int> busy_connections{0};  // reading a request or writing its response
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Shared& shared)
      : stream_(std::move(socket)),
        shared_(shared),
        buffer_(shared.limits.max_header_bytes + kReadSlack),
        body_share_(shared.body_budget.Open()),
        on_chunk_header_([this](std::uint64_t size, beast::string_view extensions,
                                beast::error_code& ec) { OnChunkHeader(size, extensions, ec); }) {
    ++shared_.active_connections;
  }
  ~Session() {
    SetBusy(false);
    --shared_.active_connections;
  }

  void Start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::WaitForRequest, shared_from_this()));
  }

 private:
  // Between requests the connection may idle for idle_timeout_ms; once the first byte of a
  // request arrives, the whole request must arrive within read_timeout_ms.
  void WaitForRequest() {
    if (buffer_.size() > 0) return ReadHeader();
    stream_.expires_after(std::chrono::milliseconds(shared_.limits.idle_timeout_ms));
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            beast::bind_front_handler(&Session::OnFirstBytes, shared_from_this()));
  }

  void OnFirstBytes(beast::error_code ec, std::size_t n) {
    if (ec) return Close();  // idle timeout, or the client closed the connection
    buffer_.commit(n);
    ReadHeader();
  }

  // Busy connections hold the shutdown for at most the grace period; idle ones do not.
  void SetBusy(bool busy) {
    if (busy == busy_) return;
    busy_ = busy;
    shared_.busy_connections += busy ? 1 : -1;
  }

  void ReadHeader() {
    SetBusy(true);
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(shared_.limits.max_header_bytes));
    parser_->body_limit(shared_.limits.max_body_bytes);
    parser_->on_chunk_header(on_chunk_header_);
    chunk_extension_bytes_ = 0;
    chunk_refusal_ = ChunkRefusal::kNone;
    stream_.expires_after(std::chrono::milliseconds(shared_.limits.read_timeout_ms));
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, std::size_t) {
    if (ec) return OnReadError(ec);
    const auto& req = parser_->get();
    if (auto bad = CheckFraming(req, req.version())) {
      return SendError(bad->status, bad->error, bad->message, "transfer-encoding");
    }
    const auto len = parser_->content_length();
    if (len && *len > shared_.limits.max_body_bytes) {
      return SendError(413, "payload_too_large",
                       fmt::format("the body is {} bytes; the limit is {} bytes", *len,
                                   shared_.limits.max_body_bytes),
                       "body");
    }
    if (len && !body_share_.Grow(*len)) return SendBudgetExhausted();
    if (parser_->is_done()) return OnRequest({}, 0);
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      // The client waits for this before sending the body (curl does for bodies > 1 KiB).
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      return http::async_write(
          stream_, *cont,
          [self = shared_from_this(), cont](beast::error_code write_ec, std::size_t) {
            if (write_ec) return self->Close();
            self->ReadBody();
          });
    }
    ReadBody();
  }

  // Parser callback for each chunk line: bounds the chunk extensions of a request (together
  // at most max_header_bytes) and takes each chunk's size from the in-flight body budget.
  void OnChunkHeader(std::uint64_t size, beast::string_view extensions, beast::error_code& ec) {
    chunk_extension_bytes_ += extensions.size();
    if (chunk_extension_bytes_ > shared_.limits.max_header_bytes) {
      chunk_refusal_ = ChunkRefusal::kExtensions;
      ec = http::error::bad_chunk_extension;
    } else if (!body_share_.Grow(size)) {
      chunk_refusal_ = ChunkRefusal::kBudget;
      ec = http::error::body_limit;
    }
  }

  void SendBudgetExhausted() {
    Refuse(UnavailableResponse(
        Error{ErrorCode::kUnavailable,
              fmt::format("too many request bodies in flight (limits.max_inflight_body_bytes {}); "
                          "retry later",
                          shared_.limits.max_inflight_body_bytes),
              "body"}));
  }

  // A chunk line or trailer that outgrew the read buffer. Beast consumes the buffer up to
  // the chunk line being parsed; past a complete line (after the previous chunk's CRLF) it
  // can only be the last chunk's trailer.
  bool TrailerOverflowed() const {
    std::string_view rest(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    if (rest.starts_with("\r\n")) rest.remove_prefix(2);
    return rest.find("\r\n") != std::string_view::npos;
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRequest, shared_from_this()));
  }

  void OnReadError(beast::error_code ec) {
    if (chunk_refusal_ == ChunkRefusal::kBudget) return SendBudgetExhausted();
    if (chunk_refusal_ == ChunkRefusal::kExtensions ||
        (ec == http::error::buffer_overflow && !TrailerOverflowed())) {
      return SendError(400, "bad_request",
                       fmt::format("the chunk lines' extensions exceed {} bytes",
                                   shared_.limits.max_header_bytes),
                       "chunk-extension");
    }
    if (ec == http::error::buffer_overflow) {
      return SendError(431, "request_header_fields_too_large",
                       fmt::format("the trailer exceeds {} bytes", shared_.limits.max_header_bytes),
                       "trailer");
    }
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted) {
      return Close();
    }
    if (ec == beast::error::timeout) {
      // The stream has closed the socket: nothing can be sent any more.
      shared_.metrics.CountConnectionEvent("read_timeout");
      return;
    }
    if (ec == http::error::header_limit) {
      return SendError(
          431, "request_header_fields_too_large",
          fmt::format("the request header exceeds {} bytes", shared_.limits.max_header_bytes),
          "header");
    }
    if (ec == http::error::body_limit) {
      return SendError(413, "payload_too_large",
                       fmt::format("the body exceeds {} bytes", shared_.limits.max_body_bytes),
                       "body");
    }
    SendError(400, "bad_request", fmt::format("malformed HTTP request: {}", ec.message()), "");
  }

  void OnRequest(beast::error_code ec, std::size_t) {
    if (ec) return OnReadError(ec);
    const auto& req = parser_->get();
    HttpRequest r;
    r.method = std::string(req.method_string());
    // The absolute form ("http://host/path?q") is accepted too (RFC 9112 section 3.2.2).
    const auto [path, query] =
        SplitRequestTarget(std::string_view(req.target().data(), req.target().size()));
    r.path = std::string(path);
    r.query = std::string(query);
    r.content_type = std::string(req[http::field::content_type]);
    r.authorization = std::string(req[http::field::authorization]);
    r.cookie = std::string(req[http::field::cookie]);
    beast::error_code peer_ec;
    const auto peer = stream_.socket().remote_endpoint(peer_ec);
    if (!peer_ec) r.remote_address = peer.address().to_string();
    r.body = std::move(parser_->get().body());
    const bool keep_alive = req.keep_alive() && shared_.state.load() == ServiceState::kServing;
    const bool head = req.method() == http::verb::head;
    // The answer may come from the event store's writer thread: back to this strand.
    shared_.router.Dispatch(r, [self = shared_from_this(), keep_alive, head](HttpResponse resp) {
      net::post(self->stream_.get_executor(),
                [self, resp = std::move(resp), keep_alive, head]() mutable {
                  self->Send(std::move(resp), keep_alive, head);
                });
    });
  }

  void SendError(int status, std::string_view code, std::string_view message,
                 std::string_view field) {
    Refuse(ErrorResponse(status, code, message, field));
  }

  // Answers a request the transport refuses, then closes (what follows it is not read as
  // another request). An answer to HEAD has no body, whatever the error.
  void Refuse(HttpResponse r) {
    shared_.metrics.CountConnectionEvent(fmt::format("http_{}", r.status));
    const bool head =
        parser_ && parser_->is_header_done() && parser_->get().method() == http::verb::head;
    Send(std::move(r), false, head);
  }

  void Send(HttpResponse r, bool keep_alive, bool head) {
    // The request's body is done with: its share of the budget goes back before the client
    // can see the answer and send the next one.
    body_share_.Release();
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), 11);
    res->set(http::field::server, "abrec");
    res->set(http::field::content_type, r.content_type);
    res->set(http::field::cache_control, "no-store");
    for (auto& [name, value] : r.headers) res->set(name, value);
    res->keep_alive(keep_alive);
    const std::size_t length = r.body.size();
    if (!head) res->body() = std::move(r.body);
    res->content_length(length);
    res_ = res;
    stream_.expires_after(std::chrono::milliseconds(shared_.limits.write_timeout_ms));
    http::async_write(stream_, *res_,
                      [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                        self->OnWrite(keep_alive, ec);
                      });
  }

  void OnWrite(bool keep_alive, beast::error_code ec) {
    res_.reset();
    SetBusy(false);
    if (ec) return Close();
    if (!keep_alive) return Linger();
    WaitForRequest();
  }

  void Linger() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return;
    stream_.expires_after(kLingerTime);
    DrainSome();
  }

  void DrainSome() {
    stream_.async_read_some(net::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (!ec && self->drained_ < kLingerBytes) self->DrainSome();
                            });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  }

  beast::tcp_stream stream_;
  Shared& shared_;
  beast::flat_buffer buffer_;  // bounded: max_header_bytes + kReadSlack
  BodyBudget::Share body_share_;
  std::function<void(std::uint64_t, beast::string_view, beast::error_code&)> on_chunk_header_;
  std::size_t chunk_extension_bytes_ = 0;
  ChunkRefusal chunk_refusal_ = ChunkRefusal::kNone;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> res_;
  std::array<char, kReadChunk> scratch_{};
  std::size_t drained_ = 0;
  bool busy_ = false;
};

}  // namespace

struct HttpServer::Impl {
  Impl(const ServerConfig& s, const LimitsConfig& l, const Router& router, ServerMetrics& metrics,
       std::atomic<ServiceState>& state)
      : shared{s, l, router, metrics, state},
        ioc(s.threads),
        acceptor(net::make_strand(ioc)),
        accept_pause(acceptor.get_executor()),
        signals(ioc, SIGINT, SIGTERM),
        grace(ioc) {}

  // Runs on the acceptor's strand, like the pause and the backoff it drives.
  void Accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) return OnAcceptError(ec);
      if (const auto unlogged = backoff.Success(); unlogged > 0) {
        LogWarning("accept failed {} more time(s), then recovered", unlogged);
      }
      if (shared.active_connections.load() >= shared.limits.max_connections) {
        shared.metrics.CountConnectionEvent("rejected_connection");
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        std::make_shared<Session>(std::move(socket), shared)->Start();
      }
      Accept();
    });
  }

  void OnAcceptError(beast::error_code ec) {
    shared.metrics.CountConnectionEvent("accept_failed");
    const bool exhausted =
        ec.category() == boost::system::system_category() && IsResourceExhaustion(ec.value());
    const auto step = backoff.Failure(std::chrono::steady_clock::now(), exhausted);
    if (step.log_failures > 0) {
      LogWarning("accept failed {} time(s): {}{}", step.log_failures, ec.message(),
                 exhausted ? fmt::format("; pausing {} ms between attempts (limits.max_connections "
                                         "{}, {} open)",
                                         step.pause.count(), shared.limits.max_connections,
                                         shared.active_connections.load())
                           : std::string());
    }
    if (step.pause.count() == 0) return Accept();
    accept_pause.expires_after(step.pause);
    accept_pause.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && acceptor.is_open()) Accept();
    });
  }

  void BeginStop() {
    if (shared.state.exchange(ServiceState::kStopping) == ServiceState::kStopping) return;
    LogInfo("stopping: no new connections; {} ms for requests in flight",
            shared.server.shutdown_grace_ms);
    net::post(acceptor.get_executor(), [this] {
      beast::error_code ec;
      acceptor.close(ec);
      accept_pause.cancel();
    });
    deadline = std::chrono::steady_clock::now() +
               std::chrono::milliseconds(shared.server.shutdown_grace_ms);
    WaitForQuiet();
  }

  // Stops as soon as no request is in flight, or when the grace period is over.
  void WaitForQuiet() {
    if (shared.busy_connections.load() == 0 || std::chrono::steady_clock::now() >= deadline) {
      ioc.stop();
      return;
    }
    grace.expires_after(std::chrono::milliseconds(5));
    grace.async_wait([this](beast::error_code) { WaitForQuiet(); });
  }

  Shared shared;
  net::io_context ioc;
  tcp::acceptor acceptor;
  net::steady_timer accept_pause;  // between accepts that failed for want of descriptors
  AcceptBackoff backoff;
  net::signal_set signals;
  net::steady_timer grace;
  std::chrono::steady_clock::time_point deadline;
};

HttpServer::HttpServer(const ServerConfig& server, const LimitsConfig& limits, const Router& router,
                       ServerMetrics& metrics, std::atomic<ServiceState>& state)
    : impl_(std::make_unique<Impl>(server, limits, router, metrics, state)) {}

HttpServer::~HttpServer() = default;

Result<int> HttpServer::Listen() {
  beast::error_code ec;
  const auto address = net::ip::make_address(impl_->shared.server.host, ec);
  if (ec) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("server.host \"{}\" is not an IP address", impl_->shared.server.host),
        "server.host"));
  }
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(impl_->shared.server.port));
  auto& a = impl_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return std::unexpected(
        Error{ErrorCode::kUnavailable,
              fmt::format("cannot listen on {}:{}: {}", impl_->shared.server.host,
                          impl_->shared.server.port, ec.message()),
              "server.port"});
  }
  return static_cast<int>(a.local_endpoint().port());
}

void HttpServer::Run() {
  impl_->signals.async_wait([this](beast::error_code ec, int sig) {
    if (!ec) {
      LogInfo("received signal {}", sig);
      impl_->BeginStop();
    }
  });
  impl_->Accept();
  impl_->shared.state = ServiceState::kServing;
  const int n = std::max(1, impl_->shared.server.threads);
  std::vector<std::thread> threads;
  for (int i = 1; i < n; ++i) {
    threads.emplace_back([this] {
      pthread_setname_np(pthread_self(), "abrec-http");  // names show in top -H and perf
      impl_->ioc.run();
    });
  }
  impl_->ioc.run();
  for (auto& t : threads) t.join();
}

void HttpServer::Stop() {
  net::post(impl_->ioc, [this] { impl_->BeginStop(); });
}

std::function<void(std::function<void()>)> HttpServer::Executor() {
  return [this](std::function<void()> task) { net::post(impl_->ioc, std::move(task)); };
}

}  // namespace abrec
