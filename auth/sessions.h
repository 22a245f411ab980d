// Browser sessions for the dashboards: a key with the `read` scope, given once to the login
// form, becomes a random session id in an HttpOnly, SameSite=Strict cookie, so a browser
// needs no script and never stores the key. Sessions live in memory (a restart signs every
// browser out), expire after `ttl`, end when their key is revoked, and are bounded in number
// (the oldest is dropped first). Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "auth/api_keys.h"

namespace abrec {

class SessionStore {
 public:
  SessionStore(const Clock& clock, std::int64_t ttl_s, std::size_t max_sessions);

  // A new session for `who`; returns its id (64 hex digits, 256 random bits).
  std::string Create(const KeyIdentity& who);

  // The identity of a live session, or nullopt (unknown, expired).
  std::optional<KeyIdentity> Find(std::string_view id) const;

  void Remove(std::string_view id);

  std::int64_t ttl_s() const { return ttl_s_; }

 private:
  struct Entry {
    KeyIdentity who;
    std::int64_t expires_us = 0;
  };
  const Clock& clock_;
  const std::int64_t ttl_s_;
  const std::size_t max_sessions_;
  mutable std::mutex mu_;
  // Keyed by SHA-256 of the id, so that the map's comparisons leak nothing usable about ids.
  std::map<std::string, Entry> sessions_;
};

}  // namespace abrec
