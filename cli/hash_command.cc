// abrec hash --seed S [--version 1|2] ID...
#include <cstdio>

#include <fmt/format.h>

#include "assignment/hash.h"
#include "cli/args.h"
#include "cli/commands.h"

namespace abrec {

namespace {
constexpr const char* kHelp = R"(usage: abrec hash --seed SEED [--version 1|2] ID...

Prints GrowthBook's hash of each ID with SEED, one line per id: version 2 (default) with
4 decimals, version 1 with 3. An id that is not valid UTF-8 is an error (exit status 1).
)";
}  // namespace

int HashCommand(const CommandArgs& argv) {
  auto args = ParseCommandArgs("hash", argv, {"seed", "version"}, kHelp);
  if (!args) return args.error();
  const auto seed = args->Get("seed");
  if (!seed) {
    fmt::print(stderr, "abrec hash: --seed is required\n{}", kHelp);
    return 2;
  }
  const std::string version = args->Get("version").value_or("2");
  if (version != "1" && version != "2") {
    fmt::print(stderr, "abrec hash: --version must be 1 or 2, got \"{}\"\n", version);
    return 2;
  }
  if (args->positionals.empty()) {
    fmt::print(stderr, "abrec hash: give at least one ID\n{}", kHelp);
    return 2;
  }
  const int v = version == "1" ? 1 : 2;
  std::string out;
  bool ok = true;
  for (std::size_t i = 0; i < args->positionals.size(); ++i) {
    const auto h = Hash(*seed, args->positionals[i], v);
    if (!h) {
      fmt::print(stderr, "abrec hash: id {} (argument {}): {}\n", i + 1, i + 1, h.error().message);
      ok = false;
      continue;
    }
    out += v == 2 ? fmt::format("{:.4f}\n", *h) : fmt::format("{:.3f}\n", *h);
  }
  if (!ok) return 1;
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace abrec
