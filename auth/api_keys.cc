#include "auth/api_keys.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "base/atomic_file.h"
#include "base/log.h"
#include "base/secure_random.h"

namespace abrec {
namespace {

constexpr std::string_view kPrefix = "abrec_";
constexpr std::size_t kIdHex = 16;      // 8 bytes
constexpr std::size_t kSecretHex = 64;  // 32 bytes
constexpr std::size_t kSaltHex = 32;    // 16 bytes
constexpr std::size_t kKeyLength = kPrefix.size() + kIdHex + 1 + kSecretHex;
constexpr std::int64_t kRecheckUs = 1'000'000;
// A key file is small: one line per key. Anything larger is not one.
constexpr std::uintmax_t kMaxFileBytes = 4 << 20;

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool ValidName(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::vector<std::uint8_t> FromHex(std::string_view hex) {
  std::vector<std::uint8_t> out(hex.size() / 2);
  auto nibble = [](char c) { return static_cast<std::uint8_t>(c <= '9' ? c - '0' : c - 'a' + 10); };
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  }
  return out;
}

// SHA-256(salt bytes ‖ key), as 32 raw bytes.
std::array<std::uint8_t, SHA256_DIGEST_LENGTH> KeyDigest(std::string_view salt_hex,
                                                         std::string_view key) {
  std::vector<std::uint8_t> input = FromHex(salt_hex);
  input.insert(input.end(), key.begin(), key.end());
  std::array<std::uint8_t, SHA256_DIGEST_LENGTH> digest{};
  SHA256(input.data(), input.size(), digest.data());
  return digest;
}

std::string Hex(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve(2 * bytes.size());
  for (const auto b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

Error FileError(const std::string& path, std::string_view what) {
  return Error::InvalidArgument(fmt::format("{}: not an abrec key file: {}", path, what),
                                "auth.keys_file");
}

nlohmann::ordered_json ToJson(const ApiKeyRecord& r) {
  nlohmann::ordered_json scopes = nlohmann::ordered_json::array();
  for (const Scope s : {Scope::kServe, Scope::kRead, Scope::kAdmin}) {
    if (r.scopes.Has(s)) scopes.push_back(ScopeName(s));
  }
  return {{"name", r.name},
          {"id", r.id},
          {"scopes", std::move(scopes)},
          {"salt", r.salt},
          {"sha256", r.sha256},
          {"created_at", r.created_at},
          {"revoked_at", r.revoked_at.empty() ? nlohmann::ordered_json(nullptr)
                                              : nlohmann::ordered_json(r.revoked_at)}};
}

Result<ApiKeyRecord> FromJson(const nlohmann::json& j, const std::string& path) {
  auto str = [&](const char* k) -> const std::string* {
    const auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
  };
  const std::string *name = str("name"), *id = str("id"), *salt = str("salt"), *sha = str("sha256"),
                    *created = str("created_at");
  const auto scopes = j.find("scopes");
  if (!name || !id || !salt || !sha || !created || scopes == j.end() || !scopes->is_array() ||
      id->size() != kIdHex || salt->size() != kSaltHex || sha->size() != 64 || !IsHex(*id) ||
      !IsHex(*salt) || !IsHex(*sha)) {
    return std::unexpected(FileError(path, "a key entry lacks name, id, scopes, salt or sha256"));
  }
  ApiKeyRecord r{*name, *id, {}, *salt, *sha, *created, {}};
  for (const auto& s : *scopes) {
    if (!s.is_string()) return std::unexpected(FileError(path, "a scope is not a string"));
    auto one = ParseScopes(s.get<std::string>(), "auth.keys_file");
    if (!one) return std::unexpected(FileError(path, one.error().message));
    r.scopes |= *one;
  }
  if (const auto rev = str("revoked_at")) r.revoked_at = *rev;
  return r;
}

Result<void> WriteApiKeyFile(const std::string& path, const std::vector<ApiKeyRecord>& records) {
  nlohmann::ordered_json keys = nlohmann::ordered_json::array();
  for (const auto& r : records) keys.push_back(ToJson(r));
  std::error_code ec;
  const auto folder = std::filesystem::path(path).parent_path();
  if (!folder.empty()) std::filesystem::create_directories(folder, ec);
  return WriteFileAtomically(
      path, nlohmann::ordered_json{{"version", 1}, {"keys", std::move(keys)}}.dump(2) + "\n", 0600);
}

// The identity of a file's content as stat sees it: a rename (how the file is written)
// changes the inode, an edit in place the time or size.
struct FileStamp {
  bool exists = false;
  ino_t inode = 0;
  std::int64_t mtime_ns = 0;
  off_t size = 0;
  bool operator==(const FileStamp&) const = default;
};

FileStamp Stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {true, st.st_ino, std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec,
          st.st_size};
}

}  // namespace

Result<void> RefuseSharedSecretFile(const std::string& path, unsigned mode,
                                    std::string_view field) {
  if ((mode & 077) == 0) return {};
  return std::unexpected(
      Error{ErrorCode::kFailedPrecondition,
            fmt::format("{} is readable by its group or others (mode {:04o}); run chmod 600 {}",
                        path, mode & 07777, path),
            std::string(field)});
}

Result<std::vector<ApiKeyRecord>> ReadApiKeyFile(const std::string& path) {
  std::vector<ApiKeyRecord> records;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return records;
    return std::unexpected(Error{ErrorCode::kIo,
                                 fmt::format("cannot read {}: {}", path, std::strerror(errno)),
                                 "auth.keys_file"});
  }
  if (auto ok = RefuseSharedSecretFile(path, st.st_mode, "auth.keys_file"); !ok) {
    return std::unexpected(ok.error());
  }
  if (!S_ISREG(st.st_mode) || static_cast<std::uintmax_t>(st.st_size) > kMaxFileBytes) {
    return std::unexpected(FileError(path, "not a regular file of at most 4 MiB"));
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    return std::unexpected(
        Error{ErrorCode::kIo, fmt::format("cannot read {}", path), "auth.keys_file"});
  }
  const auto doc = nlohmann::json::parse(text.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array()) {
    return std::unexpected(FileError(path, "expected {\"version\": 1, \"keys\": [...]}"));
  }
  for (const auto& k : doc["keys"]) {
    if (!k.is_object()) return std::unexpected(FileError(path, "a key entry is not an object"));
    auto r = FromJson(k, path);
    if (!r) return std::unexpected(r.error());
    records.push_back(std::move(*r));
  }
  return records;
}

Result<NewApiKey> CreateApiKey(const std::string& path, std::string_view name, ScopeSet scopes,
                               const Clock& clock) {
  if (!ValidName(name)) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("the key name \"{}\" must be 1 to 64 letters, digits, '.', '_' or '-'", name),
        "name"));
  }
  if (scopes.empty()) return std::unexpected(Error::InvalidArgument("no scope given", "scope"));
  auto records = ReadApiKeyFile(path);
  if (!records) return std::unexpected(records.error());
  for (const auto& r : *records) {
    if (r.name == name && r.revoked_at.empty()) {
      return std::unexpected(Error{
          ErrorCode::kConflict,
          fmt::format("an active key is already named \"{}\"; revoke it first", name), "name"});
    }
  }
  NewApiKey made;
  made.record.name = std::string(name);
  made.record.id = SecureRandomHex(kIdHex / 2);
  made.record.scopes = scopes;
  made.record.salt = SecureRandomHex(kSaltHex / 2);
  made.key = fmt::format("{}{}_{}", kPrefix, made.record.id, SecureRandomHex(kSecretHex / 2));
  made.record.sha256 = Hex(KeyDigest(made.record.salt, made.key));
  made.record.created_at = FormatRfc3339(clock.NowMicros());
  records->push_back(made.record);
  if (auto ok = WriteApiKeyFile(path, *records); !ok) return std::unexpected(ok.error());
  return made;
}

