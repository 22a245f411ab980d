// The descriptor limit the service needs: one per connection (limits.max_connections) plus
// a reserve for everything else.
#pragma once

#include <cstdint>

#include "base/error.h"

namespace abrec {

// Descriptors kept apart from connections: stdio, the listener, epoll and its eventfd, the
// signal pipe, the event and candidate databases with their WAL and shared-memory files, the
// audit log, the experiments folder being read, model files being loaded, a Redis socket and
// the sockets accepted before max_connections closes them. `abrec serve` uses about 25 of
// them at rest; 64 leaves room for reloads.
inline constexpr std::uint64_t kReservedFds = 64;

// Fails with kFailedPrecondition, naming limits.max_connections, when `fd_limit` cannot hold
// max_connections + kReservedFds. Pure.
Result<void> CheckFdLimit(std::uint64_t fd_limit, int max_connections);

// Raises the soft RLIMIT_NOFILE to the hard limit (capped by fs.nr_open when the hard limit is
// unlimited), then checks it with CheckFdLimit. Returns the soft limit now in force. Call
// once at start, before threads that open files exist.
Result<std::uint64_t> RaiseFdLimit(int max_connections);

}  // namespace abrec
