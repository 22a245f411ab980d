#include "base/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

namespace abrec {
namespace {

Error IoError(const std::string& what, const std::string& path) {
  return Error{ErrorCode::kIo, fmt::format("cannot {} {}: {}", what, path, std::strerror(errno)),
               ""};
}

}  // namespace

Result<int> OpenPrivateFile(const std::string& path, int flags) {
  // O_EXCL first, to know whether this call created the file: only then is its mode set.
  int fd = ::open(path.c_str(), flags | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    if (::fchmod(fd, 0600) != 0) {  // the umask may have removed the owner's bits
      Error e = IoError("set the mode of", path);
      ::close(fd);
      return std::unexpected(std::move(e));
    }
    return fd;
  }
  if (errno != EEXIST) return std::unexpected(IoError("create", path));
  fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return std::unexpected(IoError("open", path));
  return fd;
}

Result<void> WriteFileAtomically(const std::string& path, std::string_view bytes, unsigned mode) {
  static std::atomic<unsigned> counter{0};
  const std::filesystem::path target(path);
  const std::filesystem::path folder =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  const std::string tmp = (folder / fmt::format(".{}.tmp-{}-{}", target.filename().string(),
                                                ::getpid(), counter.fetch_add(1)))
                              .string();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected(IoError("create", tmp));
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  Result<void> result;
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) {
    result = std::unexpected(IoError("set the mode of", tmp));
  } else if (written != bytes.size()) {
    result = std::unexpected(IoError("write", tmp));
  } else if (::fsync(fd) != 0) {
    result = std::unexpected(IoError("sync", tmp));
  }
  ::close(fd);
  if (result && ::rename(tmp.c_str(), path.c_str()) != 0) {
    result = std::unexpected(IoError("replace", path));
  }
  if (!result) {
    ::unlink(tmp.c_str());
    return result;
  }
  // The rename itself must reach the disk: sync the folder's entry.
  if (const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return {};
}

}  // namespace abrec
