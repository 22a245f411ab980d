// abrec serve --config FILE [--host H] [--port N]
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "auth/authorizer.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/periodic_thread.h"
#include "base/thread_priority.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "platform/lifecycle.h"
#include "platform/platform.h"
#include "platform/report_service.h"
#include "server/http/fd_limit.h"
#include "server/http/http_server.h"
#include "server/router.h"

namespace abrec {

namespace {
constexpr const char* kHelp = R"(usage: abrec serve [--config FILE] [--host H] [--port N]

Runs the HTTP service with the platform config FILE (default config/abrec.yaml); --host and
--port override server.host and server.port (port 0 picks a free port, which is logged).
Stops cleanly on SIGINT or SIGTERM.
)";
}  // namespace

int ServeCommand(const CommandArgs& argv) {
  auto args = ParseCommandArgs("serve", argv, {"config", "host", "port"}, kHelp);
  if (!args) return args.error();
  if (!args->positionals.empty()) {
    fmt::print(stderr, "abrec serve: unexpected argument \"{}\"\n{}", args->positionals[0], kHelp);
    return 2;
  }
  const std::string path = args->Get("config").value_or(kDefaultConfig);
  auto config = LoadPlatformConfig(path);
  if (!config) {
    for (const auto& d : config.error()) fmt::print(stderr, "{}\n", d.ToString());
    return 1;
  }
  if (const auto host = args->Get("host")) config->server.host = *host;
  if (const auto port = args->Get("port")) {
    try {
      const int p = std::stoi(*port);
      if (p < 0 || p > 65535) throw std::out_of_range("port");
      config->server.port = p;
    } catch (const std::exception&) {
      fmt::print(stderr, "abrec serve: --port must be 0 to 65535, got \"{}\"\n", *port);
      return 2;
    }
  }
  // Before anything opens files: each connection needs a descriptor.
  if (auto fds = RaiseFdLimit(config->limits.max_connections); !fds) {
    LogError("cannot start: {}: {}", fds.error().field, fds.error().message);
    return 1;
  }
  auto platform = Platform::Open(std::move(*config), SystemClock::Instance(), {});
  if (!platform) {
    LogError("cannot start: {}: {}", platform.error().field, platform.error().message);
    return 1;
  }
  Platform& p = **platform;
  const auto snap = p.experiments();
  LogInfo("loaded {} experiment(s) from {}", snap->experiments.size(), p.config().experiments.dir);
  for (const auto& d : snap->errors) LogError("experiments: {}", d.ToString());
  p.StartWatching();

  // Who may call what: API keys from auth.keys_file (re-read when they change), the admin
  // token, dashboard sessions.
  auto admin_token = LoadOrCreateAdminToken(p.config().admin.token_file);
  if (!admin_token) {
    LogError("cannot start: {}", admin_token.error().message);
    return 1;
  }
  ApiKeys keys(p.config().auth.keys_file, SystemClock::Instance());
  if (auto loaded = keys.Load(); !loaded) {
    LogError("cannot start: {}", loaded.error().message);
    return 1;
  }
  const auto& auth = p.config().auth;
  SessionStore sessions(SystemClock::Instance(), auth.session_ttl_s,
                        static_cast<std::size_t>(auth.max_sessions));
  auto authorizer = Authorizer::Make(auth, std::move(*admin_token), keys, sessions);
  if (!authorizer) {
    LogError("cannot start: {}: {}", authorizer.error().field, authorizer.error().message);
    return 1;
  }
  LogInfo("auth: {} active API key(s) from {}{}", keys.size(), auth.keys_file,
          auth.anonymous_scopes.empty()
              ? std::string()
              : fmt::format("; without a key: {}", fmt::join(auth.anonymous_scopes, ", ")));

  std::atomic<ServiceState> state{ServiceState::kStarting};
  ServerMetrics metrics(Router::RouteNames());
  Router router(p, *authorizer, sessions, auth.cookie_secure, metrics, state);
  HttpServer server(p.config().server, p.config().limits, router, metrics, state);
  // The store's completions (answers waiting for a commit) run on the I/O threads: one
  // wake-up per commit instead of one per request.
  p.SetCompletionExecutor(server.Executor());
  auto port = server.Listen();
  if (!port) {
    LogError("cannot start: {}", port.error().message);
    return 1;
  }
  LogInfo("listening on http://{}:{} with {} thread(s)", p.config().server.host, *port,
          p.config().server.threads);
  LogInfo("dashboards: http://{}:{}/dashboards/", p.config().server.host, *port);
  // Alerts are logged as they appear and clear, checked every experiments.alert_interval_ms;
  // each check publishes the snapshot GET /v1/alerts, /metrics and /dashboards/ read
  // (platform/report_service.h). An experiment with auto_stop stops on its SRM alert (among
  // the exposures abrec logged itself) or a guardrail alert.
  AlertLog alert_log;
  PeriodicThread alert_checks;
  if (p.logs_events() && p.config().experiments.alert_interval_ms > 0) {
    alert_checks.Start(std::chrono::milliseconds(p.config().experiments.alert_interval_ms),
                       [&alert_log, &p] {
                         SetThisThreadNice(kBackgroundNice);  // one syscall per check
                         AutoStop(p, alert_log.Check(p));
                       });
  }
  server.Run();
  alert_checks.Stop();
  // Commit what is queued while the transport still exists for the completions.
  p.Stop();
  LogInfo("stopped");
  return 0;
}

}  // namespace abrec
