#include "eventstore/counter_keys.h"

#include <doctest/doctest.h>

namespace abrec {

TEST_CASE("every counter name reads back as what built it, and as nothing else") {
  namespace ck = counter_keys;
  CHECK(ck::Product("pet") == "product|pet");
  CHECK(ck::ProductOf(ck::Product("pet")) == "pet");
  CHECK(ck::PhaseOf(ck::Phase("ab_test")) == "ab_test");
  CHECK(ck::SourceOf(ck::Source("server")) == "server");
  CHECK(ck::IsPerUser(ck::Source("server")));
  CHECK(ck::IsShadowLists(ck::ShadowLists()));
  CHECK(ck::IsShadowFallback(ck::ShadowFallback()));
  CHECK(ck::ShadowProductOf(ck::ShadowProduct("gadget")) == "gadget");
  const std::string violation = ck::ShadowViolation("funeral", "min_age 50");
  const auto v = ck::ShadowViolationOf(violation);
  REQUIRE(v.has_value());
  CHECK((v->product == "funeral" && v->rule == "min_age 50"));
  CHECK(ck::ShadowLatencyBinOf(ck::ShadowLatencyBin(17)) == 17);
  CHECK_FALSE(ck::ShadowLatencyBinOf("shadow|latency_bin|x").has_value());
  // Kinds do not bleed into each other.
  CHECK_FALSE(ck::ProductOf(ck::ShadowProduct("pet")).has_value());
  CHECK_FALSE(ck::ShadowProductOf(ck::Product("pet")).has_value());
  CHECK_FALSE(ck::FairnessOf(ck::Source("server")).has_value());
  CHECK_FALSE(ck::IsPerUser(ck::Product("pet")));
}

TEST_CASE("fairness names: the attribute is the first field, the product the last") {
  namespace ck = counter_keys;
  const std::string exposed_name = ck::FairnessExposed("region", "coast|north");
  const auto exposed = ck::FairnessOf(exposed_name);  // views into exposed_name
  REQUIRE(exposed.has_value());
  CHECK_FALSE(exposed->shown);
  CHECK((exposed->attribute == "region" && exposed->group == "coast|north"));
  const std::string shown_name = ck::FairnessShown("region", "coast|north", "pet");
  const auto shown = ck::FairnessOf(shown_name);
  REQUIRE(shown.has_value());
  CHECK(shown->shown);
  CHECK((shown->attribute == "region" && shown->group == "coast|north" && shown->product == "pet"));
  CHECK(ck::IsPerUser(ck::FairnessShown("sex", "F", "pet")));
  CHECK_FALSE(ck::FairnessOf("users|shown|sex").has_value());  // no group, no product
  CHECK(ck::IsLegacyFairness("shown|sex|F|pet"));
  CHECK_FALSE(ck::IsLegacyFairness(ck::FairnessShown("sex", "F", "pet")));
}

}  // namespace abrec
