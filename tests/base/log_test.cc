#include "base/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include <doctest/doctest.h>

namespace abrec {
namespace {

// What LogLine writes for `message`, without its time and level.
std::string Logged(std::string_view message) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(fds[1], STDERR_FILENO);
  LogLine(LogLevel::kError, message);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  const auto at = out.find(" ERROR ");
  REQUIRE(at != std::string::npos);
  return out.substr(at + 7);
}

TEST_CASE("control characters in a log message are escaped, so no line can be forged") {
  CHECK(Logged("plain text, ünïcode €") == "plain text, ünïcode €\n");
  CHECK(Logged("ok\n2026-12-07T00:00:00Z ERROR forged") ==
        "ok\\n2026-12-07T00:00:00Z ERROR forged\n");
  CHECK(Logged("a\rb\tc") == "a\\rb\\tc\n");
  CHECK(Logged("\x1b[2J\x07") == "\\x1b[2J\\x07\n");
  CHECK(Logged(std::string_view("nul\0del\x7f", 8)) == "nul\\x00del\\x7f\n");
}

}  // namespace
}  // namespace abrec
