// The running service's reports and alerts: each experiment's report from the event store
// (dashboards/report.h), and the alerts of every experiment that is not stopped.
#pragma once

#include <mutex>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "dashboards/alerts.h"
#include "server/platform.h"

namespace abrec {

// kUnavailable without an event store.
Result<nlohmann::ordered_json> ExperimentReport(const Platform& platform, const Experiment& e);

// The alerts of every experiment not stopped, in key order.
Result<std::vector<Alert>> CurrentAlerts(const Platform& platform);

// Logs each alert when it is first seen (a warning) and when it clears (info). `abrec serve`
// calls Check every experiments.alert_interval_ms, then applies auto_stop to what it
// returns (the alerts now; empty when they cannot be computed). Thread-safe.
class AlertLog {
 public:
  std::vector<Alert> Check(const Platform& platform);

 private:
  std::mutex mu_;
  std::vector<Alert> active_;
};

}  // namespace abrec
