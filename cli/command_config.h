// The platform config a subcommand reads (--config FILE, default config/abrec.yaml), and the
// read-only platform over it: each with its errors printed to stderr the one way.
#pragma once

#include <expected>
#include <memory>
#include <string_view>

#include "platform/platform_config.h"
#include "cli/args.h"
#include "platform/platform.h"

namespace abrec {

// The config of --config; on error, every diagnostic (FILE:LINE:COL: message) printed and
// exit status 1 returned.
std::expected<PlatformConfig, int> CommandConfig(const Args& args);

// A read-only platform (no event store writes, no service) over `config`; on error,
// "abrec COMMAND: message" printed and exit status 1 returned.
std::expected<std::unique_ptr<Platform>, int> ReadOnlyPlatform(std::string_view command,
                                                               PlatformConfig config);

}  // namespace abrec
