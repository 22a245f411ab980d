#include "platform/lifecycle.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <fmt/format.h>

#include "base/atomic_file.h"
#include "base/fingerprint.h"
#include "base/log.h"
#include "experiments/change_policy.h"
#include "experiments/experiment_edit.h"
#include "experiments/experiment_reader.h"
#include "experiments/experiment_set.h"
#include "platform/internal/platform_parts.h"

namespace abrec {
namespace {

// One change at a time: each reads the live state, writes, and reloads.
std::mutex& ChangeMutex() {
  static std::mutex mu;
  return mu;
}

LifecycleRefusal Refuse(ErrorCode code, std::string message, std::string field,
                        Diagnostics diagnostics = {}) {
  return {Error{code, std::move(message), std::move(field), std::move(diagnostics)}, std::nullopt};
}

// A refusal for validation problems: the first one is the message and names the field.
LifecycleRefusal RefuseWith(ErrorCode code, std::string_view prefix, Diagnostics d) {
  std::string message(prefix), field = "body";
  for (const Diagnostic& first : d) {
    message += first.ToString();
    field = first.field;
    break;
  }
  return Refuse(code, std::move(message), std::move(field), std::move(d));
}

bool LooksLikeJson(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && text[first] == '{';
}

std::optional<std::string> ReadSmallFile(const std::string& path, std::size_t max_bytes) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size > max_bytes) return std::nullopt;
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Records the change before it is made: a change is never live without its audit record.
// When the record cannot be written the change is refused (kUnavailable). Should the
// registry then refuse the new file, the "admin_refused" record that follows says so.
std::optional<LifecycleRefusal> AuditChange(Platform& platform, std::string action,
                                            const Experiment& e, std::vector<std::string> changed,
                                            const ChangeSource& source,
                                            const std::string& content_hash) {
  AuditEntry entry{.action = std::move(action),
                   .experiment = e.key,
                   .file = e.file,
                   .phase = std::string(PhaseName(e.phase)),
                   .changed = std::move(changed),
                   .reason = source.reason,
                   .content_hash = content_hash,
                   .actor = source.actor};
  if (auto ok = PlatformParts::audit(platform).Append(entry); !ok) {
    return Refuse(ErrorCode::kUnavailable,
                  fmt::format("the change was not made: its audit record cannot be written ({})",
                              ok.error().message),
                  "audit_log");
  }
  return std::nullopt;
}

// Writes `text` as `key`'s file after every check, reloads the registry, and checks that it
// published exactly these bytes; restores the previous file when it did not.
LifecycleResult Apply(Platform& platform, std::string_view key, const std::string& text,
                      const ChangeSource& source, bool phase_only) {
  const PlatformConfig& config = platform.config();
  const ParseLimits limits = config.parse_limits();
  if (text.size() > limits.max_bytes) {
    return std::unexpected(Refuse(ErrorCode::kResourceExhausted,
                                  fmt::format("the definition is {} bytes; the limit is {} "
                                              "(limits.max_yaml_bytes)",
                                              text.size(), limits.max_bytes),
                                  "body"));
  }
  const auto snapshot = platform.experiments();
  const auto live = snapshot->Find(key);
  // Where the definition lives: its file, or KEY.yaml / KEY.json for a new experiment.
  const bool json = LooksLikeJson(text);
  std::string path;
  if (live) {
    path = live->def.file;
    if (std::filesystem::path(path).extension() == ".json" && !json) {
      return std::unexpected(Refuse(
          ErrorCode::kConflict,
          fmt::format("{} is defined in JSON ({}); send the definition as JSON, or remove that "
                      "file and create the experiment again in YAML",
                      key, path),
          "body"));
    }
  } else {
    path = (std::filesystem::path(config.experiments.dir) /
            fmt::format("{}.{}", key, json ? "json" : "yaml"))
               .string();
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
      return std::unexpected(
          Refuse(ErrorCode::kConflict,
                 fmt::format("{} exists but defines no live experiment {} (it was refused: see "
                             "GET /readyz); fix or remove it first",
                             path, key),
                 "experiment"));
    }
  }
  // The checks the registry makes on a file edit, on the bytes before they are written.
  auto tree = ParseConfigText(text, path, limits);
  ParseResult<Experiment> parsed =
      tree ? ReadExperiment(*tree, path) : ParseResult<Experiment>(std::unexpected(tree.error()));
  if (parsed) {
    if (Diagnostics d = ResolveSurface(*parsed, config.surface_settings()); !d.empty()) {
      parsed = std::unexpected(std::move(d));
    }
  }
  if (!parsed) {
    return std::unexpected(RefuseWith(ErrorCode::kInvalidArgument,
                                      "the definition is not valid: ", std::move(parsed.error())));
  }
  Experiment& next = *parsed;
  if (next.key != key) {
    return std::unexpected(Refuse(
        ErrorCode::kInvalidArgument,
        fmt::format("the definition's key is \"{}\" but the URL names \"{}\"", next.key, key),
        "experiment"));
  }
  std::vector<const Experiment*> others;
  for (const auto& e : snapshot->experiments) {
    if (e->def.key != key) others.push_back(&e->def);
  }
  if (Diagnostics d = CheckAgainstOthers(next, others); !d.empty()) {
    return std::unexpected(RefuseWith(ErrorCode::kConflict, "", std::move(d)));
  }
  LifecycleChange change;
  std::vector<std::string> changed;
  if (live) {
    change.previous_phase = live->def.phase;
    if (auto why = RefuseReshuffle(live->def, next)) {
      return std::unexpected(Refuse(ErrorCode::kConflict, *why, "allow_reshuffle"));
    }
    if (next.phase != live->def.phase) {
      if (auto why = RefusePhaseMove(live->def.phase, next.phase)) {
        return std::unexpected(Refuse(ErrorCode::kConflict, *why, "phase"));
      }
    }
    changed = ChangedFields(live->def, next);
    if (phase_only && std::any_of(changed.begin(), changed.end(), [](const std::string& f) {
          return f != "phase" && f != "rollout_variant";
        })) {
      return std::unexpected(Refuse(
          ErrorCode::kInternal, "rewriting the phase would change more than the phase", "phase"));
    }
  } else if (next.phase == Phase::kRollout) {
    return std::unexpected(Refuse(ErrorCode::kConflict,
                                  "a new experiment cannot start in rollout: create it in shadow "
                                  "or ab_test",
                                  "phase"));
  }
  const bool moves = !live || live->def.phase != next.phase;
  if (moves && (next.phase == Phase::kAbTest || next.phase == Phase::kRollout)) {
    auto gate = RunPhaseGate(platform, next, next.phase);
    if (!gate) return std::unexpected(LifecycleRefusal{gate.error()});
    if (!gate->passed()) {
      LifecycleRefusal refusal =
          Refuse(ErrorCode::kGateRefused,
                 fmt::format("the deployment gate refused the move to {}: {}",
                             PhaseName(next.phase), gate->failures.front()),
                 "phase");
      refusal.gate = std::move(*gate);
      return std::unexpected(std::move(refusal));
    }
    change.gate = std::move(*gate);
  }
  const std::string hash = Fingerprint(text);
  if (live && live->content_hash == hash) {
    change.experiment = live;
    change.unchanged = true;
    return change;
  }
  // Audit, write, publish, verify; on a refusal by the registry put the old bytes back.
  if (auto refused = AuditChange(platform, phase_only ? "phase_changed" : "admin_put", next,
                                 live ? std::move(changed) : std::vector<std::string>{"created"},
                                 source, hash)) {
    return std::unexpected(std::move(*refused));
  }
  const std::optional<std::string> before =
      live ? ReadSmallFile(path, limits.max_bytes) : std::nullopt;
  if (auto ok = WriteFileAtomically(path, text); !ok) {
    return std::unexpected(LifecycleRefusal{ok.error()});
  }
  PlatformParts::registry(platform).Reload();
  const auto now = platform.experiments();
  const auto published = now->Find(key);
  if (!published || published->content_hash != hash) {
    Diagnostics problems;
    for (const auto& d : now->errors) {
      if (d.file == path) problems.push_back(d);
    }
    if (before) {
      (void)WriteFileAtomically(path, *before);
    } else {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    }
    PlatformParts::registry(platform).Reload();
    if (problems.empty()) {
      return std::unexpected(Refuse(
          ErrorCode::kConflict, "the registry did not publish the new definition", "experiment"));
    }
    return std::unexpected(RefuseWith(ErrorCode::kConflict, "", std::move(problems)));
  }
  change.experiment = published;
  LogInfo("experiments: {} {} by {} (phase {}{}){}", key, phase_only ? "phase changed" : "replaced",
          source.actor, PhaseName(published->def.phase),
          change.previous_phase ? fmt::format(", was {}", PhaseName(*change.previous_phase)) : "",
          source.reason.empty() ? "" : ": " + source.reason);
  return change;
}

