// The audit log of experiment definitions: one JSON object per line, appended and synced
// (fsync) for every accepted (and every refused) change; the file is created 0600. One
// write(2) per record on an O_APPEND descriptor: a record is never interleaved with another.
// Thread-safe.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/error.h"

namespace abrec {

struct AuditEntry {
  // "created", "changed", "removed", "refused" (the registry, for every file), and
  // "admin_put", "phase_changed", "admin_refused" (the lifecycle API, with actor and reason)
  std::string action{};
  std::string experiment{};
  std::string file{};
  std::string phase{};
  std::vector<std::string> changed{};  // names of the changed fields
  std::string reason{};                // allow_reshuffle, or why it was refused
  std::string content_hash{};
  std::string actor{};  // who asked: "admin", "auto_stop"; empty for a file edit
};

class AuditLog {
 public:
  // path: the file to append to (its folder is created). Empty: entries are only counted.
  AuditLog(std::string path, const Clock& clock) : path_(std::move(path)), clock_(clock) {}

  // Appends one line and syncs it. An I/O failure is returned: a change through the admin
  // API is then not made (platform/lifecycle.h); the registry logs it for a file edit.
  Result<void> Append(const AuditEntry& entry);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const Clock& clock_;
  std::mutex mu_;
};

}  // namespace abrec
