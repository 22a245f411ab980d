#include "cli/args.h"

#include <doctest/doctest.h>

namespace abrec {

TEST_CASE("command-line options, flags and positionals") {
  auto a = ParseArgs({"--seed", "", "--version=1", "a", "--help", "--", "--b"}, {"seed", "version"},
                     {"help"});
  REQUIRE(a.has_value());
  CHECK(a->Get("seed") == "");
  CHECK(a->Get("version") == "1");
  CHECK(a->Has("help"));
  CHECK(a->positionals == std::vector<std::string>{"a", "--b"});
  CHECK_FALSE(ParseArgs({"--seed"}, {"seed"}, {}).has_value());
  auto unknown = ParseArgs({"--sed", "x"}, {"seed"}, {});
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().message == "unknown option --sed");
}

}  // namespace abrec
