#include "auth/sessions.h"

#include <algorithm>

#include <openssl/sha.h>

#include "base/secure_random.h"

namespace abrec {
namespace {

std::string Digest(std::string_view id) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(id.data()), id.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

}  // namespace

SessionStore::SessionStore(const Clock& clock, std::int64_t ttl_s, std::size_t max_sessions)
    : clock_(clock), ttl_s_(ttl_s), max_sessions_(std::max<std::size_t>(1, max_sessions)) {}

std::string SessionStore::Create(const KeyIdentity& who) {
  std::string id = SecureRandomHex(32);
  const std::int64_t now = clock_.NowMicros();
  std::lock_guard lock(mu_);
  std::erase_if(sessions_, [now](const auto& kv) { return kv.second.expires_us <= now; });
  while (sessions_.size() >= max_sessions_) {
    sessions_.erase(std::min_element(sessions_.begin(), sessions_.end(), [](auto& a, auto& b) {
      return a.second.expires_us < b.second.expires_us;
    }));
  }
  sessions_[Digest(id)] = Entry{who, now + ttl_s_ * 1'000'000};
  return id;
}

std::optional<KeyIdentity> SessionStore::Find(std::string_view id) const {
  if (id.size() != 64) return std::nullopt;
  const std::string digest = Digest(id);
  std::lock_guard lock(mu_);
  const auto it = sessions_.find(digest);
  if (it == sessions_.end() || it->second.expires_us <= clock_.NowMicros()) return std::nullopt;
  return it->second.who;
}

void SessionStore::Remove(std::string_view id) {
  const std::string digest = Digest(id);
  std::lock_guard lock(mu_);
  sessions_.erase(digest);
}

}  // namespace abrec
