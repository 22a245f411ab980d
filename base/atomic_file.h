// Replacing a file so that readers see the old bytes or the new ones, never a mixture, and
// the new ones survive a crash once the call returns: a temporary file in the same folder
// (named ".NAME.tmp-…", which the experiment watcher ignores), fsync, rename, fsync of the
// folder.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace abrec {

// The new file gets exactly `mode` (not reduced by the umask; 0600 for secrets). Errors: kIo
// naming the path and the system's reason. The temporary file is removed on failure; the old
// file is untouched.
Result<void> WriteFileAtomically(const std::string& path, std::string_view bytes,
                                 unsigned mode = 0644);

}  // namespace abrec
