// Time comes through an injected Clock so that tests and the simulator are deterministic.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace abrec {

// Wall-clock time in microseconds since the Unix epoch. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t NowMicros() const = 0;
};

// The real clock (std::chrono::system_clock).
class SystemClock final : public Clock {
 public:
  std::int64_t NowMicros() const override;
  // A process-wide instance; it has no state, so sharing it is safe.
  static const SystemClock& Instance();
};

// A clock that only moves when told to; for tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t start_micros = 0) : now_(start_micros) {}
  std::int64_t NowMicros() const override { return now_.load(); }
  void Advance(std::int64_t micros) { now_ += micros; }
  void Set(std::int64_t micros) { now_ = micros; }

 private:
  std::atomic<std::int64_t> now_;
};

// RFC 3339 UTC with microseconds, e.g. "2026-11-29T01:28:00.000000Z".
std::string FormatRfc3339(std::int64_t micros_since_epoch);

// Parses an RFC 3339 date-time ("2026-11-29T01:28:00Z", fractions to microseconds, "Z" or
// a numeric offset) into microseconds since the epoch; std::nullopt when malformed.
std::optional<std::int64_t> ParseRfc3339(std::string_view text);

}  // namespace abrec
