#include "platform/platform_config.h"

#include <doctest/doctest.h>

#include "tests/experiments/test_util.h"

namespace abrec {

using testing::Contains;
using testing::Messages;

namespace {
ParseResult<PlatformConfig> Read(const std::string& text) {
  auto tree = ParseConfigText(text, "/etc/abrec/abrec.yaml", {});
  REQUIRE(tree.has_value());
  return ReadPlatformConfig(*tree, "/etc/abrec/abrec.yaml");
}
}  // namespace

TEST_CASE("the shipped config/abrec.yaml is valid") {
  auto c = LoadPlatformConfig(ABREC_SOURCE_DIR "/config/abrec.yaml");
  REQUIRE_MESSAGE(c.has_value(), Messages(c.error()));
  CHECK(c->population.holdout == 0.05);
  CHECK(c->population.exploration == 0.05);
  CHECK(c->server.port == 8080);
  CHECK(c->surfaces.contains("portal_home"));
  CHECK(c->limits.max_yaml_depth == 64);
  CHECK(c->limits.max_connections == PlatformConfig{}.limits.max_connections);
  CHECK(c->limits.max_inflight_body_bytes == PlatformConfig{}.limits.max_inflight_body_bytes);
}

TEST_CASE("the in-flight body budget holds at least one body of the largest size") {
  auto c = Read("limits: {max_body_bytes: 65536, max_inflight_body_bytes: 65535}\n");
  REQUIRE_FALSE(c.has_value());
  CHECK(Contains(Messages(c.error()),
                 "limits.max_inflight_body_bytes: 65535 is below limits.max_body_bytes (65536)"));
  auto ok = Read("limits: {max_body_bytes: 65536, max_inflight_body_bytes: 65536}\n");
  REQUIRE(ok.has_value());
  CHECK(ok->limits.max_inflight_body_bytes == 65536);
}

TEST_CASE("relative paths resolve against the config file's folder") {
  auto c = Read(
      "experiments: {dir: experiments, audit_log: ../var/audit.log}\nstorage: {path: "
      "/data/a.db}\n");
  REQUIRE(c.has_value());
  CHECK(c->experiments.dir == "/etc/abrec/experiments");
  CHECK(c->experiments.audit_log == "/etc/var/audit.log");
  CHECK(c->storage.path == "/data/a.db");
}

TEST_CASE("config fields are validated like experiments") {
  auto c = Read(
      "assignment: {holdout: 0.6}\nserver: {port: 70000, thread: 2}\n"
      "surfaces: {portal_home: {default_policy: rules}}\nstorage: {synchronous: full}\n");
  REQUIRE_FALSE(c.has_value());
  const std::string m = Messages(c.error());
  CHECK(Contains(m, "assignment.holdout: 0.6 is out of range; expected a number from 0 to 0.5"));
  CHECK(Contains(m, "server.port: 70000 is out of range"));
  CHECK(Contains(m,
                 "server.thread: unknown key \"thread\"; allowed: host, port, threads, "
                 "shutdown_grace_ms, report_workers (did you mean \"threads\"?)"));
  CHECK(Contains(m, "surfaces.portal_home.default_policy: \"rules\" is not a known policy"));
  CHECK(Contains(m,
                 "storage.synchronous: \"full\" is not a known synchronous mode; allowed: FULL, "
                 "NORMAL, OFF, EXTRA (did you mean \"FULL\"?)"));
}

TEST_CASE("holdout and exploration must leave most users to experiments") {
  auto c = Read("assignment: {holdout: 0.3, exploration: 0.3}\n");
  REQUIRE_FALSE(c.has_value());
  CHECK(Contains(Messages(c.error()), "holdout + exploration must leave at least half"));
}

}  // namespace abrec
