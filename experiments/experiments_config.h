// The experiments' settings: the `experiments` section of config/abrec.yaml (where the
// definitions live, how often they are reloaded, the audit log) and the surfaces an experiment
// may name. Read by platform/platform_config.cc.
#pragma once

#include <map>
#include <string>

#include "configtree/config_tree.h"
#include "experiments/vocabulary.h"

namespace abrec {

struct SurfaceConfig {
  Policy default_policy = Policy::kLegacyRules;  // what users in no experiment get
};

struct ExperimentsConfig {
  std::string dir = "experiments";  // *.yaml, *.yml and *.json files
  int reload_interval_ms = 1000;    // polling period of the file watcher; 0 disables
  // How often `abrec serve` computes the alerts (log lines, auto_stop); 0 disables.
  int alert_interval_ms = 60'000;
  // /metrics, /v1/alerts and /dashboards/ serve the latest computed alerts and reports while
  // they are younger than this, even if events were committed since (the alert thread, or a
  // request finding them older, computes new ones): the bound on their staleness. 0: always
  // as of the latest commit.
  int alerts_max_age_ms = 1000;
  std::string audit_log = "../var/audit.log";  // JSON lines, one per accepted change
  // The last accepted version of each experiment, kept so that a restart neither re-audits
  // unchanged files nor lets a reshuffle made while the service was down slip through.
  std::string accepted_dir = "../var/experiments-accepted";
};

// The surfaces an experiment may name (abrec.yaml's `surfaces` and `default_surface`), with
// the file that declares them, for messages.
struct Surfaces {
  std::string file;
  std::string default_surface = "portal_home";
  std::map<std::string, SurfaceConfig> surfaces;
};

// What the experiment registry reads of the platform config.
struct RegistryConfig {
  ExperimentsConfig experiments;
  Surfaces surfaces;
  ParseLimits parse_limits;
};

}  // namespace abrec
