#include "cli/command_config.h"

#include <cstdio>

#include <fmt/format.h>

#include "base/clock.h"
#include "cli/commands.h"

namespace abrec {

std::expected<PlatformConfig, int> CommandConfig(const Args& args) {
  auto config = LoadPlatformConfig(args.Get("config").value_or(kDefaultConfig));
  if (!config) {
    for (const auto& d : config.error()) fmt::print(stderr, "{}\n", d.ToString());
    return std::unexpected(1);
  }
  return std::move(*config);
}

std::expected<std::unique_ptr<Platform>, int> ReadOnlyPlatform(std::string_view command,
                                                               PlatformConfig config) {
  auto platform = Platform::Open(std::move(config), SystemClock::Instance(), {.read_only = true});
  if (!platform) {
    fmt::print(stderr, "abrec {}: {}\n", command, platform.error().message);
    return std::unexpected(1);
  }
  return std::move(*platform);
}

}  // namespace abrec
