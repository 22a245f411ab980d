#include "experiments/experiment_reader.h"

#include <doctest/doctest.h>

#include "test_util.h"

namespace abrec {

using testing::Contains;
using testing::Edit;
using testing::Messages;
using testing::ReadText;

TEST_CASE("the DESIGN.md example reads completely") {
  auto e = ReadText(testing::kValidYaml);
  REQUIRE_MESSAGE(e.has_value(), Messages(e.error()));
  CHECK(e->key == "recsys_v2_hybrid");
  CHECK(e->HashSeed() == "recsys_v2_hybrid");
  CHECK(e->phase == Phase::kAbTest);
  CHECK(e->surface == "portal_home");
  REQUIRE(e->variants.size() == 2);
  CHECK(e->variants[0].name == "control");
  CHECK(e->variants[0].policy == Policy::kLegacyRules);
  CHECK(e->variants[1].model == "hybrid");
  CHECK(e->variants[1].weight == 0.5);
  REQUIRE(e->ns.has_value());
  CHECK(e->ns->name == "portal_recs");
  CHECK(e->metrics.primary == "bind_rate");
  CHECK(e->metrics.secondary == std::vector<std::string>{"click_rate", "premium_per_user"});
  REQUIRE(e->metrics.guardrails.size() == 2);
  CHECK(e->metrics.guardrails[0].max == 200);
  CHECK(e->metrics.guardrails[1].min_relative_change == -0.02);
  CHECK(e->analysis.tuning_n == 5000);
  CHECK(e->fairness.attributes == std::vector<std::string>{"sex", "age_band"});
  CHECK(e->RolloutVariant() == "treatment");
  CHECK(e->line == 1);
}

TEST_CASE("premium capping is configured per experiment and validated") {
  auto e = ReadText(Edit("mde: 0.05}", "mde: 0.05, premium_cap_quantile: 0.99}"));
  REQUIRE(e.has_value());
  CHECK(e->analysis.premium_cap_quantile == 0.99);
  auto bad = ReadText(Edit("mde: 0.05}", "mde: 0.05, premium_cap_quantile: 0.2}"));
  REQUIRE_FALSE(bad.has_value());
  CHECK(Contains(Messages(bad.error()), "analysis.premium_cap_quantile: 0.2 is out of range"));
  CHECK(ReadText(Edit("mde: 0.05}", "mde: 0.05}"))->analysis.premium_cap_quantile == 0);
}

TEST_CASE("guardrails: max_decrease, non-inferiority, and the planned horizon") {
  auto e = ReadText(Edit("- {metric: bind_rate, min_relative_change: -0.02}",
                         "- {metric: bind_rate, max_decrease: 0.02}\n"
                         "    - {metric: premium_per_user, max_decrease: 0.05, type: "
                         "non_inferiority}",
                         Edit("mde: 0.05}", "mde: 0.05, planned_users: 40000}")));
  REQUIRE_MESSAGE(e.has_value(), Messages(e.error()));
  REQUIRE(e->metrics.guardrails.size() == 3);
  CHECK(e->metrics.guardrails[1].type == GuardrailType::kHarm);
  CHECK(e->metrics.guardrails[1].min_relative_change == -0.02);
  CHECK(e->metrics.guardrails[2].type == GuardrailType::kNonInferiority);
  CHECK(e->metrics.guardrails[2].min_relative_change == -0.05);
  CHECK(e->analysis.planned_users == 40'000);
  // A non-inferiority guardrail needs its margin, and takes no other limit.
  auto no_margin = ReadText(Edit("- {metric: bind_rate, min_relative_change: -0.02}",
                                 "- {metric: bind_rate, type: non_inferiority}"));
  REQUIRE_FALSE(no_margin.has_value());
  CHECK(Contains(Messages(no_margin.error()), "metrics.guardrails[1].max_decrease: required"));
  auto both = ReadText(Edit("- {metric: bind_rate, min_relative_change: -0.02}",
                            "- {metric: bind_rate, min_relative_change: -0.02, type: "
                            "non_inferiority, max_decrease: 0.02}"));
  REQUIRE_FALSE(both.has_value());
  CHECK(Contains(Messages(both.error()), "takes its margin as max_decrease"));
  auto type = ReadText(Edit("- {metric: bind_rate, min_relative_change: -0.02}",
                            "- {metric: bind_rate, max_decrease: 0.02, type: noninferior}"));
  REQUIRE_FALSE(type.has_value());
  CHECK(Contains(Messages(type.error()), "\"noninferior\" is not a known guardrail type"));
  auto latency = ReadText(Edit("- {metric: latency_p99_ms, max: 200}",
                               "- {metric: latency_p99_ms, max_decrease: 0.1}"));
  REQUIRE_FALSE(latency.has_value());
  CHECK(Contains(Messages(latency.error()), "latency_p99_ms is an operational threshold"));
  auto planned = ReadText(Edit("mde: 0.05}", "mde: 0.05, planned_users: -3}"));
  REQUIRE_FALSE(planned.has_value());
  CHECK(Contains(Messages(planned.error()), "analysis.planned_users"));
}

TEST_CASE("variants keep the order they are written in") {
  auto e = ReadText(Edit(
      "  control:   {policy: legacy_rules}\n  treatment: {policy: recommender, model: hybrid}\n",
      "  treatment: {policy: recommender}\n  control:   {policy: legacy_rules}\n"));
  REQUIRE(e.has_value());
  CHECK(e->variants[0].name == "treatment");
  CHECK(e->ControlIndex() == 1);
}

TEST_CASE("an unknown key is reported at its position with a suggestion") {
  auto e = ReadText(Edit("traffic:", "trafic:"));
  REQUIRE_FALSE(e.has_value());
  const std::string m = Messages(e.error());
  CHECK(Contains(m,
                 "exp.yaml:6:1: trafic: unknown key \"trafic\"; allowed: experiment, description"));
  CHECK(Contains(m, "(did you mean \"traffic\"?)"));
  CHECK(Contains(m, "traffic: required"));
}

TEST_CASE("each invalid field gets its own message saying what is allowed") {
  struct Case {
    std::string from, to, expected;
  };
  const Case cases[] = {
      {"split: {control: 0.5, treatment: 0.5}", "split: {control: 0.5, treatment: 0.4}",
       "exp.yaml:8:10: traffic.split: weights sum to 0.9; they must sum to 1"},
      {"split: {control: 0.5, treatment: 0.5}", "split: {control: 0.5, treatmnt: 0.5}",
       "traffic.split.treatmnt: \"treatmnt\" is not a variant; variants: control, treatment (did "
       "you mean \"treatment\"?)"},
      {"coverage: 1.0", "coverage: 1.5",
       "exp.yaml:7:13: traffic.coverage: 1.5 is out of range; expected a number from 0 to 1"},
      {"coverage: 1.0", "coverage: \"0.5\"",
       "traffic.coverage: expected a number from 0 to 1, got a string \"0.5\""},
      {"primary: bind_rate", "primary: bind_rat",
       "metrics.primary: \"bind_rat\" is not a known statistical metric; allowed: click_rate, "
       "bind_rate"},
      {"secondary: [click_rate, premium_per_user]", "secondary: [click_rate, premium_lift]",
       "metrics.secondary[1]: \"premium_lift\" is not a known statistical metric"},
      {"policy: legacy_rules}", "policy: legacy}",
       "variants.control.policy: \"legacy\" is not a known policy; allowed: legacy_rules, "
       "recommender, random, none (did you mean \"legacy_rules\"?)"},
      {"phase: ab_test", "phase: abtest",
       "exp.yaml:5:8: phase: \"abtest\" is not a known phase; allowed: shadow, ab_test, rollout, "
       "stopped (did you mean \"ab_test\"?)"},
      {"range: [0.0, 1.0]", "range: [0.6, 0.4]", "namespace.range: start must be below end"},
      {"alpha: 0.05", "alpha: 0.9", "analysis.alpha: 0.9 is out of range"},
      {"sequential: true", "sequential: yes",
       "analysis.sequential: expected true or false, got \"yes\""},
      {"- {metric: latency_p99_ms, max: 200}",
       "- {metric: latency_p99_ms, min_relative_change: -0.1}",
       "latency_p99_ms is an operational threshold; use max or min"},
      {"- {metric: bind_rate, min_relative_change: -0.02}", "- {metric: bind_rate, max: 3}",
       "bind_rate is tested against control; use min_relative_change, max_relative_change or "
       "max_decrease"},
      {"experiment: recsys_v2_hybrid", "experiment: \"bad key!\"",
       "experiment: \"bad key!\" is not a valid experiment key"},
      {"  control:   {policy: legacy_rules}\n", "  control:   {policy: legacy_rules, model: x}\n",
       "variants.control.model: only the recommender policy takes a model"},
      {"max_parity_gap: 0.10", "max_parity_gap: -1", "fairness.max_parity_gap: -1 is out of range"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.to);
    auto e = ReadText(Edit(c.from, c.to));
    REQUIRE_FALSE(e.has_value());
    const std::string m = Messages(e.error());
    CAPTURE(m);
    CHECK(Contains(m, c.expected));
  }
}

TEST_CASE("variant sets: control required, reserved names refused, every variant weighted") {
  auto no_control = ReadText(
      Edit("split: {control: 0.5, treatment: 0.5}", "split: {base: 0.5, treatment: 0.5}",
           Edit("  control:   {policy: legacy_rules}", "  base:   {policy: legacy_rules}")));
  REQUIRE_FALSE(no_control.has_value());
  CHECK(Contains(Messages(no_control.error()), "one variant must be named control"));

  auto reserved =
      ReadText(Edit("  treatment: {policy: recommender, model: hybrid}",
                    "  holdout: {policy: none}", Edit("treatment: 0.5}", "holdout: 0.5}")));
  REQUIRE_FALSE(reserved.has_value());
  CHECK(Contains(Messages(reserved.error()), "\"holdout\" is a platform bucket name"));

  auto missing = ReadText(Edit("split: {control: 0.5, treatment: 0.5}", "split: {control: 1.0}"));
  REQUIRE_FALSE(missing.has_value());
  CHECK(Contains(Messages(missing.error()), "variant \"treatment\" has no weight"));
}

TEST_CASE("every problem in a file is reported at once") {
  auto e = ReadText(Edit("phase: ab_test", "phase: live", Edit("coverage: 1.0", "coverage: 2")));
  REQUIRE_FALSE(e.has_value());
  CHECK(e.error().size() == 2);
}

TEST_CASE("rollout needs a variant to roll out") {
  auto e = ReadText(Edit("phase: ab_test", "phase: rollout\nrollout_variant: treatmen"));
  REQUIRE_FALSE(e.has_value());
  CHECK(Contains(Messages(e.error()), "rollout_variant: \"treatmen\" is not a variant"));
  auto ok = ReadText(Edit("phase: ab_test", "phase: rollout\nrollout_variant: control"));
  REQUIRE(ok.has_value());
  CHECK(ok->RolloutVariant() == "control");
}

TEST_CASE("the seed document's JSON form maps onto the schema") {
  auto e = ReadText(R"({
  "experiment_name": "RecSys_V2_Hybrid",
  "traffic_split": 0.3,
  "variants": {"control": "Legacy_Rule_Based", "treatment": "Hybrid_LightFM"},
  "metrics": ["click_rate", "bind_rate", "premium_lift"]
})",
                    "seed.json");
  REQUIRE_MESSAGE(e.has_value(), Messages(e.error()));
  CHECK(e->key == "RecSys_V2_Hybrid");
  CHECK(e->phase == Phase::kShadow);
  CHECK(e->surface.empty());  // the registry fills in the platform default
  REQUIRE(e->variants.size() == 2);
  CHECK(e->variants[0].name == "control");
  CHECK(e->variants[0].policy == Policy::kLegacyRules);
  CHECK(e->variants[0].weight == doctest::Approx(0.7));
  CHECK(e->variants[1].policy == Policy::kRecommender);
  CHECK(e->variants[1].model == "hybrid");
  CHECK(e->variants[1].weight == doctest::Approx(0.3));
  CHECK(e->metrics.primary == "click_rate");
  CHECK(e->metrics.secondary == std::vector<std::string>{"bind_rate", "premium_per_user"});
  CHECK(e->line == 2);
}

TEST_CASE("the JSON form is validated with positions too") {
  auto e = ReadText(R"({
  "experiment_name": "X",
  "traffic_split": 1.5,
  "variants": {"control": "Legacy_Rule_Based", "treatment": "Hybrid_LightFN"},
  "metrics": ["click_rate"],
  "owner_email": "a@b"
})",
                    "seed.json");
  REQUIRE_FALSE(e.has_value());
  const std::string m = Messages(e.error());
  CHECK(Contains(m, "seed.json:3:20: traffic_split: 1.5 is out of range"));
  CHECK(Contains(m, "variants.treatment: \"Hybrid_LightFN\" is not a known policy"));
  CHECK(Contains(m, "seed.json:6:3: owner_email: unknown key"));
}

}  // namespace abrec
