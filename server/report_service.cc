#include "server/report_service.h"

#include <algorithm>

#include "base/log.h"
#include "dashboards/report.h"

namespace abrec {

Result<nlohmann::ordered_json> ExperimentReport(const Platform& platform, const Experiment& e) {
  if (!platform.events()) {
    return std::unexpected(Error{ErrorCode::kUnavailable, "no event store", "storage"});
  }
  return ReportFrom(*platform.events(), e, platform.population().split(),
                    platform.clock().NowMicros());
}

Result<std::vector<Alert>> CurrentAlerts(const Platform& platform) {
  std::vector<Alert> out;
  // Hold the snapshot: a range-for over a temporary's member would let a concurrent reload
  // free it mid-loop (the temporary shared_ptr dies before the loop body runs).
  const auto snapshot = platform.experiments();
  for (const auto& e : snapshot->experiments) {
    if (e->def.phase == Phase::kStopped) continue;
    auto report = ExperimentReport(platform, e->def);
    if (!report) return std::unexpected(report.error());
    for (Alert& a : AlertsOf(*report)) out.push_back(std::move(a));
  }
  return out;
}

std::vector<Alert> AlertLog::Check(const Platform& platform) {
  auto alerts = CurrentAlerts(platform);
  if (!alerts) {
    LogWarning("alerts: cannot compute them: {}", alerts.error().message);
    return {};
  }
  std::lock_guard lock(mu_);
  for (const Alert& a : *alerts) {
    if (std::find(active_.begin(), active_.end(), a) == active_.end()) {
      LogWarning("alert {} ({}) in {}: {}", a.kind, a.severity, a.experiment, a.message);
    }
  }
  for (const Alert& a : active_) {
    if (std::find(alerts->begin(), alerts->end(), a) == alerts->end()) {
      LogInfo("alert cleared: {} in {}: {}", a.kind, a.experiment, a.message);
    }
  }
  active_ = *alerts;
  return std::move(*alerts);
}

}  // namespace abrec
