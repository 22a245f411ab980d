// API keys, sessions and the authorizer (auth/). The SHA-256 digests are checked
// against Python's hashlib (computed here: hashlib.sha256(bytes.fromhex(salt) + key)).
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <doctest/doctest.h>

#include "auth/authorizer.h"
#include "base/secure_random.h"

namespace abrec {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  TempDir() {
    path = fs::temp_directory_path() / ("abrec-auth-" + SecureRandomHex(6));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string File(const std::string& name) const { return (path / name).string(); }
  fs::path path;
};

// A request's credentials, owning their text (a temporary lives until the check is done).
struct Request {
  Request(std::string m, std::string a, std::string c = "", std::string peer = "10.0.0.9")
      : method(std::move(m)),
        authorization(std::move(a)),
        cookie(std::move(c)),
        address(std::move(peer)) {}
  operator Credentials() const { return {method, authorization, cookie, address}; }
  std::string method, authorization, cookie, address;
};

TEST_CASE("scopes parse from a comma list and name the unknown one") {
  auto s = ParseScopes("serve,admin", "scope");
  REQUIRE(s.has_value());
  CHECK(s->Has(Scope::kServe));
  CHECK(!s->Has(Scope::kRead));
  CHECK(s->Has(Scope::kAdmin));
  CHECK(ScopeList(*s) == "serve,admin");
  auto bad = ParseScopes("serve,write", "scope");
  REQUIRE(!bad.has_value());
  CHECK(bad.error().message.find("\"write\"") != std::string::npos);
  CHECK(!ParseScopes("", "scope").has_value());
}

TEST_CASE("secure random: the requested length, hex, and no repeats") {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string h = SecureRandomHex(16);
    CHECK(h.size() == 32);
    CHECK(h.find_first_not_of("0123456789abcdef") == std::string::npos);
    seen.insert(h);
  }
  CHECK(seen.size() == 1000);
}

