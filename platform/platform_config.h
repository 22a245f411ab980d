// config/abrec.yaml: the platform's settings, validated once when loaded. Relative paths are
// resolved against the config file's folder. The sections a module reads are that module's
// own structs (experiments_config.h, recommender_config.h, auth_config.h); the platform
// composes them and hands each module its part.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "assignment/population.h"
#include "auth/auth_config.h"
#include "base/diagnostic.h"
#include "configtree/config_tree.h"
#include "experiments/experiments_config.h"
#include "recommender/serving/recommender_config.h"

namespace abrec {

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (the chosen one is logged)
  // Worker threads of the io_context: one per core leaves nothing idle on the 2-core target.
  int threads = 2;
  // On SIGINT/SIGTERM: stop accepting, let requests in flight finish for this long, exit.
  int shutdown_grace_ms = 1000;
  // Threads computing reports, off the I/O threads (platform/report_service.h): each report
  // takes one while it reads its experiment's aggregates.
  int report_workers = 1;
};

struct LimitsConfig {
  std::size_t max_body_bytes = 8 << 20;  // the events endpoint's 8 MiB batch limit
  // Bodies of all requests in flight together (declared Content-Length, or chunks as they
  // arrive); past it a request gets 503 with Retry-After. 256 MiB: 32 full 8 MiB batches at
  // once. At least max_body_bytes.
  std::size_t max_inflight_body_bytes = 256 << 20;
  std::size_t max_header_bytes = 16 << 10;
  int read_timeout_ms = 10'000;   // whole request, headers and body: slow clients are cut off
  int write_timeout_ms = 10'000;  // whole response
  int idle_timeout_ms = 60'000;   // keep-alive connection without a request
  int max_yaml_depth = 64;
  std::size_t max_yaml_bytes = 1 << 20;
  int max_batch_users = 1000;  // POST /v1/assign
  // Open connections; past it new ones are closed at once. Each needs a file descriptor:
  // `abrec serve` raises its soft fd limit to the hard one and refuses to start when this
  // plus 64 kept for files does not fit (server/http/fd_limit.h). 4,000 fits the kernel's
  // default hard limit (4,096); systemd's (524,288) and Docker's (1,048,576) allow far
  // more, if memory does: a connection reading a header holds up to max_header_bytes +
  // 16 KiB of buffer.
  int max_connections = 4'000;
};

struct StorageConfig {
  std::string path = "../var/abrec.db";
  std::string synchronous = "FULL";  // SQLite PRAGMA synchronous: FULL, NORMAL or OFF
  // Events waiting for the writer thread; past this, writes answer 503 with Retry-After.
  int queue_capacity = 200'000;
  int max_transaction_events = 20'000;  // bounds the latency of one group commit
  // Raw events older than this are purged (aggregates are kept); 0 keeps them forever.
  int retention_days = 0;
  // A cap on the database size; 0: only the disk limits it. Past it, writes answer 503.
  int max_size_mb = 0;
  // The write-ahead log's size past which the writer pauses briefly so that it can restart
  // (EventStoreOptions::wal_limit_bytes).
  int wal_limit_mb = 64;
};

struct EventsConfig {
  int attribution_window_days = 30;  // clicks and binds count this long after first exposure
  int max_past_s = 7 * 86'400;       // oldest timestamp accepted, relative to now
  int max_future_s = 300;            // clock skew tolerated for timestamps ahead of now
  int max_events_per_request = 10'000;
  int max_event_bytes = 16 << 10;
};

struct PlatformConfig {
  std::string file;  // where it was loaded from
  PopulationSplit population;
  // A reason recorded in the file for changing the population split of a running platform.
  std::string allow_population_change;
  std::string default_surface = "portal_home";
  std::map<std::string, SurfaceConfig> surfaces;
  ServerConfig server;
  LimitsConfig limits;
  ExperimentsConfig experiments;
  StorageConfig storage;
  EventsConfig events;
  AdminConfig admin;
  AuthConfig auth;
  RecommenderConfig recommender;

  ParseLimits parse_limits() const { return {limits.max_yaml_bytes, limits.max_yaml_depth}; }
  Surfaces surface_settings() const { return {file, default_surface, surfaces}; }
  RegistryConfig registry_config() const {
    return {experiments, surface_settings(), parse_limits()};
  }
};

ParseResult<PlatformConfig> ReadPlatformConfig(const ConfigNode& root, const std::string& file);
// Loads a config file with the default parse limits (the file sets the limits of the rest).
ParseResult<PlatformConfig> LoadPlatformConfig(const std::string& path);

// True when the tree looks like a platform config rather than an experiment.
bool LooksLikePlatformConfig(const ConfigNode& root);

}  // namespace abrec
