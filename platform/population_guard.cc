#include "platform/population_guard.h"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace abrec {

std::string PopulationRecordPath(const PlatformConfig& config) {
  return (std::filesystem::path(config.storage.path).parent_path() / "population.json").string();
}

Result<void> GuardPopulationSplit(const PlatformConfig& config, AuditLog& audit) {
  const auto& p = config.population;
  const nlohmann::json now = {
      {"platform_salt", p.platform_salt}, {"holdout", p.holdout}, {"exploration", p.exploration}};
  const std::string path = PopulationRecordPath(config);
  nlohmann::json recorded;
  {
    std::ifstream in(path);
    if (in) {
      try {
        recorded = nlohmann::json::parse(in);
      } catch (const nlohmann::json::exception& e) {
        return std::unexpected(Error{ErrorCode::kFailedPrecondition,
                                     fmt::format("{} is unreadable ({}); restore it or remove it "
                                                 "deliberately",
                                                 path, e.what()),
                                     "assignment"});
      }
    }
  }
  nlohmann::json recorded_split = recorded;
  std::string used_reason;
  if (recorded.is_object() && recorded.contains("reason")) {
    if (recorded["reason"].is_string()) used_reason = recorded["reason"].get<std::string>();
    recorded_split.erase("reason");
  }
  if (recorded_split == now) return {};
  const bool first = recorded.is_null();
  // A reason allows one change: left in the file, it must not wave through the next one.
  if (!first &&
      (config.allow_population_change.empty() || config.allow_population_change == used_reason)) {
    return std::unexpected(Error{
        ErrorCode::kFailedPrecondition,
        fmt::format("the population split changed from {} (recorded in {}) to {}: this would move "
                    "users in and out of the permanent holdout. Refused; to do it anyway, record "
                    "why in assignment.allow_population_change{}",
                    recorded_split.dump(), path, now.dump(),
                    used_reason.empty() ? "" : " (a new reason: that one was already used)"),
        "assignment"});
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  const std::string tmp = path + ".tmp";
  nlohmann::json record = now;
  if (!first) record["reason"] = config.allow_population_change;
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << record.dump(2) << "\n";
    if (!out) {
      return std::unexpected(
          Error{ErrorCode::kIo, fmt::format("cannot write {}", tmp), "storage.path"});
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return std::unexpected(Error{
        ErrorCode::kIo, fmt::format("cannot write {}: {}", path, ec.message()), "storage.path"});
  }
  if (auto ok = audit.Append({first ? "population_recorded" : "population_changed",
                              "",
                              config.file,
                              "",
                              {"assignment"},
                              config.allow_population_change,
                              now.dump()});
      !ok) {
    return std::unexpected(ok.error());
  }
  return {};
}

}  // namespace abrec