TEST_CASE("keys: created 0600 and hashed, authenticated, revoked, reloaded without restart") {
  TempDir dir;
  const std::string path = dir.File("var/keys.json");
  ManualClock clock(1'700'000'000'000'000);
  auto made = CreateApiKey(path, "analyst", Scope::kRead, clock);
  REQUIRE(made.has_value());
  CHECK(made->key.size() == 6 + 16 + 1 + 64);
  CHECK(made->key.starts_with("abrec_" + made->record.id + "_"));
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  CHECK(text.find(made->key.substr(23)) == std::string::npos);  // the secret is not stored

  CHECK(CreateApiKey(path, "analyst", Scope::kServe, clock).error().code == ErrorCode::kConflict);
  CHECK(CreateApiKey(path, "bad name", Scope::kServe, clock).error().field == "name");
  CHECK(CreateApiKey(path, "none", ScopeSet{}, clock).error().field == "scope");

  ApiKeys keys(path, clock);
  REQUIRE(keys.Load().has_value());
  auto who = keys.Authenticate(made->key);
  REQUIRE(who.has_value());
  CHECK(who->name == "analyst");
  CHECK(who->scopes == ScopeSet(Scope::kRead));
  std::string forged = made->key;
  forged.back() = forged.back() == '0' ? '1' : '0';
  CHECK(!keys.Authenticate(forged).has_value());
  CHECK(!keys.Authenticate("abrec_" + made->record.id).has_value());
  CHECK(!keys.Authenticate("").has_value());

  // A key created by another process is seen after the next check, a second later.
  auto second = CreateApiKey(path, "server", Scope::kServe, clock);
  REQUIRE(second.has_value());
  clock.Advance(1'100'000);
  CHECK(keys.Authenticate(second->key).has_value());
  REQUIRE(RevokeApiKey(path, "analyst", clock).has_value());
  CHECK(keys.Authenticate(made->key).has_value());  // not checked again yet
  clock.Advance(1'100'000);
  CHECK(!keys.Authenticate(made->key).has_value());
  CHECK(!keys.IsActive(made->record.id));
  CHECK(RevokeApiKey(path, "analyst", clock).error().code == ErrorCode::kNotFound);
  // The name is free again once revoked.
  CHECK(CreateApiKey(path, "analyst", Scope::kRead, clock).has_value());
}

TEST_CASE("keys: a file others can read is refused, and a broken one fails closed") {
  TempDir dir;
  const std::string path = dir.File("keys.json");
  ManualClock clock(1'700'000'000'000'000);
  auto made = CreateApiKey(path, "k", Scope::kServe, clock);
  REQUIRE(made.has_value());
  ::chmod(path.c_str(), 0640);
  ApiKeys keys(path, clock);
  auto loaded = keys.Load();
  REQUIRE(!loaded.has_value());
  CHECK(loaded.error().code == ErrorCode::kFailedPrecondition);
  ::chmod(path.c_str(), 0600);
  REQUIRE(keys.Load().has_value());
  CHECK(keys.Authenticate(made->key).has_value());
  std::ofstream(path, std::ios::trunc) << "{not json";
  clock.Advance(2'000'000);
  CHECK(!keys.Authenticate(made->key).has_value());
}

TEST_CASE("keys: the stored digest is SHA-256 of the salt bytes then the key") {
  TempDir dir;
  const std::string path = dir.File("keys.json");
  ManualClock clock;
  // Reference: python3 -c "import hashlib;print(hashlib.sha256(bytes.fromhex('00'*16)+
  //   b'abrec_0123456789abcdef_'+b'a'*64).hexdigest())"
  std::ofstream(path) << R"({"version": 1, "keys": [{"name": "fixed", "id": "0123456789abcdef",
    "scopes": ["admin"], "salt": "00000000000000000000000000000000",
    "sha256": "f9cbea39c6f3581b9efa01dea4ce2cf01be8ba2246f8899b65d505cd1cfc069f",
    "created_at": "2026-01-01T00:00:00.000000Z", "revoked_at": null}]})";
  ::chmod(path.c_str(), 0600);
  ApiKeys keys(path, clock);
  REQUIRE(keys.Load().has_value());
  const std::string key = "abrec_0123456789abcdef_" + std::string(64, 'a');
  CHECK(keys.Authenticate(key).has_value());
}

TEST_CASE("sessions: expire, are bounded, and end on removal") {
  ManualClock clock(1'000'000);
  SessionStore sessions(clock, 60, 2);
  const KeyIdentity who{"analyst", "0123456789abcdef", Scope::kRead};
  const std::string a = sessions.Create(who);
  CHECK(a.size() == 64);
  CHECK(sessions.Find(a).has_value());
  clock.Advance(1);
  const std::string b = sessions.Create(who);
  clock.Advance(1);
  const std::string c = sessions.Create(who);  // the oldest, a, makes room
  CHECK(!sessions.Find(a).has_value());
  CHECK(sessions.Find(b).has_value());
  sessions.Remove(b);
  CHECK(!sessions.Find(b).has_value());
  clock.Advance(61'000'000);
  CHECK(!sessions.Find(c).has_value());
  CHECK(!sessions.Find("short").has_value());
}

