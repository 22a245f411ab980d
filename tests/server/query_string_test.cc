#include "server/http/query_string.h"

#include <doctest/doctest.h>

namespace abrec {

namespace {
constexpr std::string_view kAllowed[] = {"user_id", "experiment", "log"};
}

TEST_CASE("queries decode percent-escapes and '+'") {
  auto q = ParseQuery("user_id=Jos%C3%A9+Z&experiment=a%2Fb&log=false", kAllowed);
  REQUIRE(q.has_value());
  CHECK(q->at("user_id") == "Jos\xC3\xA9 Z");
  CHECK(q->at("experiment") == "a/b");
  CHECK(q->at("log") == "false");
  CHECK(ParseQuery("", kAllowed)->empty());
  CHECK(ParseQuery("&&user_id=x&", kAllowed)->at("user_id") == "x");
  CHECK(ParseQuery("user_id", kAllowed)->at("user_id").empty());
}

TEST_CASE("malformed queries are errors naming the parameter") {
  auto bad = ParseQuery("user_id=%ZZ", kAllowed);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().field == "user_id");
  CHECK(bad.error().message.find("malformed percent-escape") != std::string::npos);
  CHECK_FALSE(ParseQuery("user_id=abc%4", kAllowed).has_value());
  CHECK_FALSE(ParseQuery("user_id=abc%", kAllowed).has_value());

  auto unknown = ParseQuery("usr_id=1", kAllowed);
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().field == "usr_id");
  CHECK(unknown.error().message ==
        "unknown query parameter \"usr_id\"; allowed: user_id, experiment, log (did you mean "
        "\"user_id\"?)");

  auto twice = ParseQuery("user_id=a&user_id=b", kAllowed);
  REQUIRE_FALSE(twice.has_value());
  CHECK(twice.error().message == "query parameter \"user_id\" is given more than once");
}

}  // namespace abrec
