#include "base/thread_priority.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace abrec {

void SetThisThreadNice(int nice) {
  if (nice == 0) return;
  // PRIO_PROCESS with a thread id applies to that thread alone (setpriority(2), "BUGS").
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice) != 0) {
    LogWarning("cannot set a thread's nice value to {}: {}", nice, std::strerror(errno));
  }
}

}  // namespace abrec
