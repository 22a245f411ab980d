// Who may call what: the `admin` and `auth` sections of config/abrec.yaml (read by
// platform/platform_config.cc).
#pragma once

#include <string>
#include <vector>

namespace abrec {

struct AdminConfig {
  std::string token_file = "../var/admin.token";
};

// Who may call what (auth/authorizer.h).
struct AuthConfig {
  // API keys, stored hashed (`abrec keys create|list|revoke`); mode 0600 or the service
  // refuses to start.
  std::string keys_file = "../var/api-keys.json";
  // Scopes granted to requests without credentials: none in production. A closed test rig
  // may open `serve` and `read`; `admin` always needs a credential.
  std::vector<std::string> anonymous_scopes;
  // Peer addresses (exact, e.g. a Prometheus server's "10.0.0.7") that may read /metrics
  // without a key.
  std::vector<std::string> metrics_allow;
  int session_ttl_s = 12 * 3600;  // a dashboard sign-in lasts this long
  int max_sessions = 10'000;      // past it, the oldest sign-in ends
  // The session cookie's Secure attribute: true behind TLS (a proxy terminating HTTPS);
  // false lets a browser sign in over plain http on 127.0.0.1.
  bool cookie_secure = false;
};

}  // namespace abrec
