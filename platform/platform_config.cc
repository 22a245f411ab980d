#include "platform/platform_config.h"

#include <filesystem>

#include <fmt/format.h>

#include "configtree/schema_reader.h"
#include "experiments/vocabulary.h"

namespace abrec {
namespace {

constexpr std::string_view kTopKeys[] = {
    "assignment", "default_surface", "surfaces", "experiments", "server",     "limits",
    "storage",    "events",          "admin",    "auth",        "recommender"};

std::string Resolve(const std::string& config_file, const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  const auto base = std::filesystem::path(config_file).parent_path();
  return (base / path).lexically_normal().string();
}

class ConfigReader {
 public:
  ConfigReader(SchemaReader& r, PlatformConfig& c) : r_(r), c_(c) {}

  void Read(const ConfigNode& root) {
    r_.CheckMap(root, "", kTopKeys);
    if (const auto* n = root.Find("assignment")) ReadAssignment(*n);
    if (const auto* n = root.Find("surfaces")) ReadSurfaces(*n);
    if (c_.surfaces.empty()) c_.surfaces[c_.default_surface] = SurfaceConfig{};
    if (const auto* n = root.Find("default_surface")) {
      if (auto s = r_.String(*n, "default_surface")) {
        c_.default_surface = *s;
        if (!c_.surfaces.contains(*s)) {
          r_.Error(*n, "default_surface", fmt::format("\"{}\" is not one of the surfaces", *s));
        }
      }
    } else if (!c_.surfaces.contains(c_.default_surface)) {
      c_.default_surface = c_.surfaces.begin()->first;
    }
    if (const auto* n = root.Find("experiments")) ReadExperiments(*n);
    if (const auto* n = root.Find("server")) ReadServer(*n);
    if (const auto* n = root.Find("limits")) ReadLimits(*n);
    if (const auto* n = root.Find("storage")) ReadStorage(*n);
    if (const auto* n = root.Find("events")) ReadEvents(*n);
    // An accepted event must not already be past retention: it would be purged at once, a
    // retry of it would count twice, and a late exposure could not be re-attributed from
    // the events the purge removed.
    const std::int64_t retention_s = std::int64_t{c_.storage.retention_days} * 86'400;
    if (retention_s > 0 && c_.events.max_past_s >= retention_s) {
      const ConfigNode* events = root.Find("events");
      const ConfigNode* past = events ? events->Find("max_past_s") : nullptr;
      r_.Error(past ? *past : root, "events.max_past_s",
               fmt::format("{} s reaches past storage.retention_days ({} days); it must be "
                           "shorter than the retention period",
                           c_.events.max_past_s, c_.storage.retention_days));
    }
    if (const auto* n = root.Find("admin")) {
      if (r_.CheckMap(*n, "admin", {"token_file"}))
        ReadString(*n, "admin", "token_file", c_.admin.token_file);
    }
    if (const auto* n = root.Find("auth")) ReadAuth(*n);
    if (const auto* n = root.Find("recommender")) ReadRecommender(*n);
  }

 private:
  void ReadString(const ConfigNode& map, std::string_view section, std::string_view key,
                  std::string& out) {
    if (const auto* v = map.Find(key)) {
      if (auto s = r_.String(*v, JoinField(section, key))) out = *s;
    }
  }
  template <typename Int>
  void ReadInt(const ConfigNode& map, std::string_view section, std::string_view key,
               std::int64_t lo, std::int64_t hi, Int& out) {
    if (const auto* v = map.Find(key)) {
      if (auto x = r_.Integer(*v, JoinField(section, key), lo, hi)) out = static_cast<Int>(*x);
    }
  }

  void ReadStringList(const ConfigNode& map, std::string_view section, std::string_view key,
                      std::vector<std::string>& out) {
    const auto* v = map.Find(key);
    if (!v) return;
    const std::string field = JoinField(section, key);
    if (!v->IsSequence()) {
      r_.Error(*v, field, fmt::format("expected a list of strings, got {}", v->KindName()));
      return;
    }
    out.clear();
    for (std::size_t i = 0; i < v->items.size(); ++i) {
      if (auto s = r_.String(v->items[i], fmt::format("{}[{}]", field, i))) out.push_back(*s);
    }
  }

