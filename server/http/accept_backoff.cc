#include "server/http/accept_backoff.h"

#include <algorithm>
#include <cerrno>

namespace abrec {

AcceptBackoff::Step AcceptBackoff::Failure(Clock::time_point now, bool exhausted) {
  Step step;
  ++unlogged_;
  if (!in_run_ || now - last_log_ >= options_.log_period) {
    step.log_failures = unlogged_;
    unlogged_ = 0;
    last_log_ = now;
  }
  in_run_ = true;
  if (exhausted) {
    pause_ = pause_.count() == 0 ? options_.first_pause : std::min(pause_ * 2, options_.max_pause);
    step.pause = pause_;
  }
  return step;
}

std::uint64_t AcceptBackoff::Success() {
  const std::uint64_t unlogged = unlogged_;
  unlogged_ = 0;
  in_run_ = false;
  pause_ = std::chrono::milliseconds(0);
  return unlogged;
}

bool IsResourceExhaustion(int errno_value) {
  return errno_value == EMFILE || errno_value == ENFILE || errno_value == ENOBUFS ||
         errno_value == ENOMEM;
}

}  // namespace abrec
