// Replacing a file so that readers see the old bytes or the new ones, never a mixture, and
// the new ones survive a crash once the call returns: a temporary file in the same folder
// (named ".NAME.tmp-…", which the experiment watcher ignores), fsync, rename, fsync of the
// folder.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace abrec {

// The file gets `mode` whatever the process's umask (0600 for files only this service may
// read: accepted copies, keys). Errors: kIo naming the path and the system's reason. The
// temporary file is removed on failure; the old file is untouched.
Result<void> WriteFileAtomically(const std::string& path, std::string_view bytes,
                                 unsigned mode = 0644);

// Opens `path` with `flags` (O_WRONLY, O_APPEND, ...), creating it when missing with mode
// 0600 whatever the umask; an existing file keeps its mode. Returns the descriptor, which
// the caller closes. For files holding customer data or secrets: databases, the audit log.
// Errors: kIo naming the path and the system's reason.
Result<int> OpenPrivateFile(const std::string& path, int flags);

}  // namespace abrec