Result<ApiKeyRecord> RevokeApiKey(const std::string& path, std::string_view name,
                                  const Clock& clock) {
  auto records = ReadApiKeyFile(path);
  if (!records) return std::unexpected(records.error());
  for (auto& r : *records) {
    if (r.name != name || !r.revoked_at.empty()) continue;
    r.revoked_at = FormatRfc3339(clock.NowMicros());
    if (auto ok = WriteApiKeyFile(path, *records); !ok) return std::unexpected(ok.error());
    return r;
  }
  return std::unexpected(
      Error::NotFound(fmt::format("no active key is named \"{}\"", name), "name"));
}

struct ApiKeys::Snapshot {
  FileStamp stamp;
  std::vector<ApiKeyRecord> active;
};

ApiKeys::ApiKeys(std::string path, const Clock& clock)
    : path_(std::move(path)), clock_(clock), snapshot_(std::make_shared<const Snapshot>()) {}

Result<void> ApiKeys::Load() {
  if (path_.empty()) return {};
  const FileStamp stamp = Stamp(path_);
  auto records = ReadApiKeyFile(path_);
  if (!records) return std::unexpected(records.error());
  auto snap = std::make_shared<Snapshot>();
  snap->stamp = stamp;
  for (auto& r : *records) {
    if (r.revoked_at.empty()) snap->active.push_back(std::move(r));
  }
  snapshot_.store(std::move(snap));
  next_check_us_.store(clock_.NowMicros() + kRecheckUs);
  return {};
}

void ApiKeys::MaybeReload() const {
  if (path_.empty()) return;
  const std::int64_t now = clock_.NowMicros();
  std::int64_t due = next_check_us_.load();
  // One thread checks per second; the others go on with the snapshot they have.
  if (now < due || !next_check_us_.compare_exchange_strong(due, now + kRecheckUs)) return;
  const FileStamp stamp = Stamp(path_);
  if (stamp == snapshot_.load()->stamp) return;
  auto snap = std::make_shared<Snapshot>();
  snap->stamp = stamp;
  if (auto records = ReadApiKeyFile(path_); !records) {
    LogError("auth: {}; no API key is accepted until the file is fixed", records.error().message);
  } else {
    for (auto& r : *records) {
      if (r.revoked_at.empty()) snap->active.push_back(std::move(r));
    }
    LogInfo("auth: {} active API key(s) from {}", snap->active.size(), path_);
  }
  snapshot_.store(std::move(snap));
}

std::optional<KeyIdentity> ApiKeys::Authenticate(std::string_view key) const {
  MaybeReload();
  if (key.size() != kKeyLength || !key.starts_with(kPrefix) ||
      key[kPrefix.size() + kIdHex] != '_') {
    return std::nullopt;
  }
  const std::string_view id = key.substr(kPrefix.size(), kIdHex);
  const auto snap = snapshot_.load();
  for (const auto& r : snap->active) {
    if (r.id != id) continue;
    const auto digest = KeyDigest(r.salt, key);
    const auto stored = FromHex(r.sha256);
    if (CRYPTO_memcmp(digest.data(), stored.data(), digest.size()) != 0) return std::nullopt;
    return KeyIdentity{r.name, r.id, r.scopes};
  }
  return std::nullopt;
}

bool ApiKeys::IsActive(std::string_view id) const {
  MaybeReload();
  const auto snap = snapshot_.load();
  return std::any_of(snap->active.begin(), snap->active.end(),
                     [&](const ApiKeyRecord& r) { return r.id == id; });
}

std::size_t ApiKeys::size() const { return snapshot_.load()->active.size(); }

}  // namespace abrec
