// Who may call what: the credentials of a request checked against the scope its route needs.
//
// Credentials, in the order they are looked for:
//   - `Authorization: Bearer KEY`: an API key (any scope it holds), or the admin token of
//     `admin.token_file` (the `admin` scope only);
//   - `Authorization: Basic …` with an API key as the password (the user name is ignored):
//     what a browser sends after its sign-in prompt;
//   - the `abrec_session` cookie of the login form: the `read` scope only, on GET and HEAD
//     only, so that a cookie can never change anything;
//   - none: the scopes of `auth.anonymous_scopes` (empty unless configured), and for
//     /metrics an address in `auth.metrics_allow`.
// A missing or unknown credential is 401; a known one without the scope, 403.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/api_keys.h"
#include "auth/auth_config.h"
#include "auth/scopes.h"
#include "auth/sessions.h"
#include "base/clock.h"
#include "base/error.h"

namespace abrec {

// The admin token from its file, or a new random one (256 bits, mode 0600) when the file does
// not exist. Errors: kFailedPrecondition when the file is readable by group or others or the
// token is shorter than 16 characters; kIo.
Result<std::string> LoadOrCreateAdminToken(const std::string& path);

enum class Access { kAllowed, kUnauthenticated, kForbidden };

struct AuthResult {
  Access access = Access::kUnauthenticated;
  std::string message;  // why not, for the error body
  std::optional<KeyIdentity> who;
};

constexpr std::string_view kSessionCookie = "abrec_session";

// What a request presents, as the HTTP layer read it; the views must outlive the check.
struct Credentials {
  std::string_view method;          // GET and HEAD may use the session cookie
  std::string_view authorization;   // the Authorization header
  std::string_view cookie;          // the Cookie header
  std::string_view remote_address;  // the peer, for auth.metrics_allow
};

class Authorizer {
 public:
  // All references must outlive the authorizer. Errors: an invalid auth.anonymous_scopes.
  static Result<Authorizer> Make(const AuthConfig& config, std::string admin_token,
                                 const ApiKeys& keys, const SessionStore& sessions);

  // The decision for a request presenting `req` on a route that needs `needed`;
  // `address_may_do` when the route lets the addresses of auth.metrics_allow in without a
  // credential. Thread-safe.
  AuthResult Check(const Credentials& req, Scope needed, bool address_may_do = false) const;

  // The identity of an API key (not the admin token), for the login form.
  std::optional<KeyIdentity> KeyOwner(std::string_view key) const;

 private:
  Authorizer(const AuthConfig& config, std::string admin_token, const ApiKeys& keys,
             const SessionStore& sessions, ScopeSet anonymous);
  bool IsAdminToken(std::string_view token) const;

  const AuthConfig& config_;
  std::string admin_token_;
  const ApiKeys& keys_;
  const SessionStore& sessions_;
  ScopeSet anonymous_;
};

// The value of cookie `name` in a Cookie header, or empty.
std::string_view CookieValue(std::string_view header, std::string_view name);

}  // namespace abrec
