#include "experiments/registry.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>

#include <fmt/format.h>

#include "base/atomic_file.h"
#include "base/fingerprint.h"
#include "base/log.h"
#include "experiments/change_policy.h"
#include "experiments/experiment_reader.h"
#include "experiments/experiment_set.h"

namespace abrec {
namespace {

bool IsExperimentFile(const std::filesystem::path& p) {
  const std::string name = p.filename().string();
  if (name.empty() || name.front() == '.') return false;  // editors' and atomic writers' temps
  const std::string ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

// The experiment files of `dir`, sorted; nullopt (and an error) when the folder cannot be
// listed, e.g. out of file descriptors: then nothing may be taken for removed.
std::optional<std::vector<std::string>> ListFiles(const std::string& dir, Diagnostics& errors) {
  std::vector<std::string> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_regular_file(type_ec) && IsExperimentFile(it->path())) {
      out.push_back(it->path().string());
    }
  }
  if (ec) {
    errors.push_back({dir, 0, 0, "experiments.dir",
                      fmt::format("cannot list the experiments folder: {}", ec.message())});
    return std::nullopt;
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

AssignmentSpec CompileSpec(const Experiment& e) {
  std::vector<double> weights;
  for (const auto& v : e.variants) weights.push_back(v.weight);
  AssignMode mode = AssignMode::kRandomized;
  if (e.phase == Phase::kRollout) mode = AssignMode::kRollout;
  if (e.phase == Phase::kStopped) mode = AssignMode::kStopped;
  return AssignmentSpec(e.HashSeed(), e.ns, e.coverage, std::move(weights), mode,
                        std::max(0, e.VariantIndex(e.RolloutVariant())));
}

std::shared_ptr<const LoadedExperiment> RegistrySnapshot::Find(std::string_view key) const {
  const auto it = std::lower_bound(experiments.begin(), experiments.end(), key,
                                   [](const std::shared_ptr<const LoadedExperiment>& e,
                                      std::string_view k) { return e->def.key < k; });
  if (it != experiments.end() && (*it)->def.key == key) return *it;
  return nullptr;
}

ExperimentRegistry::ExperimentRegistry(RegistryConfig config, AuditLog& audit,
                                       const Clock& clock, RegistryOptions options)
    : config_(std::move(config)), clock_(clock), audit_(audit), options_(options) {
  snapshot_.store(std::make_shared<const RegistrySnapshot>());
}

ExperimentRegistry::~ExperimentRegistry() { StopWatching(); }

void ExperimentRegistry::Audit(const AuditEntry& entry) {
  if (options_.read_only) return;
  if (auto ok = audit_.Append(entry); !ok) LogError("audit log: {}", ok.error().message);
}

const ExperimentRegistry::Accepted& ExperimentRegistry::AcceptedVersion(const std::string& key) {
  auto [it, inserted] = accepted_.try_emplace(key);
  if (!inserted) return it->second;
  const std::string path = config_.experiments.accepted_dir + "/" + key + ".accepted";
  std::ifstream f(path, std::ios::binary);
  if (!f) return it->second;
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  it->second.content_hash = Fingerprint(text);
  auto tree = ParseConfigText(text, path, config_.parse_limits);
  if (!tree) return it->second;
  auto def = ReadExperiment(*tree, path);
  if (!def) return it->second;
  ResolveSurface(*def, config_.surfaces);
  it->second.def = std::make_shared<const Experiment>(std::move(*def));
  return it->second;
}

std::shared_ptr<const LoadedExperiment> ExperimentRegistry::AcceptedInEarlierRun(
    const std::string& path, const FileState& st) {
  if (!sources_loaded_) {
    sources_loaded_ = true;
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::directory_iterator(config_.experiments.accepted_dir, ec)) {
      if (entry.path().extension() != ".source") continue;
      std::ifstream f(entry.path());
      std::string source;
      std::getline(f, source);
      if (!source.empty()) key_of_source_[source] = entry.path().stem().string();
    }
  }
  std::string key;
  if (st.parsed) {
    key = st.parsed->key;
  } else if (const auto it = key_of_source_.find(path); it != key_of_source_.end()) {
    key = it->second;
  } else {
    return nullptr;
  }
  const Accepted& earlier = AcceptedVersion(key);
  if (!earlier.def) return nullptr;
  Experiment def = *earlier.def;
  def.file = path;
  LogWarning("experiments: {} keeps the version accepted in an earlier run", key);
  return std::make_shared<const LoadedExperiment>(
      LoadedExperiment{def, CompileSpec(def), earlier.content_hash});
}

void ExperimentRegistry::RecordAccepted(const std::string& key, const std::string& source,
                                        const std::string& text, const std::string& content_hash) {
  Accepted& a = accepted_[key];
  if (a.content_hash == content_hash || options_.read_only) return;
  std::error_code ec;
  std::filesystem::create_directories(config_.experiments.accepted_dir, ec);
  // Written whole or not at all, and synced: after a crash the copy is the old one or the
  // new one. 0600, as the definitions may name customers' segments and owners.
  const std::string path = config_.experiments.accepted_dir + "/" + key + ".accepted";
  auto ok = WriteFileAtomically(path, text, 0600);
  if (ok) {
    ok = WriteFileAtomically(config_.experiments.accepted_dir + "/" + key + ".source",
                             source + "\n", 0600);
  }
  if (ok) {
    key_of_source_[source] = key;
  } else {
    LogError("experiments: cannot record the accepted version of {}: {}", key, ok.error().message);
  }
  a.content_hash = content_hash;
  a.def.reset();  // the live version is the baseline from now on
}

void ExperimentRegistry::RefreshFile(const std::string& path, FileState& st) {
  struct stat sb {};
  if (::stat(path.c_str(), &sb) != 0) return;
  const std::int64_t mtime =
      static_cast<std::int64_t>(sb.st_mtim.tv_sec) * 1'000'000'000 + sb.st_mtim.tv_nsec;
  if (mtime == st.mtime_ns && sb.st_size == st.size && sb.st_ino == st.inode) return;
  st.mtime_ns = mtime;
  st.size = sb.st_size;
  st.inode = sb.st_ino;
  const ParseLimits limits = config_.parse_limits;
  std::string text;
  if (static_cast<std::size_t>(sb.st_size) <= limits.max_bytes) {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
      // Unreadable now (out of descriptors, permissions): not a new version. Keep what is
      // live and read it again at the next poll.
      st.mtime_ns = 0;
      LogWarning("experiments: cannot read {} now; keeping its live version", path);
      return;
    }
    text.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  const std::string hash = Fingerprint(text);
  if (hash == st.content_hash && (st.parsed || !st.parse_errors.empty())) return;
  st.content_hash = hash;
  st.text = text;
  auto parsed =
      static_cast<std::size_t>(sb.st_size) <= limits.max_bytes ? [&]() -> ParseResult<Experiment> {
    auto tree = ParseConfigText(text, path, limits);
    if (!tree) return std::unexpected(std::move(tree.error()));
    return ReadExperiment(*tree, path);
  }()
      : LoadExperimentFile(path, limits);  // reports the size limit
  if (parsed) {
    Diagnostics surface = ResolveSurface(*parsed, config_.surfaces);
    if (surface.empty()) {
      st.parsed = std::make_shared<const Experiment>(std::move(*parsed));
      st.parse_errors.clear();
      return;
    }
    parsed = std::unexpected(std::move(surface));
  }
  st.parsed.reset();
  st.parse_errors = std::move(parsed.error());
}

void ExperimentRegistry::Reload() {
  std::lock_guard lock(reload_mu_);
  const auto live = Snapshot();
  Diagnostics errors;
  const auto listed = ListFiles(config_.experiments.dir, errors);
  // A folder that cannot be listed removes nothing: every known file is kept as it is.
  std::vector<std::string> paths;
  if (listed) {
    paths = *listed;
  } else {
    for (const auto& [path, state] : files_) paths.push_back(path);
    std::sort(paths.begin(), paths.end());
  }

  // Forget files that are gone; their experiments disappear from the live set.
  for (auto it = files_.begin(); it != files_.end();) {
    if (!std::binary_search(paths.begin(), paths.end(), it->first)) {
      if (it->second.last_good) {
        Audit({"removed",
               it->second.last_good->def.key,
               it->first,
               std::string(PhaseName(it->second.last_good->def.phase)),
               {},
               "",
               ""});
        LogInfo("experiments: {} removed ({})", it->second.last_good->def.key, it->first);
      }
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& p : paths) RefreshFile(p, files_[p]);

  // Accepted set: unchanged good files first (they were consistent), then changed ones.
  std::vector<std::shared_ptr<const LoadedExperiment>> accepted;
  std::vector<const Experiment*> accepted_defs;
  auto accept = [&](std::shared_ptr<const LoadedExperiment> e) {
    accepted_defs.push_back(&e->def);
    accepted.push_back(std::move(e));
  };
  std::vector<std::string> pending;
  for (auto& [path, st] : files_) {
    if (st.last_good && st.last_good->content_hash == st.content_hash) {
      accept(st.last_good);
    } else {
      pending.push_back(path);
    }
  }
  for (const auto& path : pending) {
    FileState& st = files_[path];
    Diagnostics problems = st.parse_errors;
    if (st.parsed) {
      problems = CheckAgainstOthers(*st.parsed, accepted_defs);
      // The version to compare with: the live one, else the one accepted in an earlier run.
      const std::string& key = st.parsed->key;
      const auto live_version = live->Find(key);
      const Accepted& earlier = AcceptedVersion(key);
      const Experiment* before = live_version ? &live_version->def : earlier.def.get();
      const std::string before_hash =
          live_version ? live_version->content_hash : earlier.content_hash;
      if (problems.empty() && before) {
        if (auto why = RefuseReshuffle(*before, *st.parsed)) {
          problems.push_back({path, st.parsed->line, st.parsed->column, "allow_reshuffle", *why});
        }
      }
      if (problems.empty()) {
        auto loaded = std::make_shared<const LoadedExperiment>(
            LoadedExperiment{*st.parsed, CompileSpec(*st.parsed), st.content_hash});
        if (before_hash != st.content_hash) {
          AuditEntry entry{"created",
                           key,
                           path,
                           std::string(PhaseName(loaded->def.phase)),
                           {},
                           loaded->def.allow_reshuffle,
                           st.content_hash};
          if (before) {
            entry.action = "changed";
            entry.changed = ChangedFields(*before, loaded->def);
          }
          Audit(entry);
          if (!options_.read_only) {
            LogInfo("experiments: {} {} from {} (phase {})", key, entry.action, path, entry.phase);
          }
          RecordAccepted(key, path, st.text, st.content_hash);
        }
        st.last_good = loaded;
        accept(std::move(loaded));
        continue;
      }
    }
    // Refused: report, and keep the last good version live if it still fits.
    if (st.refusal_logged != st.content_hash) {
      st.refusal_logged = st.content_hash;
      for (const auto& d : problems) LogError("experiments: {}", d.ToString());
      Audit({"refused",
             st.parsed ? st.parsed->key : std::string(),
             path,
             "",
             {},
             problems.empty() ? "" : problems.front().ToString(),
             st.content_hash});
    }
    errors.insert(errors.end(), problems.begin(), problems.end());
    if (!st.last_good) st.last_good = AcceptedInEarlierRun(path, st);
    if (st.last_good && CheckAgainstOthers(st.last_good->def, accepted_defs).empty()) {
      accept(st.last_good);
    }
  }
  std::sort(accepted.begin(), accepted.end(),
            [](const auto& a, const auto& b) { return a->def.key < b->def.key; });
  auto same_errors = [](const Diagnostics& a, const Diagnostics& b) {
    return std::equal(
        a.begin(), a.end(), b.begin(), b.end(),
        [](const Diagnostic& x, const Diagnostic& y) { return x.ToString() == y.ToString(); });
  };
  if (accepted == live->experiments && same_errors(errors, live->errors) && live->generation > 0) {
    return;
  }

  auto snap = std::make_shared<RegistrySnapshot>();
  snap->experiments = std::move(accepted);
  snap->errors = std::move(errors);
  snap->generation = live->generation + 1;
  snap->loaded_at_micros = clock_.NowMicros();
  snapshot_.store(std::move(snap));
}

void ExperimentRegistry::StartWatching() {
  if (config_.experiments.reload_interval_ms <= 0) return;
  watcher_.Start(std::chrono::milliseconds(config_.experiments.reload_interval_ms),
                 [this] { Reload(); });
}

void ExperimentRegistry::StopWatching() { watcher_.Stop(); }

}  // namespace abrec
