#include "server/http/json_body.h"

#include <doctest/doctest.h>

namespace abrec {

namespace {
HttpRequest Body(std::string body, std::string type = "application/json") {
  HttpRequest r;
  r.method = "POST";
  r.body = std::move(body);
  r.content_type = std::move(type);
  return r;
}
}  // namespace

TEST_CASE("JSON bodies: syntax, depth and content type") {
  CHECK(ParseJsonBody(Body(R"({"a": [1, {"b": "[[[["}]})"), 64).has_value());
  auto bad = ParseJsonBody(Body("{\"a\": }"), 64);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().field == "body");
  CHECK(bad.error().message.starts_with("the body is not valid JSON"));

  const std::string deep = std::string(10'000, '[') + std::string(10'000, ']');
  auto too_deep = ParseJsonBody(Body(deep), 64);
  REQUIRE_FALSE(too_deep.has_value());
  CHECK(too_deep.error().message == "JSON nesting deeper than 64 levels is not allowed");
  CHECK(ParseJsonBody(Body(std::string(64, '[') + std::string(64, ']')), 64).has_value());

  auto form = ParseJsonBody(Body("a=1", "application/x-www-form-urlencoded"), 64);
  REQUIRE_FALSE(form.has_value());
  CHECK(form.error().field == "content-type");
  CHECK(ParseJsonBody(Body("{}", "application/json; charset=utf-8"), 64).has_value());
  CHECK(ParseJsonBody(Body("{}", ""), 64).has_value());
  CHECK_FALSE(ParseJsonBody(Body(""), 64).has_value());
  CHECK_FALSE(ParseJsonBody(Body("{\"a\": \"\xFF\"}"), 64).has_value());  // invalid UTF-8
  auto overflow = ParseJsonBody(Body(R"({"premium": 1e309})"), 64);       // beyond a double
  REQUIRE_FALSE(overflow.has_value());
  CHECK(overflow.error().field == "body");
}

}  // namespace abrec