  void ReadAuth(const ConfigNode& n) {
    if (!r_.CheckMap(n, "auth",
                     {"keys_file", "anonymous_scopes", "metrics_allow", "session_ttl_s",
                      "max_sessions", "cookie_secure"})) {
      return;
    }
    ReadString(n, "auth", "keys_file", c_.auth.keys_file);
    ReadStringList(n, "auth", "anonymous_scopes", c_.auth.anonymous_scopes);
    for (std::size_t i = 0; i < c_.auth.anonymous_scopes.size(); ++i) {
      const auto& s = c_.auth.anonymous_scopes[i];
      if (s != "serve" && s != "read") {
        r_.Error(n.Find("anonymous_scopes")->items[i], fmt::format("auth.anonymous_scopes[{}]", i),
                 fmt::format("\"{}\" cannot be granted without a key: only serve and read can", s));
      }
    }
    ReadStringList(n, "auth", "metrics_allow", c_.auth.metrics_allow);
    ReadInt(n, "auth", "session_ttl_s", 60, 30 * 86'400, c_.auth.session_ttl_s);
    ReadInt(n, "auth", "max_sessions", 1, 1'000'000, c_.auth.max_sessions);
    if (const auto* v = n.Find("cookie_secure")) {
      if (auto b = r_.Bool(*v, "auth.cookie_secure")) c_.auth.cookie_secure = *b;
    }
  }

  void ReadAssignment(const ConfigNode& n) {
    if (!r_.CheckMap(n, "assignment",
                     {"platform_salt", "holdout", "exploration", "allow_population_change"})) {
      return;
    }
    ReadString(n, "assignment", "platform_salt", c_.population.platform_salt);
    ReadString(n, "assignment", "allow_population_change", c_.allow_population_change);
    if (const auto* v = n.Find("holdout")) {
      if (auto x = r_.Number(*v, "assignment.holdout", 0.0, 0.5)) c_.population.holdout = *x;
    }
    if (const auto* v = n.Find("exploration")) {
      if (auto x = r_.Number(*v, "assignment.exploration", 0.0, 0.5))
        c_.population.exploration = *x;
    }
  }

  void ReadSurfaces(const ConfigNode& n) {
    if (!n.IsMap()) {
      r_.Error(n, "surfaces",
               fmt::format("expected a map of surface name to settings, got {}", n.KindName()));
      return;
    }
    for (std::size_t i = 0; i < n.keys.size(); ++i) {
      const std::string field = JoinField("surfaces", n.keys[i].value);
      if (!r_.CheckMap(n.items[i], field, {"default_policy"})) continue;
      SurfaceConfig s;
      if (const auto* p = n.items[i].Find("default_policy")) {
        if (auto v = r_.OneOf(*p, JoinField(field, "default_policy"), kPolicyNames, "policy")) {
          s.default_policy = *ParsePolicy(*v);
        }
      }
      c_.surfaces[n.keys[i].value] = s;
    }
  }

  void ReadExperiments(const ConfigNode& n) {
    if (!r_.CheckMap(n, "experiments",
                     {"dir", "reload_interval_ms", "alert_interval_ms", "alerts_max_age_ms",
                      "audit_log", "accepted_dir"})) {
      return;
    }
    ReadString(n, "experiments", "dir", c_.experiments.dir);
    ReadInt(n, "experiments", "reload_interval_ms", 0, 3'600'000,
            c_.experiments.reload_interval_ms);
    ReadInt(n, "experiments", "alert_interval_ms", 0, 86'400'000, c_.experiments.alert_interval_ms);
    ReadInt(n, "experiments", "alerts_max_age_ms", 0, 86'400'000, c_.experiments.alerts_max_age_ms);
    ReadString(n, "experiments", "audit_log", c_.experiments.audit_log);
    ReadString(n, "experiments", "accepted_dir", c_.experiments.accepted_dir);
  }

  void ReadServer(const ConfigNode& n) {
    if (!r_.CheckMap(n, "server",
                     {"host", "port", "threads", "shutdown_grace_ms", "report_workers"})) {
      return;
    }
    ReadString(n, "server", "host", c_.server.host);
    ReadInt(n, "server", "port", 0, 65535, c_.server.port);
    ReadInt(n, "server", "threads", 1, 256, c_.server.threads);
    ReadInt(n, "server", "shutdown_grace_ms", 0, 600'000, c_.server.shutdown_grace_ms);
    ReadInt(n, "server", "report_workers", 1, 16, c_.server.report_workers);
  }

  void ReadLimits(const ConfigNode& n) {
    if (!r_.CheckMap(n, "limits",
                     {"max_body_bytes", "max_header_bytes", "read_timeout_ms", "write_timeout_ms",
                      "idle_timeout_ms", "max_yaml_depth", "max_yaml_bytes", "max_batch_users",
                      "max_connections", "max_inflight_body_bytes"})) {
      return;
    }
    auto& l = c_.limits;
    ReadInt(n, "limits", "max_body_bytes", 1024, 1LL << 30, l.max_body_bytes);
    ReadInt(n, "limits", "max_header_bytes", 1024, 1 << 20, l.max_header_bytes);
    ReadInt(n, "limits", "read_timeout_ms", 10, 600'000, l.read_timeout_ms);
    ReadInt(n, "limits", "write_timeout_ms", 10, 600'000, l.write_timeout_ms);
    ReadInt(n, "limits", "idle_timeout_ms", 10, 3'600'000, l.idle_timeout_ms);
    ReadInt(n, "limits", "max_yaml_depth", 4, 64, l.max_yaml_depth);
    ReadInt(n, "limits", "max_yaml_bytes", 1024, 64 << 20, l.max_yaml_bytes);
    ReadInt(n, "limits", "max_batch_users", 1, 100'000, l.max_batch_users);
    ReadInt(n, "limits", "max_connections", 1, 1'000'000, l.max_connections);
    ReadInt(n, "limits", "max_inflight_body_bytes", 1024, 1LL << 40, l.max_inflight_body_bytes);
    if (l.max_inflight_body_bytes < l.max_body_bytes) {
      const auto* v = n.Find("max_inflight_body_bytes");
      r_.Error(v ? *v : n, "limits.max_inflight_body_bytes",
               fmt::format("{} is below limits.max_body_bytes ({}): a body of the allowed size "
                           "could never be read",
                           l.max_inflight_body_bytes, l.max_body_bytes));
    }
  }

  void ReadStorage(const ConfigNode& n) {
    if (!r_.CheckMap(n, "storage",
                     {"path", "synchronous", "queue_capacity", "max_transaction_events",
                      "retention_days", "max_size_mb", "wal_limit_mb"})) {
      return;
    }
    ReadString(n, "storage", "path", c_.storage.path);
    ReadInt(n, "storage", "queue_capacity", 1, 100'000'000, c_.storage.queue_capacity);
    ReadInt(n, "storage", "max_transaction_events", 1, 10'000'000,
            c_.storage.max_transaction_events);
    ReadInt(n, "storage", "retention_days", 0, 36'500, c_.storage.retention_days);
    ReadInt(n, "storage", "max_size_mb", 0, 100'000'000, c_.storage.max_size_mb);
    ReadInt(n, "storage", "wal_limit_mb", 1, 1'000'000, c_.storage.wal_limit_mb);
    if (const auto* v = n.Find("synchronous")) {
      static constexpr std::string_view kModes[] = {"FULL", "NORMAL", "OFF", "EXTRA"};
      if (auto s = r_.OneOf(*v, "storage.synchronous", kModes, "synchronous mode")) {
        c_.storage.synchronous = *s;
      }
    }
  }

  void ReadEvents(const ConfigNode& n) {
    if (!r_.CheckMap(n, "events",
                     {"attribution_window_days", "max_past_s", "max_future_s",
                      "max_events_per_request", "max_event_bytes"})) {
      return;
    }
    auto& e = c_.events;
    ReadInt(n, "events", "attribution_window_days", 1, 3650, e.attribution_window_days);
    ReadInt(n, "events", "max_past_s", 0, 3650 * 86'400, e.max_past_s);
    ReadInt(n, "events", "max_future_s", 0, 86'400, e.max_future_s);
    ReadInt(n, "events", "max_events_per_request", 1, 1'000'000, e.max_events_per_request);
    ReadInt(n, "events", "max_event_bytes", 256, 1 << 20, e.max_event_bytes);
  }

  void ReadRecommender(const ConfigNode& n) {
    if (!r_.CheckMap(n, "recommender",
                     {"model_dir", "catalog", "ranking", "gate", "gate_customers", "default_model",
                      "candidates", "poll_interval_ms", "latency_budget_ms", "p99_fallback_ms",
                      "cache", "cache_path", "redis_address", "redis_timeout_ms"})) {
      return;
    }
    auto& rc = c_.recommender;
    ReadString(n, "recommender", "model_dir", rc.model_dir);
    ReadString(n, "recommender", "catalog", rc.catalog);
    ReadString(n, "recommender", "ranking", rc.ranking);
    ReadString(n, "recommender", "gate", rc.gate);
    ReadInt(n, "recommender", "gate_customers", 100, 1'000'000, rc.gate_customers);
    ReadString(n, "recommender", "default_model", rc.default_model);
    ReadString(n, "recommender", "cache_path", rc.cache_path);
    ReadInt(n, "recommender", "candidates", 1, 100'000, rc.candidates);
    ReadInt(n, "recommender", "poll_interval_ms", 0, 3'600'000, rc.poll_interval_ms);
    ReadInt(n, "recommender", "redis_timeout_ms", 1, 60'000, rc.redis_timeout_ms);
    ReadInt(n, "recommender", "p99_fallback_ms", 1, 60'000, rc.p99_fallback_ms);
    if (const auto* v = n.Find("latency_budget_ms")) {
      // Fractions allowed (0.2 = 200 µs), so a tight budget can be tested and tuned.
      if (auto x = r_.Number(*v, "recommender.latency_budget_ms", 0.001, 60'000)) {
        rc.latency_budget_ms = *x;
      }
    }
    if (const auto* v = n.Find("redis_address")) {
      ReadString(n, "recommender", "redis_address", rc.redis_address);
      const auto colon = rc.redis_address.rfind(':');
      const bool ok =
          colon != std::string::npos && colon > 0 && colon + 1 < rc.redis_address.size() &&
          rc.redis_address.find_first_not_of("0123456789", colon + 1) == std::string::npos &&
          rc.redis_address.size() - colon - 1 <= 5 &&
          std::stoi(rc.redis_address.substr(colon + 1)) <= 65'535;
      if (!ok) r_.Error(*v, "recommender.redis_address", "expected HOST:PORT, e.g. 127.0.0.1:6379");
    }
    if (const auto* v = n.Find("cache")) {
      static constexpr std::string_view kCaches[] = {"sqlite", "redis", "none"};
      if (auto s = r_.OneOf(*v, "recommender.cache", kCaches, "cache")) c_.recommender.cache = *s;
    }
  }

  SchemaReader& r_;
  PlatformConfig& c_;
};

}  // namespace

bool LooksLikePlatformConfig(const ConfigNode& root) {
  if (!root.IsMap()) return false;
  for (const auto& k : root.keys) {
    for (const auto top : kTopKeys) {
      if (k.value == top) return true;
    }
  }
  return false;
}

ParseResult<PlatformConfig> ReadPlatformConfig(const ConfigNode& root, const std::string& file) {
  SchemaReader r(file);
  PlatformConfig c;
  c.file = file;
  if (!root.IsMap()) {
    r.Error(root, "", fmt::format("expected a map of settings, got {}", root.KindName()));
    return std::unexpected(r.TakeDiagnostics());
  }
  ConfigReader(r, c).Read(root);
  if (c.population.holdout + c.population.exploration > 0.5) {
    r.Error(root, "assignment",
            "holdout + exploration must leave at least half of the users to experiments");
  }
  if (!r.ok()) return std::unexpected(r.TakeDiagnostics());
  c.experiments.dir = Resolve(file, c.experiments.dir);
  c.experiments.audit_log = Resolve(file, c.experiments.audit_log);
  c.experiments.accepted_dir = Resolve(file, c.experiments.accepted_dir);
  c.storage.path = Resolve(file, c.storage.path);
  c.admin.token_file = Resolve(file, c.admin.token_file);
  c.auth.keys_file = Resolve(file, c.auth.keys_file);
  c.recommender.model_dir = Resolve(file, c.recommender.model_dir);
  c.recommender.catalog = Resolve(file, c.recommender.catalog);
  c.recommender.ranking = Resolve(file, c.recommender.ranking);
  c.recommender.gate = Resolve(file, c.recommender.gate);
  c.recommender.cache_path = Resolve(file, c.recommender.cache_path);
  return c;
}

ParseResult<PlatformConfig> LoadPlatformConfig(const std::string& path) {
  auto tree = ParseConfigFile(path, ParseLimits{});
  if (!tree) return std::unexpected(std::move(tree.error()));
  return ReadPlatformConfig(*tree, path);
}

}  // namespace abrec
