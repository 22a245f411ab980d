#include "experiments/experiment_set.h"

#include <doctest/doctest.h>

#include "test_util.h"

namespace abrec {

using testing::Contains;
using testing::Edit;
using testing::Messages;
using testing::ReadText;

namespace {
Experiment WithNamespace(const std::string& key, const std::string& ns, double lo, double hi,
                         const std::string& surface = "portal_home") {
  auto e = ReadText(Edit("surface: portal_home", "surface: " + surface,
                         Edit("experiment: recsys_v2_hybrid", "experiment: " + key,
                              Edit("{name: portal_recs, range: [0.0, 1.0]}",
                                   "{name: " + ns + ", range: [" + std::to_string(lo) + ", " +
                                       std::to_string(hi) + "]}"))),
                    key + ".yaml");
  REQUIRE(e.has_value());
  return *e;
}
}  // namespace

TEST_CASE("duplicate keys across files name both places") {
  const Experiment a = WithNamespace("same", "portal", 0.0, 0.5);
  const Experiment b = WithNamespace("same", "portal", 0.5, 1.0);
  const Experiment* others[] = {&a};
  const auto d = CheckAgainstOthers(b, others);
  REQUIRE(d.size() == 1);
  CHECK(d[0].ToString() ==
        "same.yaml:1:13: experiment: duplicate experiment key \"same\": already defined at "
        "same.yaml:1:13");
}

TEST_CASE("experiments on one surface must use disjoint ranges of one namespace") {
  const Experiment a = WithNamespace("a", "portal", 0.0, 0.5);
  const Experiment disjoint = WithNamespace("b", "portal", 0.5, 1.0);
  const Experiment overlapping = WithNamespace("c", "portal", 0.4, 0.6);
  const Experiment other_ns = WithNamespace("d", "other", 0.6, 0.7);
  const Experiment other_surface = WithNamespace("e", "portal", 0.0, 1.0, "renewal_page");
  const Experiment* others[] = {&a};
  CHECK(CheckAgainstOthers(disjoint, others).empty());
  CHECK(CheckAgainstOthers(other_surface, others).empty());
  const auto d = CheckAgainstOthers(overlapping, others);
  REQUIRE(d.size() == 1);
  CHECK(d[0].field == "namespace");
  CHECK(Contains(d[0].message, "overlaps [0, 0.5) of \"a\""));
  REQUIRE(CheckAgainstOthers(other_ns, others).size() == 1);

  Experiment stopped = overlapping;
  stopped.phase = Phase::kStopped;
  CHECK(CheckAgainstOthers(stopped, others).empty());
}

TEST_CASE("an experiment without a namespace overlaps everything on its surface") {
  auto no_ns = ReadText(Edit("namespace: {name: portal_recs, range: [0.0, 1.0]}\n", ""), "n.yaml");
  REQUIRE(no_ns.has_value());
  const Experiment a = WithNamespace("a", "portal", 0.0, 0.1);
  const Experiment* others[] = {&a};
  const auto d = CheckAgainstOthers(*no_ns, others);
  REQUIRE(d.size() == 1);
  CHECK(Contains(d[0].message, "without a namespace range"));
}

TEST_CASE("surfaces are resolved against the platform config") {
  Surfaces c;
  c.file = "abrec.yaml";
  c.surfaces["portal_home"] = {};
  c.default_surface = "portal_home";
  auto e = ReadText(Edit("surface: portal_home\n", ""));
  REQUIRE(e.has_value());
  CHECK(ResolveSurface(*e, c).empty());
  CHECK(e->surface == "portal_home");
  auto bad = ReadText(Edit("surface: portal_home", "surface: checkout"));
  REQUIRE(bad.has_value());
  const auto d = ResolveSurface(*bad, c);
  REQUIRE(d.size() == 1);
  CHECK(Contains(d[0].ToString(),
                 "surface: \"checkout\" is not a surface of abrec.yaml; surfaces: portal_home"));
}

}  // namespace abrec
