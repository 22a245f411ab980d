#include "server/http/accept_backoff.h"

#include <cerrno>
#include <vector>

#include <doctest/doctest.h>

namespace abrec {

using std::chrono::milliseconds;

TEST_CASE("accept pauses 50 ms doubling to 1 s while descriptors are exhausted") {
  AcceptBackoff backoff;
  AcceptBackoff::Clock::time_point now{};
  std::vector<long> pauses;
  for (int i = 0; i < 8; ++i) {
    const auto step = backoff.Failure(now, true);
    pauses.push_back(static_cast<long>(step.pause.count()));
    now += step.pause;
  }
  CHECK(pauses == std::vector<long>{50, 100, 200, 400, 800, 1000, 1000, 1000});
  backoff.Success();
  CHECK(backoff.Failure(now, true).pause == milliseconds(50));
  CHECK(backoff.Failure(now, false).pause == milliseconds(0));  // other errors retry at once
}

TEST_CASE("accept failures are logged once per period, with their count") {
  AcceptBackoff backoff;
  AcceptBackoff::Clock::time_point now{};
  CHECK(backoff.Failure(now, true).log_failures == 1);  // the first of a run at once
  std::uint64_t logged = 0;
  int lines = 0;
  // 10 s of failures every millisecond: one line per second, counting them all.
  for (int ms = 1; ms <= 10'000; ++ms) {
    const auto step = backoff.Failure(now + milliseconds(ms), false);
    if (step.log_failures > 0) ++lines;
    logged += step.log_failures;
  }
  CHECK(lines == 10);
  const std::uint64_t rest = backoff.Success();
  CHECK(logged + rest == 10'000);
  CHECK(backoff.Success() == 0);
  CHECK(backoff.Failure(now + milliseconds(10'001), true).log_failures == 1);  // a new run
}

TEST_CASE("descriptor and memory exhaustion are told apart from other accept errors") {
  CHECK(IsResourceExhaustion(EMFILE));
  CHECK(IsResourceExhaustion(ENFILE));
  CHECK(IsResourceExhaustion(ENOBUFS));
  CHECK(IsResourceExhaustion(ENOMEM));
  CHECK_FALSE(IsResourceExhaustion(ECONNABORTED));
  CHECK_FALSE(IsResourceExhaustion(EINTR));
}

}  // namespace abrec
