// abrec backup [--config FILE] PATH
#include <filesystem>

#include <fmt/format.h>

#include "eventstore/open_store.h"
#include "platform/platform_config.h"
#include "cli/args.h"
#include "cli/command_config.h"
#include "cli/commands.h"

namespace abrec {

namespace {
constexpr const char* kHelp = R"(usage: abrec backup [--config FILE] PATH

Copies the event database (storage.path of the config, default config/abrec.yaml) to PATH
with SQLite's online backup: safe while the service runs and writes. PATH must not exist.
The copy is checked with PRAGMA integrity_check.
)";
}  // namespace

int BackupCommand(const CommandArgs& argv) {
  auto args = ParseCommandArgs("backup", argv, {"config"}, kHelp);
  if (!args) return args.error();
  if (args->positionals.size() != 1) {
    fmt::print(stderr, "abrec backup: give exactly one PATH\n{}", kHelp);
    return 2;
  }
  const std::string target = args->positionals[0];
  auto config = CommandConfig(*args);
  if (!config) return config.error();
  std::error_code ec;
  if (std::filesystem::exists(target, ec)) {
    fmt::print(stderr, "abrec backup: {} exists; choose a new path\n", target);
    return 1;
  }
  if (!std::filesystem::exists(config->storage.path, ec)) {
    fmt::print(stderr, "abrec backup: no database at {} (storage.path)\n", config->storage.path);
    return 1;
  }
  if (auto ok = BackupStore(config->storage.path, target); !ok) {
    fmt::print(stderr, "abrec backup: {}\n", ok.error().message);
    return 1;
  }
  fmt::print("backed up {} to {} ({} bytes, integrity ok)\n", config->storage.path, target,
             std::filesystem::file_size(target, ec));
  return 0;
}

}  // namespace abrec
