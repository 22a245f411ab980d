#include "configtree/config_tree.h"

#include <string>

#include <doctest/doctest.h>

namespace abrec {
namespace {

Diagnostic FirstError(const std::string& text, ParseLimits limits = {}) {
  auto r = ParseConfigText(text, "f.yaml", limits);
  REQUIRE_FALSE(r.has_value());
  REQUIRE_FALSE(r.error().empty());
  return r.error().front();
}

}  // namespace

TEST_CASE("nodes keep their 1-based line and column") {
  auto r = ParseConfigText("a: 1\nb:\n  c: \"0.5\"\n  d: [x, y]\n", "f.yaml", {});
  REQUIRE(r.has_value());
  const ConfigNode* b = r->Find("b");
  REQUIRE(b != nullptr);
  const ConfigNode* c = b->Find("c");
  REQUIRE(c != nullptr);
  CHECK(c->line == 3);
  CHECK(c->column == 6);
  CHECK(c->quoted);
  CHECK(c->value == "0.5");
  const ConfigNode* d = b->Find("d");
  REQUIRE(d->IsSequence());
  CHECK(d->items[1].value == "y");
  CHECK_FALSE(r->Find("a")->quoted);
}

TEST_CASE("JSON is read as YAML, with positions") {
  auto r = ParseConfigText("{\n  \"k\": [1, {\"x\": null}]\n}\n", "f.json", {});
  REQUIRE(r.has_value());
  const ConfigNode* k = r->Find("k");
  REQUIRE(k != nullptr);
  CHECK(k->line == 2);
  CHECK(k->items[1].Find("x")->kind == ConfigNode::Kind::kNull);
}

TEST_CASE("anchors and aliases are refused with their position") {
  const Diagnostic anchor = FirstError("base: &b {x: 1}\nother: 2\n");
  CHECK(anchor.line == 1);
  CHECK(anchor.message.find("anchors") != std::string::npos);
  const Diagnostic alias = FirstError("a: 1\nb: *a\n");  // an alias of an undefined anchor
  CHECK(alias.line == 2);
  CHECK(alias.message.find("anchor") != std::string::npos);
}

TEST_CASE("nesting is bounded by the configured depth") {
  std::string deep;
  for (int i = 0; i < 65; ++i) deep += "[";
  for (int i = 0; i < 65; ++i) deep += "]";
  const Diagnostic d = FirstError(deep);
  CHECK(d.message == "nesting deeper than 64 levels is not allowed");
  std::string ok;
  for (int i = 0; i < 64; ++i) ok += "[";
  for (int i = 0; i < 64; ++i) ok += "]";
  CHECK(ParseConfigText(ok, "f.yaml", {}).has_value());
  // Far deeper than yaml-cpp's own guard: still a clean error, not a crash.
  std::string very_deep(10'000, '[');
  CHECK_FALSE(ParseConfigText(very_deep, "f.yaml", {}).has_value());
}

TEST_CASE("size limit, duplicate keys, tags, several documents, empty files") {
  CHECK(FirstError(std::string(2000, 'a'), ParseLimits{1000, 64}).message ==
        "file is 2000 bytes; the limit is 1000 bytes");
  const Diagnostic dup = FirstError("a: 1\nb: 2\na: 3\n");
  CHECK(dup.line == 3);
  CHECK(dup.message == "duplicate key \"a\"");
  CHECK(FirstError("a: !!binary aGVsbG8=\n").message.find("tags") != std::string::npos);
  CHECK(FirstError("a: 1\n---\nb: 2\n").message == "only one document per file is allowed");
  CHECK(FirstError("").message.find("empty") != std::string::npos);
  CHECK(FirstError("a: [1, 2\n").message.find("syntax error") != std::string::npos);
}

}  // namespace abrec
