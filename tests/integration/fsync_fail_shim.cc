// An LD_PRELOAD shim for test_durability.py: while the file named by ABREC_FAIL_SYNC_WHEN
// exists, fsync and fdatasync of every file whose path starts with ABREC_FAIL_SYNC_PREFIX
// (the event database, its WAL) fail with EIO, as they do after a write-back error on a
// failing disk. Everything else goes to the C library. For tests only; never linked into
// abrec.
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

using SyncFn = int (*)(int);

bool ShouldFail(int fd) {
  const char* trigger = std::getenv("ABREC_FAIL_SYNC_WHEN");
  const char* prefix = std::getenv("ABREC_FAIL_SYNC_PREFIX");
  struct stat st {};
  if (trigger == nullptr || prefix == nullptr || ::stat(trigger, &st) != 0) return false;
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char target[4096];
  const ssize_t n = ::readlink(link, target, sizeof target - 1);
  if (n <= 0) return false;
  return std::string_view(target, static_cast<std::size_t>(n)).starts_with(prefix);
}

int Call(const char* name, int fd) {
  if (ShouldFail(fd)) {
    errno = EIO;
    return -1;
  }
  auto real = reinterpret_cast<SyncFn>(::dlsym(RTLD_NEXT, name));
  return real ? real(fd) : (errno = ENOSYS, -1);
}

}  // namespace

extern "C" int fsync(int fd) { return Call("fsync", fd); }
extern "C" int fdatasync(int fd) { return Call("fdatasync", fd); }
