#include "experiments/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

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
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    return std::unexpected(
        Error{ErrorCode::kIo,
              fmt::format("cannot open audit log {}: {}", path_, std::strerror(errno)), ""});
  }
  const ssize_t n = ::write(fd, line.data(), line.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (n != static_cast<ssize_t>(line.size()) || !synced) {
    return std::unexpected(
        Error{ErrorCode::kIo, fmt::format("cannot write audit log {}", path_), ""});
  }
  return {};
}

}  // namespace abrec
