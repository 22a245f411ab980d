#include "experiments/change_policy.h"

#include <doctest/doctest.h>

#include "test_util.h"

namespace abrec {

using testing::Contains;
using testing::Edit;
using testing::ReadText;

namespace {
Experiment Read(const std::string& text) {
  auto e = ReadText(text);
  REQUIRE(e.has_value());
  return *e;
}
}  // namespace

TEST_CASE("in ab_test a reshuffle is refused without a recorded reason") {
  const Experiment live = Read(testing::kValidYaml);
  const char* split = "split: {control: 0.5, treatment: 0.5}";
  const Experiment resplit = Read(Edit(split, "split: {control: 0.4, treatment: 0.6}"));
  const auto why = RefuseReshuffle(live, resplit);
  REQUIRE(why.has_value());
  CHECK(Contains(*why, "changing traffic.split"));
  CHECK(Contains(*why, "allow_reshuffle"));

  const Experiment with_reason = Read(Edit(
      split, "split: {control: 0.4, treatment: 0.6}\nallow_reshuffle: \"rebalance after outage\""));
  CHECK_FALSE(RefuseReshuffle(live, with_reason).has_value());
  // The same reason cannot be used twice.
  const Experiment again = Read(Edit(
      split, "split: {control: 0.3, treatment: 0.7}\nallow_reshuffle: \"rebalance after outage\""));
  CHECK(RefuseReshuffle(with_reason, again).has_value());

  CHECK(RefuseReshuffle(live, Read(Edit("experiment: recsys_v2_hybrid",
                                        "experiment: recsys_v2_hybrid\nseed: s2")))
            .has_value());
  CHECK(RefuseReshuffle(live, Read(Edit("primary: bind_rate",
                                        "primary: click_rate\n  secondary: [premium_per_user]",
                                        Edit("  secondary: [click_rate, premium_per_user]\n", ""))))
            .has_value());
  CHECK(RefuseReshuffle(live, Read(Edit("alpha: 0.05", "alpha: 0.01"))).has_value());
  CHECK(RefuseReshuffle(live, Read(Edit("policy: recommender, model: hybrid", "policy: random")))
            .has_value());
  CHECK(RefuseReshuffle(live, Read(Edit("range: [0.0, 1.0]", "range: [0.0, 0.5]"))).has_value());
}

TEST_CASE("ramping coverage up, editing text and stopping are allowed") {
  const Experiment live = Read(Edit("coverage: 1.0", "coverage: 0.1"));
  CHECK_FALSE(RefuseReshuffle(live, Read(Edit("coverage: 1.0", "coverage: 0.5"))).has_value());
  CHECK(RefuseReshuffle(Read(testing::kValidYaml), live).has_value());  // ramping down is not
  CHECK_FALSE(RefuseReshuffle(live, Read(Edit("coverage: 1.0", "coverage: 0.1",
                                              Edit("description: Hybrid", "description: New"))))
                  .has_value());
  const Experiment stop =
      Read(Edit("phase: ab_test", "phase: stopped", Edit("coverage: 1.0", "coverage: 0.7")));
  CHECK_FALSE(RefuseReshuffle(live, stop).has_value());
}

TEST_CASE("outside ab_test anything may change") {
  const Experiment shadow = Read(Edit("phase: ab_test", "phase: shadow"));
  CHECK_FALSE(RefuseReshuffle(shadow, Read(Edit("split: {control: 0.5, treatment: 0.5}",
                                                "split: {control: 0.2, treatment: 0.8}")))
                  .has_value());
}

TEST_CASE("changed fields are named for the audit log") {
  const Experiment a = Read(testing::kValidYaml);
  const Experiment b =
      Read(Edit("coverage: 1.0", "coverage: 0.5", Edit("phase: ab_test", "phase: rollout")));
  CHECK(ChangedFields(a, b) == std::vector<std::string>{"phase", "traffic.coverage"});
  CHECK(ChangedFields(a, a).empty());
}

}  // namespace abrec
