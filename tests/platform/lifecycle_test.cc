#include "platform/lifecycle.h"

#include <doctest/doctest.h>

namespace abrec {
namespace {

TEST_CASE("phase moves: forward one step, stop from anywhere, restart from stopped") {
  const Phase all[] = {Phase::kShadow, Phase::kAbTest, Phase::kRollout, Phase::kStopped};
  int allowed = 0;
  for (Phase from : all) {
    for (Phase to : all) {
      const auto why = RefusePhaseMove(from, to);
      const bool expected = from == to || to == Phase::kStopped ||
                            (from == Phase::kShadow && to == Phase::kAbTest) ||
                            (from == Phase::kAbTest && to == Phase::kRollout) ||
                            (from == Phase::kStopped && to == Phase::kShadow);
      CHECK_MESSAGE(why.has_value() != expected, PhaseName(from), " -> ", PhaseName(to));
      if (why) CHECK(why->find("may move to") != std::string::npos);
      allowed += expected;
    }
  }
  CHECK(allowed == 10);
  CHECK(*RefusePhaseMove(Phase::kShadow, Phase::kRollout) ==
        "an experiment in shadow cannot move to rollout; it may move to ab_test or stopped");
}

}  // namespace
}  // namespace abrec
