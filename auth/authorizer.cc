#include "auth/authorizer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <openssl/crypto.h>

#include "base/log.h"
#include "base/secure_random.h"

namespace abrec {
namespace {

constexpr std::string_view kBearer = "Bearer ";
constexpr std::string_view kBasic = "Basic ";

// RFC 4648 base64, padding optional; nullopt for any other character.
std::optional<std::string> DecodeBase64(std::string_view in) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : in) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    if (c >= '0' && c <= '9') v = c - '0' + 52;
    if (c == '+') v = 62;
    if (c == '/') v = 63;
    if (c == '=') break;
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

bool CaseInsensitivePrefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<std::string> LoadOrCreateAdminToken(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    const std::string token = SecureRandomHex(32);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    const bool written =
        fd >= 0 && ::write(fd, token.data(), token.size()) == static_cast<ssize_t>(token.size()) &&
        ::fsync(fd) == 0;
    if (fd >= 0) ::close(fd);
    if (!written) {
      return std::unexpected(Error{ErrorCode::kIo,
                                   fmt::format("cannot write {}: {}", path, std::strerror(errno)),
                                   "admin.token_file"});
    }
    LogInfo("admin: created a new admin token in {}", path);
    return token;
  }
  if (auto ok = RefuseSharedSecretFile(path, st.st_mode, "admin.token_file"); !ok) {
    return std::unexpected(ok.error());
  }
  std::ifstream in(path);
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.size() < 16) {
    return std::unexpected(
        Error{ErrorCode::kFailedPrecondition,
              fmt::format("the admin token in {} is shorter than 16 characters", path),
              "admin.token_file"});
  }
  return token;
}

std::string_view CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const std::size_t semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
      return pair.substr(name.size() + 1);
    }
  }
  return {};
}

Result<Authorizer> Authorizer::Make(const AuthConfig& config, std::string admin_token,
                                    const ApiKeys& keys, const SessionStore& sessions) {
  ScopeSet anonymous;
  for (const auto& name : config.anonymous_scopes) {
    auto s = ParseScopes(name, "auth.anonymous_scopes");
    if (!s) return std::unexpected(s.error());
    anonymous |= *s;
  }
  return Authorizer(config, std::move(admin_token), keys, sessions, anonymous);
}

Authorizer::Authorizer(const AuthConfig& config, std::string admin_token, const ApiKeys& keys,
                       const SessionStore& sessions, ScopeSet anonymous)
    : config_(config),
      admin_token_(std::move(admin_token)),
      keys_(keys),
      sessions_(sessions),
      anonymous_(anonymous) {}

bool Authorizer::IsAdminToken(std::string_view token) const {
  if (admin_token_.empty() || token.size() != admin_token_.size()) return false;
  return CRYPTO_memcmp(token.data(), admin_token_.data(), token.size()) == 0;
}

std::optional<KeyIdentity> Authorizer::KeyOwner(std::string_view key) const {
  return keys_.Authenticate(key);
}

AuthResult Authorizer::Check(const Credentials& req, Scope needed, bool address_may_do) const {
  const std::string_view scope = ScopeName(needed);
  auto decide = [&](std::optional<KeyIdentity> who, ScopeSet scopes) {
    if (scopes.Has(needed)) return AuthResult{Access::kAllowed, {}, std::move(who)};
    return AuthResult{Access::kForbidden,
                      fmt::format("this endpoint needs the {} scope; the key{} has {}", scope,
                                  who ? fmt::format(" \"{}\"", who->name) : std::string(),
                                  scopes.empty() ? std::string("none") : ScopeList(scopes)),
                      std::move(who)};
  };
  const std::string_view auth = req.authorization;
  if (!auth.empty()) {
    std::optional<std::string> key;
    if (CaseInsensitivePrefix(auth, kBearer)) {
      const std::string_view token = auth.substr(kBearer.size());
      if (IsAdminToken(token))
        return decide(KeyIdentity{"admin-token", "", Scope::kAdmin}, Scope::kAdmin);
      key = std::string(token);
    } else if (CaseInsensitivePrefix(auth, kBasic)) {
      if (const auto pair = DecodeBase64(auth.substr(kBasic.size()))) {
        const std::size_t colon = pair->find(':');
        if (colon != std::string::npos) key = pair->substr(colon + 1);
      }
    }
    if (!key) {
      return {Access::kUnauthenticated,
              "the Authorization header must be \"Bearer KEY\" or Basic with the key as password",
              std::nullopt};
    }
    auto who = keys_.Authenticate(*key);
    if (!who) return {Access::kUnauthenticated, "the key is unknown or revoked", std::nullopt};
    const ScopeSet scopes = who->scopes;
    return decide(std::move(who), scopes);
  }
  if (const auto session = CookieValue(req.cookie, kSessionCookie); !session.empty()) {
    if (auto who = sessions_.Find(session); who && keys_.IsActive(who->id)) {
      const bool safe = req.method == "GET" || req.method == "HEAD";
      if (needed == Scope::kRead && safe) return AuthResult{Access::kAllowed, {}, std::move(who)};
      return {Access::kForbidden,
              "a signed-in browser may only read; this endpoint needs an API key", who};
    }
  }
  if (anonymous_.Has(needed)) return {Access::kAllowed, {}, std::nullopt};
  if (address_may_do && std::find(config_.metrics_allow.begin(), config_.metrics_allow.end(),
                                  req.remote_address) != config_.metrics_allow.end()) {
    return {Access::kAllowed, {}, std::nullopt};
  }
  return {Access::kUnauthenticated,
          fmt::format("this endpoint needs an API key with the {} scope: \"Authorization: Bearer "
                      "KEY\" (abrec keys create --scope {})",
                      scope, scope),
          std::nullopt};
}

}  // namespace abrec
