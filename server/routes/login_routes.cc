// Signing in to the dashboards without script: GET /login shows a form; POST /login takes a
// key with the `read` scope and answers with an HttpOnly, SameSite=Strict session cookie
// (auth/sessions.h); POST /logout ends the session. Pages that need a sign-in answer 401
// with `WWW-Authenticate: Basic` (the browser's own prompt takes a key as its password) and
// the form as the body, for those who cancel the prompt.
#include <fmt/format.h>

#include "dashboards/html.h"
#include "server/http/error_response.h"
#include "server/http/query_string.h"
#include "server/routes/routes.h"

namespace abrec {
namespace {

constexpr std::string_view kLoginParams[] = {"key", "next"};

// Where to go after signing in: only a path of this service's dashboards, so that the form
// cannot be used to send someone elsewhere (an open redirect).
std::string SafeNext(std::string_view next) {
  if (next.starts_with("/dashboards") && !next.starts_with("//") &&
      next.find_first_of("\\\r\n\"'<>") == std::string_view::npos) {
    return std::string(next);
  }
  return "/dashboards/";
}

HttpResponse Page(int status, std::string_view title, std::string_view body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.body = fmt::format(
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>"
      "<style>body{{font:15px system-ui,sans-serif;margin:3em auto;max-width:28em}}"
      "input{{font:inherit;width:100%;margin:.3em 0 1em;padding:.3em}}</style></head>"
      "<body>{}</body></html>",
      HtmlEscape(title), body);
  return r;
}

HttpResponse Form(int status, std::string_view next, std::string_view message) {
  const std::string error = message.empty()
                                ? std::string()
                                : fmt::format("<p role=\"alert\">{}</p>", HtmlEscape(message));
  return Page(status, "abrec: sign in",
              fmt::format("<h1>abrec dashboards</h1>{}<form method=\"post\" action=\"/login\">"
                          "<label for=\"key\">API key with the read scope</label>"
                          "<input id=\"key\" name=\"key\" type=\"password\" autocomplete=\"off\" "
                          "required><input type=\"hidden\" name=\"next\" value=\"{}\">"
                          "<button type=\"submit\">Sign in</button></form>",
                          error, HtmlEscape(SafeNext(next))));
}

std::string SessionCookie(std::string_view value, std::int64_t max_age_s, bool secure) {
  return fmt::format("{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}", kSessionCookie,
                     value, max_age_s, secure ? "; Secure" : "");
}

}  // namespace

HttpResponse AuthError(const AuthResult& auth) {
  if (auth.access == Access::kForbidden) {
    return ErrorResponse(Error{ErrorCode::kPermissionDenied, auth.message, "authorization"});
  }
  HttpResponse r = ErrorResponse(Error{ErrorCode::kUnauthenticated, auth.message, "authorization"});
  r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"abrec\"");
  return r;
}

HttpResponse SignInRequired(const HttpRequest& req, const AuthResult& auth) {
  if (auth.access == Access::kForbidden) {
    return Form(403, req.path, auth.message);
  }
  HttpResponse r = Form(401, req.path, "");
  r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"abrec dashboards\", charset=\"UTF-8\"");
  return r;
}

HttpResponse LoginForm(const HttpRequest& req) {
  std::string next;
  constexpr std::string_view kNext[] = {"next"};
  if (auto q = ParseQuery(req.query, kNext); q && q->contains("next")) next = q->at("next");
  return Form(200, next, "");
}

HttpResponse PostLogin(const Authorizer& authorizer, SessionStore& sessions, bool cookie_secure,
                       const HttpRequest& req) {
  if (!req.content_type.starts_with("application/x-www-form-urlencoded")) {
    return ErrorResponse(Error{ErrorCode::kUnsupportedMediaType,
                               "the sign-in form is application/x-www-form-urlencoded",
                               "content-type"});
  }
  auto form = ParseQuery(req.body, kLoginParams);
  if (!form) return Form(400, "", form.error().message);
  const std::string next = form->contains("next") ? form->at("next") : std::string();
  const auto key = form->find("key");
  auto who = key == form->end() ? std::nullopt : authorizer.KeyOwner(key->second);
  if (!who) return Form(401, next, "That key is unknown or revoked.");
  if (!who->scopes.Has(Scope::kRead)) {
    return Form(403, next, "That key has no read scope: the dashboards need one.");
  }
  const std::string id = sessions.Create(*who);
  const std::string target = SafeNext(next);
  // A page rather than a redirect: the browser follows the refresh from this origin, so the
  // SameSite=Strict cookie goes with it even when the form was posted from elsewhere.
  HttpResponse r = Page(200, "abrec: signed in",
                        fmt::format("<meta http-equiv=\"refresh\" content=\"0;url={0}\">"
                                    "<p>Signed in as {1}. <a href=\"{0}\">Continue</a>.</p>",
                                    HtmlEscape(target), HtmlEscape(who->name)));
  r.headers.emplace_back("Set-Cookie", SessionCookie(id, sessions.ttl_s(), cookie_secure));
  return r;
}

HttpResponse PostLogout(SessionStore& sessions, bool cookie_secure, const HttpRequest& req) {
  if (const auto id = CookieValue(req.cookie, kSessionCookie); !id.empty()) sessions.Remove(id);
  HttpResponse r = Form(200, "", "Signed out.");
  r.headers.emplace_back("Set-Cookie", SessionCookie("", 0, cookie_secure));
  return r;
}

}  // namespace abrec
