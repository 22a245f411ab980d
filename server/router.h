// Route(request) -> response: a pure function of the request and the services. Knows the
// URL space and the wire formats; knows nothing of sockets.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "auth/authorizer.h"
#include "server/http/message.h"
#include "server/http/metrics.h"
#include "platform/platform.h"

namespace abrec {

// The service's lifecycle as /readyz reports it.
enum class ServiceState { kStarting, kServing, kStopping };

class Router {
 public:
  // All references must outlive the router. Thread-safe: Route may run on many threads.
  // Every route but /healthz, /readyz, /login and /logout needs a scope (auth/);
  // `cookie_secure` sets the session cookie's Secure attribute (auth.cookie_secure).
  Router(Platform& platform, const Authorizer& authorizer, SessionStore& sessions,
         bool cookie_secure, ServerMetrics& metrics, const std::atomic<ServiceState>& state);

  // Answers `request` through `respond`, exactly once: at once for most routes, after the
  // commit for those that write events (possibly on the event store's writer thread).
  void Dispatch(const HttpRequest& request, std::function<void(HttpResponse)> respond) const;

  // Dispatch, waiting for the answer (tests and in-process callers).
  HttpResponse Route(const HttpRequest& request) const;

  // The route labels of the metrics, in the order ServerMetrics is built with.
  static std::vector<std::string> RouteNames();

 private:
  Platform& platform_;
  const Authorizer& authorizer_;
  SessionStore& sessions_;
  bool cookie_secure_;
  ServerMetrics& metrics_;
  const std::atomic<ServiceState>& state_;
};

}  // namespace abrec