// A refused change is audit-logged too: who asked for what, and why it was refused.
LifecycleResult AuditRefusal(Platform& platform, std::string_view key, const ChangeSource& source,
                             std::string_view asked, LifecycleResult result) {
  if (result) return result;
  AuditEntry entry{.action = "admin_refused",
                   .experiment = std::string(key),
                   .reason = fmt::format("{}{}: {}", asked,
                                         source.reason.empty() ? "" : " (" + source.reason + ")",
                                         result.error().error.message),
                   .actor = source.actor};
  if (auto ok = PlatformParts::audit(platform).Append(entry); !ok)
    LogWarning("audit: {}", ok.error().message);
  return result;
}

LifecycleResult ChangePhaseLocked(Platform& platform, std::string_view key, Phase to,
                                  std::string_view rollout_variant, const ChangeSource& source);

// The key from the URL, checked before any path is built from it: a key such as
// "../abrec" would otherwise name a file outside the experiments folder, and the answer
// would tell whether that file exists. The message does not repeat the key.
std::optional<LifecycleRefusal> RefuseKey(std::string_view key) {
  if (IsExperimentKey(key)) return std::nullopt;
  return Refuse(
      ErrorCode::kInvalidArgument,
      fmt::format("the experiment key in the URL is not valid: use {}", kExperimentKeyRule),
      "experiment");
}

}  // namespace

