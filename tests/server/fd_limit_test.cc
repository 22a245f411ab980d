#include "server/http/fd_limit.h"

#include <string>

#include <doctest/doctest.h>

namespace abrec {

TEST_CASE("max_connections must fit the fd limit with the reserve") {
  CHECK(CheckFdLimit(4096, 4000).has_value());
  CHECK(CheckFdLimit(4000 + kReservedFds, 4000).has_value());
  const auto refused = CheckFdLimit(1024, 10'000);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == ErrorCode::kFailedPrecondition);
  CHECK(refused.error().field == "limits.max_connections");
  CHECK(refused.error().message.find("10000") != std::string::npos);
  CHECK(refused.error().message.find("at most 960") != std::string::npos);
  CHECK_FALSE(CheckFdLimit(10, 1).has_value());
}

}  // namespace abrec
