// A Platform and Router over a temporary folder, built once per fuzzing process: the
// in-process service of tests/support/service_fixture.h (one experiment "exp" on portal_home, from
// fuzz/corpus/experiment_reader/seed_minimal.yaml, no model),
// with a fixed clock so that event timestamps near 2026-12-01 are inside the window.
#pragma once

#include "server/http/metrics.h"
#include "platform/platform.h"
#include "server/router.h"

namespace abrec::fuzz {

// 2026-12-01T00:00:00Z, the clock of the fuzzing platform.
inline constexpr std::int64_t kFuzzNowMicros = 1'796'083'200'000'000;

struct FuzzPlatform {
  Platform& platform;
  const Router& router;
};

// The process's platform, created on first use under $TMPDIR/abrec-fuzz-PID (removed at
// exit); aborts when it cannot be opened. Not thread-safe: fuzz targets run on one thread.
FuzzPlatform GetFuzzPlatform();

}  // namespace abrec::fuzz