std::optional<std::string> RefusePhaseMove(Phase from, Phase to) {
  if (from == to || to == Phase::kStopped) return std::nullopt;
  const bool allowed = (from == Phase::kShadow && to == Phase::kAbTest) ||
                       (from == Phase::kAbTest && to == Phase::kRollout) ||
                       (from == Phase::kStopped && to == Phase::kShadow);
  if (allowed) return std::nullopt;
  std::string_view next = from == Phase::kShadow    ? "ab_test or stopped"
                          : from == Phase::kAbTest  ? "rollout or stopped"
                          : from == Phase::kRollout ? "stopped"
                                                    : "shadow (to start again)";
  return fmt::format("an experiment in {} cannot move to {}; it may move to {}", PhaseName(from),
                     PhaseName(to), next);
}

LifecycleResult PutExperiment(Platform& platform, std::string_view key, std::string_view text,
                              const ChangeSource& source) {
  std::lock_guard lock(ChangeMutex());
  const std::string asked = fmt::format("PUT of a definition (content hash {})", Fingerprint(text));
  if (auto refused = RefuseKey(key)) {
    return AuditRefusal(platform, key, source, asked, std::unexpected(std::move(*refused)));
  }
  return AuditRefusal(platform, key, source, asked,
                      Apply(platform, key, std::string(text), source, false));
}

LifecycleResult ChangePhase(Platform& platform, std::string_view key, Phase to,
                            std::string_view rollout_variant, const ChangeSource& source) {
  std::lock_guard lock(ChangeMutex());
  const std::string asked = fmt::format("move to {}", PhaseName(to));
  if (auto refused = RefuseKey(key)) {
    return AuditRefusal(platform, key, source, asked, std::unexpected(std::move(*refused)));
  }
  return AuditRefusal(platform, key, source, asked,
                      ChangePhaseLocked(platform, key, to, rollout_variant, source));
}

namespace {

LifecycleResult ChangePhaseLocked(Platform& platform, std::string_view key, Phase to,
                                  std::string_view rollout_variant, const ChangeSource& source) {
  const auto live = platform.experiments()->Find(key);
  if (!live) {
    return std::unexpected(
        Refuse(ErrorCode::kNotFound, fmt::format("no experiment \"{}\"", key), "experiment"));
  }
  const ParseLimits limits = platform.config().parse_limits();
  const auto text = ReadSmallFile(live->def.file, limits.max_bytes);
  if (!text) {
    return std::unexpected(
        Refuse(ErrorCode::kIo, fmt::format("cannot read {}", live->def.file), "experiment"));
  }
  if (Fingerprint(*text) != live->content_hash) {
    return std::unexpected(
        Refuse(ErrorCode::kConflict,
               fmt::format("{} holds changes that are not live (refused, or not loaded yet: see "
                           "GET /readyz); fix the file or PUT a whole definition",
                           live->def.file),
               "experiment"));
  }
  auto edited = SetTopLevelScalar(*text, live->def.file, "phase", PhaseName(to), limits);
  if (edited && !rollout_variant.empty()) {
    if (to != Phase::kRollout) {
      return std::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                    "rollout_variant is given only with phase rollout",
                                    "rollout_variant"));
    }
    edited = SetTopLevelScalar(*edited, live->def.file, "rollout_variant", rollout_variant, limits);
  }
  if (!edited) {
    return std::unexpected(RefuseWith(ErrorCode::kConflict, "", std::move(edited.error())));
  }
  return Apply(platform, key, *edited, source, true);
}

}  // namespace

std::vector<std::string> AutoStop(Platform& platform, const std::vector<Alert>& alerts) {
  std::vector<std::string> stopped;
  for (const Alert& a : alerts) {
    if (a.kind != "srm" && a.kind != "guardrail") continue;
    if (std::find(stopped.begin(), stopped.end(), a.experiment) != stopped.end()) continue;
    const auto e = platform.experiments()->Find(a.experiment);
    if (!e || !e->def.auto_stop || e->def.phase != Phase::kAbTest) continue;
    auto result = ChangePhase(
        platform, a.experiment, Phase::kStopped, "",
        {.actor = "auto_stop", .reason = fmt::format("{} alert: {}", a.kind, a.message)});
    if (result) {
      LogWarning("auto_stop: {} stopped on its {} alert: {}", a.experiment, a.kind, a.message);
      stopped.push_back(a.experiment);
    } else {
      LogError("auto_stop: cannot stop {}: {}", a.experiment, result.error().error.message);
    }
  }
  return stopped;
}

}  // namespace abrec
