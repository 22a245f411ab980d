// API keys: created by `abrec keys create`, stored hashed, checked by the service.
//
// A key reads "abrec_<id>_<secret>": 8 random bytes of public id (shown by `keys list`, named
// in logs) and 32 random bytes of secret, from the kernel's CSPRNG. The file keeps, per key,
// its name, id, scopes, a random 16-byte salt and SHA-256(salt ‖ key): a stolen file gives no
// key. Secrets of 256 bits need no slow hash (password hashing exists for guessable
// secrets). Comparisons are constant-time (CRYPTO_memcmp).
//
// The file (JSON, `auth.keys_file`) is written atomically with mode 0600; the service refuses
// to load one that its group or others can read. The service re-reads it when it changes
// (checked at most once a second), so creating or revoking a key needs no restart. A file
// that cannot be read after a change fails closed: no key is accepted until it is fixed.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/error.h"
#include "auth/scopes.h"

namespace abrec {

// Refuses a secret file (keys, tokens) that its group or others may read: kFailedPrecondition
// naming the file, its mode and the chmod that fixes it; `field` is the config key.
Result<void> RefuseSharedSecretFile(const std::string& path, unsigned mode, std::string_view field);

struct ApiKeyRecord {
  std::string name;  // [A-Za-z0-9._-], 1 to 64 characters, unique among active keys
  std::string id;    // 16 hex digits
  ScopeSet scopes;
  std::string salt;    // 32 hex digits
  std::string sha256;  // 64 hex digits: SHA-256(salt bytes ‖ key)
  std::string created_at;
  std::string revoked_at;  // empty while active
};

// The file's records, in creation order; an absent file has none. Errors: kFailedPrecondition
// when the file is readable by group or others; kInvalidArgument naming the file when it is
// not a key file; kIo.
Result<std::vector<ApiKeyRecord>> ReadApiKeyFile(const std::string& path);

struct NewApiKey {
  ApiKeyRecord record;
  std::string key;  // the only time the key exists outside its owner's hands
};

// Adds a key to the file (created, with its folder, when absent). Errors: kInvalidArgument
// for a bad name or an empty scope set, kConflict when an active key has the name, and
// the errors of ReadApiKeyFile. Not safe against a concurrent `keys` command on the same file.
Result<NewApiKey> CreateApiKey(const std::string& path, std::string_view name, ScopeSet scopes,
                               const Clock& clock);

// Marks the active key `name` revoked. Errors: kNotFound, and those of ReadApiKeyFile.
Result<ApiKeyRecord> RevokeApiKey(const std::string& path, std::string_view name,
                                  const Clock& clock);

// Who a key belongs to, once checked.
struct KeyIdentity {
  std::string name;
  std::string id;
  ScopeSet scopes;
};

// The service's view of the key file. Thread-safe: Authenticate may run on every I/O thread
// while another reloads.
class ApiKeys {
 public:
  // `path` empty: no key file, no key is accepted.
  ApiKeys(std::string path, const Clock& clock);

  // Reads the file now. Errors: those of ReadApiKeyFile (the service refuses to start).
  Result<void> Load();

  // The active key's identity, or nullopt for anything else (unknown, revoked, malformed).
  // Re-reads the file first when it changed and a second has passed since the last check.
  std::optional<KeyIdentity> Authenticate(std::string_view key) const;

  // Whether the key with this id is still active (sessions made with a revoked key end).
  bool IsActive(std::string_view id) const;

  std::size_t size() const;

 private:
  struct Snapshot;
  void MaybeReload() const;

  std::string path_;
  const Clock& clock_;
  mutable std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
  mutable std::atomic<std::int64_t> next_check_us_{0};
};

}  // namespace abrec
