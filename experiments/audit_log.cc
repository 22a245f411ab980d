#include "experiments/audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"

namespace abrec {

Result<void> AuditLog::Append(const AuditEntry& e) {
  if (path_.empty()) return {};
  nlohmann::json j = {{"time", FormatRfc3339(clock_.NowMicros())},
                      {"action", e.action},
                      {"experiment", e.experiment},
                      {"file", e.file},
                      {"phase", e.phase},
                      {"changed", e.changed},
                      {"reason", e.reason},
                      {"content_hash", e.content_hash}};
  if (!e.actor.empty()) j["actor"] = e.actor;
  const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard lock(mu_);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
  // 0600: the log names who changed what, and why.
  const auto opened = OpenPrivateFile(path_, O_WRONLY | O_APPEND);
  if (!opened) {
    return std::unexpected(
        Error{ErrorCode::kIo, fmt::format("audit log: {}", opened.error().message), ""});
  }
  const int fd = *opened;
  // A record is one write of the whole line: a short one is cut off again, so that a torn
  // record never runs into the next one.
  struct stat before {};
  const bool sized = ::fstat(fd, &before) == 0;
  const ssize_t n = ::write(fd, line.data(), line.size());
  const int write_errno = errno;
  if (n != static_cast<ssize_t>(line.size()) && n > 0 && sized) {
    (void)::ftruncate(fd, before.st_size);
  }
  const bool synced = n == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  const int sync_errno = errno;
  ::close(fd);
  if (!synced) {
    return std::unexpected(Error{ErrorCode::kIo,
                                 fmt::format("cannot write audit log {}: {}", path_,
                                             std::strerror(n != static_cast<ssize_t>(line.size())
                                                               ? (n < 0 ? write_errno : ENOSPC)
                                                               : sync_errno)),
                                 ""});
  }
  return {};
}

}  // namespace abrec
