// An in-process service for tests and fuzz targets: a Platform, an Authorizer and a Router
// over a temporary folder ($TMPDIR/PREFIX-PID, removed by the destructor), called through
// Router::Route instead of a socket. The folder holds one experiment file, experiments/exp.yaml;
// the shipped catalog and ranking rules; no model. Serve and read are open to anonymous
// callers, so that inputs reach the handlers (the credentials have their own tests:
// tests/auth/auth_test.cc, tests/integration/test_auth.py); admin needs the admin token.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/clock.h"
#include "base/error.h"
#include "auth/api_keys.h"
#include "auth/authorizer.h"
#include "auth/sessions.h"
#include "server/http/metrics.h"
#include "platform/lifecycle.h"
#include "platform/platform.h"
#include "server/router.h"

namespace abrec::testing {

struct ServiceFixtureOptions {
  std::string prefix = "abrec-service";  // of the temporary folder's name
  std::string experiment_yaml{};         // written as experiments/exp.yaml
  std::int64_t now_micros = 0;           // the manual clock's start
  std::optional<std::uint64_t> random_seed{};
  // Adjusts the config (paths already point into the folder) before the platform opens.
  std::function<void(PlatformConfig&)> configure{};
};

class ServiceFixture {
 public:
  // Errors: the folder, the platform or the authorizer cannot be made.
  static Result<std::unique_ptr<ServiceFixture>> Open(const ServiceFixtureOptions& options);
  ~ServiceFixture();
  ServiceFixture(const ServiceFixture&) = delete;
  ServiceFixture& operator=(const ServiceFixture&) = delete;

  Platform& platform() { return *platform_; }
  const Router& router() const { return *router_; }
  ServerMetrics& metrics() { return metrics_; }
  std::atomic<ServiceState>& state() { return state_; }
  ManualClock& clock() { return clock_; }
  const std::filesystem::path& root() const { return root_; }
  // The admin token the platform created in the folder.
  std::string AdminToken() const;

 private:
  ServiceFixture(std::filesystem::path root, std::int64_t now_micros);

  std::filesystem::path root_;
  ManualClock clock_;
  ServerMetrics metrics_{Router::RouteNames()};
  std::atomic<ServiceState> state_{ServiceState::kServing};
  ApiKeys keys_{"", clock_};
  SessionStore sessions_{clock_, 3600, 100};
  std::unique_ptr<Platform> platform_;
  std::optional<Authorizer> authorizer_;
  std::unique_ptr<Router> router_;
};

}  // namespace abrec::testing
