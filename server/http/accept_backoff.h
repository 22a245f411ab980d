// What the listener does when accept() fails. For want of descriptors or memory (EMFILE,
// ENFILE, ENOBUFS, ENOMEM) retrying at once only spins: the pending connection stays in the
// backlog and fails again. So the listener pauses, 50 ms doubling to 1 s, and logs one line
// per period with the number of failures instead of one line per failure.
#pragma once

#include <chrono>
#include <cstdint>

namespace abrec {

class AcceptBackoff {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    std::chrono::milliseconds first_pause{50};  // after the first failure of a run
    std::chrono::milliseconds max_pause{1000};  // the doubling stops here
    // At most one log line per period (and one when the first failure of a run occurs).
    std::chrono::milliseconds log_period{1000};
  };

  struct Step {
    std::chrono::milliseconds pause{0};  // before the next accept
    std::uint64_t log_failures = 0;      // > 0: log a line counting this many failures
  };

  AcceptBackoff() : AcceptBackoff(Options{}) {}
  explicit AcceptBackoff(const Options& options) : options_(options) {}

  // Records a failure at `now`. `exhausted`: for want of descriptors or memory, which pauses;
  // any other failure (a connection aborted before it was accepted) retries at once. Pure
  // state: one caller at a time.
  Step Failure(Clock::time_point now, bool exhausted);

  // Records a successful accept; returns the failures of the run not yet logged (to log
  // once as the run ends) and starts afresh.
  std::uint64_t Success();

 private:
  Options options_;
  std::chrono::milliseconds pause_{0};
  std::uint64_t unlogged_ = 0;
  bool in_run_ = false;
  Clock::time_point last_log_{};
};

// True for the accept() errors that mean the process or system is out of descriptors or
// memory: EMFILE, ENFILE, ENOBUFS, ENOMEM (`errno_value` is the system error number).
bool IsResourceExhaustion(int errno_value);

}  // namespace abrec
