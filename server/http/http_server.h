// The Boost.Beast HTTP/1.1 transport: an io_context on N threads, a strand per connection
// (handlers need no locks), keep-alive, a deadline on every read and write, header and body
// limits, and a clean stop on SIGINT/SIGTERM. Knows nothing of experiments: each complete
// request goes to the router.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "base/error.h"
#include "platform/platform_config.h"
#include "server/http/metrics.h"
#include "server/router.h"

namespace abrec {

class HttpServer {
 public:
  // `router`, `metrics` and `state` must outlive the server.
  HttpServer(const ServerConfig& server, const LimitsConfig& limits, const Router& router,
             ServerMetrics& metrics, std::atomic<ServiceState>& state);
  ~HttpServer();

  // Binds and listens; returns the bound port (useful with port 0).
  Result<int> Listen();

  // Serves until SIGINT/SIGTERM or Stop(); blocks. Sets the state to kServing, then
  // kStopping.
  void Run();

  // Thread-safe and signal-free: asks Run() to finish.
  void Stop();

  // Runs tasks on the server's I/O threads (for the event store's completions). Usable
  // while the server exists; tasks posted after Run() returned are dropped.
  std::function<void(std::function<void()>)> Executor();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace abrec