TEST_CASE("authorizer: bearer, basic, cookie, anonymous and the metrics allowlist") {
  TempDir dir;
  const std::string path = dir.File("keys.json");
  ManualClock clock(1'700'000'000'000'000);
  auto serve = CreateApiKey(path, "srv", Scope::kServe, clock);
  auto read = CreateApiKey(path, "rd", Scope::kRead, clock);
  REQUIRE(serve.has_value());
  REQUIRE(read.has_value());
  ApiKeys keys(path, clock);
  REQUIRE(keys.Load().has_value());
  SessionStore sessions(clock, 3600, 10);
  AuthConfig config;
  config.metrics_allow = {"10.0.0.7"};
  auto auth = Authorizer::Make(config, std::string(64, 'f'), keys, sessions);
  REQUIRE(auth.has_value());

  CHECK(auth->Check(Request("GET", ""), Scope::kServe).access == Access::kUnauthenticated);
  CHECK(auth->Check(Request("GET", "Bearer " + serve->key), Scope::kServe).access ==
        Access::kAllowed);
  CHECK(auth->Check(Request("GET", "bearer " + serve->key), Scope::kServe).access ==
        Access::kAllowed);
  const auto denied = auth->Check(Request("GET", "Bearer " + serve->key), Scope::kRead);
  CHECK(denied.access == Access::kForbidden);
  CHECK(denied.message.find("read scope") != std::string::npos);
  CHECK(auth->Check(Request("GET", "Bearer nope"), Scope::kRead).access ==
        Access::kUnauthenticated);
  // The admin token: admin only.
  CHECK(auth->Check(Request("POST", "Bearer " + std::string(64, 'f')), Scope::kAdmin).access ==
        Access::kAllowed);
  CHECK(auth->Check(Request("POST", "Bearer " + std::string(64, 'f')), Scope::kRead).access ==
        Access::kForbidden);
  CHECK(auth->Check(Request("POST", "Bearer " + std::string(63, 'f')), Scope::kAdmin).access ==
        Access::kUnauthenticated);
  // Basic: the password is the key ("user:" + key, base64 computed by Python's base64).
  const std::string basic_payload = "analyst:" + read->key;
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  for (std::size_t i = 0; i < basic_payload.size(); i += 3) {
    auto byte = [&](std::size_t j) -> std::uint32_t {
      return j < basic_payload.size() ? static_cast<unsigned char>(basic_payload[j]) : 0u;
    };
    const std::uint32_t n = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    b64 += kB64[(n >> 18) & 63];
    b64 += kB64[(n >> 12) & 63];
    b64 += i + 1 < basic_payload.size() ? kB64[(n >> 6) & 63] : '=';
    b64 += i + 2 < basic_payload.size() ? kB64[n & 63] : '=';
  }
  CHECK(auth->Check(Request("GET", "Basic " + b64), Scope::kRead).access == Access::kAllowed);
  CHECK(auth->Check(Request("GET", "Basic !!"), Scope::kRead).access == Access::kUnauthenticated);
  // A session reads with GET only.
  const auto who = keys.Authenticate(read->key);
  REQUIRE(who.has_value());
  const std::string cookie = "theme=dark; abrec_session=" + sessions.Create(*who);
  CHECK(auth->Check(Request("GET", "", cookie), Scope::kRead).access == Access::kAllowed);
  CHECK(auth->Check(Request("POST", "", cookie), Scope::kRead).access == Access::kForbidden);
  CHECK(auth->Check(Request("GET", "", cookie), Scope::kServe).access == Access::kForbidden);
  // The allowlist lets one address read metrics, nothing else.
  CHECK(auth->Check(Request("GET", "", "", "10.0.0.7"), Scope::kRead, true).access ==
        Access::kAllowed);
  CHECK(auth->Check(Request("GET", "", "", "10.0.0.7"), Scope::kRead, false).access ==
        Access::kUnauthenticated);
  CHECK(auth->Check(Request("GET", "", "", "10.0.0.8"), Scope::kRead, true).access ==
        Access::kUnauthenticated);
  // Anonymous scopes.
  config.anonymous_scopes = {"serve"};
  auto open = Authorizer::Make(config, "", keys, sessions);
  REQUIRE(open.has_value());
  CHECK(open->Check(Request("GET", ""), Scope::kServe).access == Access::kAllowed);
  CHECK(open->Check(Request("GET", ""), Scope::kRead).access == Access::kUnauthenticated);
}

TEST_CASE("cookie values are found among others") {
  CHECK(CookieValue("a=1; abrec_session=xyz; b=2", "abrec_session") == "xyz");
  CHECK(CookieValue("abrec_sessionx=1", "abrec_session").empty());
  CHECK(CookieValue("", "abrec_session").empty());
}

}  // namespace
}  // namespace abrec
