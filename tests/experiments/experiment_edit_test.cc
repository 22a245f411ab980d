#include "experiments/experiment_edit.h"

#include <doctest/doctest.h>

#include "experiments/change_policy.h"
#include "experiments/experiment_reader.h"

namespace abrec {
namespace {

constexpr const char* kYaml = R"(# notes the PM keeps
experiment: edit_me
description: "a test"   # trailing comment
phase: shadow           # shadow first
traffic: {coverage: 1.0, split: {control: 0.5, treatment: 0.5}}
variants:
  control: {policy: legacy_rules}
  treatment: {policy: recommender, model: hybrid}
metrics: {primary: bind_rate}
)";

Experiment Read(const std::string& text) {
  auto tree = ParseConfigText(text, "t.yaml", ParseLimits{});
  REQUIRE(tree);
  auto e = ReadExperiment(*tree, "t.yaml");
  REQUIRE(e);
  return *e;
}

TEST_CASE("the phase is replaced in place and nothing else changes") {
  auto out = SetTopLevelScalar(kYaml, "t.yaml", "phase", "ab_test", ParseLimits{});
  REQUIRE(out);
  std::string expected = kYaml;
  expected.replace(expected.find("phase: shadow "), 14, "phase: ab_test ");
  CHECK(*out == expected);
  CHECK(ChangedFields(Read(kYaml), Read(*out)) == std::vector<std::string>{"phase"});
}

TEST_CASE("a missing key is inserted after the experiment key, keeping the indentation") {
  std::string text = kYaml;
  text.erase(text.find("phase: shadow           # shadow first\n"), 38);
  auto out = SetTopLevelScalar(text, "t.yaml", "phase", "stopped", ParseLimits{});
  REQUIRE(out);
  CHECK(out->find("experiment: edit_me\nphase: stopped\ndescription:") != std::string::npos);
  CHECK(Read(*out).phase == Phase::kStopped);
}

TEST_CASE("quoted values keep their quotes; JSON documents stay JSON") {
  auto quoted = SetTopLevelScalar("experiment: q\nphase: 'shadow'\n", "t.yaml", "phase", "rollout",
                                  ParseLimits{});
  REQUIRE(quoted);
  CHECK(*quoted == "experiment: q\nphase: 'rollout'\n");
  const std::string json =
      "{\n  \"experiment_name\": \"J\",\n  \"phase\": \"shadow\",\n  \"x\": 1\n}\n";
  auto replaced = SetTopLevelScalar(json, "t.json", "phase", "ab_test", ParseLimits{});
  REQUIRE(replaced);
  CHECK(*replaced ==
        "{\n  \"experiment_name\": \"J\",\n  \"phase\": \"ab_test\",\n  \"x\": 1\n}\n");
  auto inserted = SetTopLevelScalar("{\"experiment_name\": \"J\"}", "t.json", "phase", "stopped",
                                    ParseLimits{});
  REQUIRE(inserted);
  CHECK(*inserted == "{\"phase\": \"stopped\", \"experiment_name\": \"J\"}");
}

TEST_CASE("values that are not scalars, and documents that are not maps, are refused") {
  auto list = SetTopLevelScalar("experiment: q\nphase: [a, b]\n", "t.yaml", "phase", "ab_test",
                                ParseLimits{});
  REQUIRE_FALSE(list);
  CHECK(list.error().front().line == 2);
  CHECK_FALSE(SetTopLevelScalar("- a\n- b\n", "t.yaml", "phase", "ab_test", ParseLimits{}));
  CHECK_FALSE(SetTopLevelScalar("a: [\n", "t.yaml", "phase", "ab_test", ParseLimits{}));
}

TEST_CASE("a multi-byte value before the key on the same line (yaml-cpp counts bytes)") {
  auto out = SetTopLevelScalar("{\"description\": \"é\", \"phase\": \"shadow\"}", "t.json", "phase",
                               "ab_test", ParseLimits{});
  REQUIRE(out);
  CHECK(*out == "{\"description\": \"é\", \"phase\": \"ab_test\"}");
}

TEST_CASE("a value with YAML syntax in it stays one scalar (issue 14: rollout_variant injection)") {
  const ParseLimits limits;
  for (const std::string& value :
       {std::string("treatment\nowner: evil@example.com"), std::string("a: b # c"),
        std::string("x\x1b[31m'\"y"), std::string("{ evil: 1 }")}) {
    CAPTURE(value);
    // Inserted (absent key), replacing a plain value, a quoted one, and in a JSON document.
    for (const std::string& text :
         {std::string("experiment: q\nphase: shadow\nowner: pm@example.com\n"),
          std::string("experiment: q\nrollout_variant: control\nowner: pm@example.com\n"),
          std::string("experiment: q\nrollout_variant: 'control'\nowner: pm@example.com\n"),
          std::string("{\"experiment\": \"q\", \"owner\": \"pm@example.com\"}")}) {
      CAPTURE(text);
      auto edited = SetTopLevelScalar(text, "t.yaml", "rollout_variant", value, limits);
      REQUIRE(edited);
      auto tree = ParseConfigText(*edited, "t.yaml", limits);
      REQUIRE(tree);
      REQUIRE(tree->Find("rollout_variant"));
      CHECK(tree->Find("rollout_variant")->value == value);
      REQUIRE(tree->Find("owner"));
      CHECK(tree->Find("owner")->value == "pm@example.com");
    }
  }
}

}  // namespace
}  // namespace abrec
