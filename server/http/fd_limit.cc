#include "server/http/fd_limit.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

namespace abrec {

namespace {

// fs.nr_open: what setrlimit accepts for RLIMIT_NOFILE when the hard limit is unlimited.
rlim_t NrOpen() {
  std::ifstream f("/proc/sys/fs/nr_open");
  unsigned long long n = 0;
  return f >> n && n > 0 ? static_cast<rlim_t>(n) : static_cast<rlim_t>(1 << 20);
}

}  // namespace

Result<void> CheckFdLimit(std::uint64_t fd_limit, int max_connections) {
  const std::uint64_t needed = static_cast<std::uint64_t>(max_connections) + kReservedFds;
  if (needed <= fd_limit) return {};
  return std::unexpected(Error{
      ErrorCode::kFailedPrecondition,
      fmt::format("limits.max_connections is {}; with {} descriptors kept for files and threads "
                  "that needs {} file descriptors, but the limit (RLIMIT_NOFILE, ulimit -n, "
                  "raised to the hard limit) is {}: lower limits.max_connections to at most "
                  "{} or raise the hard limit",
                  max_connections, kReservedFds, needed, fd_limit,
                  fd_limit > kReservedFds ? fd_limit - kReservedFds : 0),
      "limits.max_connections"});
}

Result<std::uint64_t> RaiseFdLimit(int max_connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return std::unexpected(Error{
        ErrorCode::kIo, fmt::format("getrlimit(RLIMIT_NOFILE): {}", std::strerror(errno)), ""});
  }
  const rlim_t target = limit.rlim_max == RLIM_INFINITY ? NrOpen() : limit.rlim_max;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < target) {
    rlimit raised{target, limit.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit.rlim_cur = target;
  }
  const std::uint64_t soft = limit.rlim_cur == RLIM_INFINITY
                                 ? static_cast<std::uint64_t>(target)
                                 : static_cast<std::uint64_t>(limit.rlim_cur);
  if (auto ok = CheckFdLimit(soft, max_connections); !ok) return std::unexpected(ok.error());
  return soft;
}

}  // namespace abrec
