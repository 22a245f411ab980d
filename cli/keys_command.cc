// abrec keys create|list|revoke: the service's API keys (auth/api_keys.h).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "platform/platform_config.h"
#include "auth/api_keys.h"
#include "cli/args.h"
#include "cli/command_config.h"
#include "cli/commands.h"

namespace abrec {
namespace {

constexpr const char* kHelp =
    R"(usage: abrec keys create --scope SCOPES --name NAME [--config FILE] [--format text|json]
       abrec keys list [--config FILE] [--format text|json]
       abrec keys revoke NAME [--config FILE]

API keys for the HTTP API, kept hashed in auth.keys_file (mode 0600). Scopes:
  serve   assign, recommend, events, covariates (the serving code)
  read    reports, dashboards, alerts, experiment definitions, metrics (analysts)
  admin   experiment changes, phase, audit, erasure, model reload
SCOPES is one or more of them, comma-separated. `create` prints the key once: it cannot be
shown again. A running service picks up created and revoked keys within a second.
Clients send "Authorization: Bearer KEY"; a browser may sign in at /login with a read key.
)";

int Fail(const Error& e) {
  fmt::print(stderr, "abrec keys: {}\n", e.message);
  return e.code == ErrorCode::kInvalidArgument || e.code == ErrorCode::kConflict ||
                 e.code == ErrorCode::kNotFound
             ? 2
             : 1;
}

}  // namespace

int KeysCommand(const CommandArgs& argv) {
  auto args = ParseCommandArgs("keys", argv, {"config", "format", "scope", "name"}, kHelp);
  if (!args) return args.error();
  const std::string format = args->Get("format").value_or("text");
  const auto& pos = args->positionals;
  if (pos.empty() || (format != "text" && format != "json")) {
    fmt::print(stderr, "abrec keys: give create, list or revoke, and --format text|json\n{}",
               kHelp);
    return 2;
  }
  auto config = CommandConfig(*args);
  if (!config) return config.error();
  const std::string& path = config->auth.keys_file;
  const Clock& clock = SystemClock::Instance();
  if (pos[0] == "create" && pos.size() == 1) {
    const auto scope = args->Get("scope");
    const auto name = args->Get("name");
    if (!scope || !name) {
      fmt::print(stderr, "abrec keys create: --scope and --name are required\n{}", kHelp);
      return 2;
    }
    auto scopes = ParseScopes(*scope, "--scope");
    if (!scopes) return Fail(scopes.error());
    auto made = CreateApiKey(path, *name, *scopes, clock);
    if (!made) return Fail(made.error());
    if (format == "json") {
      fmt::print("{}\n", nlohmann::ordered_json{{"name", made->record.name},
                                                {"id", made->record.id},
                                                {"scopes", ScopeList(made->record.scopes)},
                                                {"key", made->key}}
                             .dump());
    } else {
      fmt::print("{}\n", made->key);
      fmt::print(stderr, "created key \"{}\" (id {}, scopes {}) in {}; it is shown only now\n",
                 made->record.name, made->record.id, ScopeList(made->record.scopes), path);
    }
    return 0;
  }
  if (pos[0] == "list" && pos.size() == 1) {
    auto records = ReadApiKeyFile(path);
    if (!records) return Fail(records.error());
    if (format == "json") {
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (const auto& r : *records) {
        list.push_back(
            {{"name", r.name},
             {"id", r.id},
             {"scopes", ScopeList(r.scopes)},
             {"created_at", r.created_at},
             {"revoked_at", r.revoked_at.empty() ? nlohmann::ordered_json(nullptr)
                                                 : nlohmann::ordered_json(r.revoked_at)}});
      }
      fmt::print("{}\n", nlohmann::ordered_json{{"keys_file", path}, {"keys", list}}.dump(2));
      return 0;
    }
    fmt::print("{:<24} {:<16} {:<18} {:<27} {}\n", "NAME", "ID", "SCOPES", "CREATED", "REVOKED");
    for (const auto& r : *records) {
      fmt::print("{:<24} {:<16} {:<18} {:<27} {}\n", r.name, r.id, ScopeList(r.scopes),
                 r.created_at, r.revoked_at.empty() ? "-" : r.revoked_at);
    }
    return 0;
  }
  if (pos[0] == "revoke" && pos.size() == 2) {
    auto revoked = RevokeApiKey(path, pos[1], clock);
    if (!revoked) return Fail(revoked.error());
    fmt::print("revoked key \"{}\" (id {})\n", revoked->name, revoked->id);
    return 0;
  }
  fmt::print(stderr, "abrec keys: unknown or incomplete subcommand\n{}", kHelp);
  return 2;
}

}  // namespace abrec
