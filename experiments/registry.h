// The live set of experiments, loaded from config/experiments/*.yaml, *.yml and *.json and
// reloaded when a file changes, without a restart. A file that fails validation keeps its
// last good version live; its errors are reported in the log and in the snapshot (/readyz).
// Every accepted or refused change is written to the audit log.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "assignment/assigner.h"
#include "base/clock.h"
#include "base/periodic_thread.h"
#include "experiments/audit_log.h"
#include "experiments/experiment.h"
#include "experiments/experiments_config.h"

namespace abrec {

// An accepted experiment with its assignment spec compiled. Immutable once published.
struct LoadedExperiment {
  Experiment def;
  AssignmentSpec spec;
  std::string content_hash;  // FNV-1a 64 of the file's bytes, hex
};

// Compiles the assignment spec of a validated experiment (phase → mode).
AssignmentSpec CompileSpec(const Experiment& e);

// An immutable view of the registry at one moment; readers hold it as long as they need.
struct RegistrySnapshot {
  std::vector<std::shared_ptr<const LoadedExperiment>> experiments;  // sorted by key
  Diagnostics errors;           // problems in files right now (last good versions stay live)
  std::int64_t generation = 0;  // increases with every published change
  std::int64_t loaded_at_micros = 0;

  std::shared_ptr<const LoadedExperiment> Find(std::string_view key) const;
};

struct RegistryOptions {
  // Read-only tools (abrec assign) apply the same rules but write no audit entries and no
  // accepted versions.
  bool read_only = false;
};

class ExperimentRegistry {
 public:
  // `audit` and `clock` must outlive the registry.
  ExperimentRegistry(RegistryConfig config, AuditLog& audit, const Clock& clock,
                     RegistryOptions options = {});
  ~ExperimentRegistry();
  ExperimentRegistry(const ExperimentRegistry&) = delete;
  ExperimentRegistry& operator=(const ExperimentRegistry&) = delete;

  // Scans the folder and publishes a new snapshot when anything changed. Safe to call from
  // any thread while others read; reloads are serialised.
  void Reload();

  // The current snapshot; lock-free for readers.
  std::shared_ptr<const RegistrySnapshot> Snapshot() const { return snapshot_.load(); }

  // Polls the folder every experiments.reload_interval_ms on a background thread.
  void StartWatching();
  void StopWatching();

 private:
  struct FileState {
    std::int64_t mtime_ns = -1;
    std::int64_t size = -1;
    std::uint64_t inode = 0;
    std::string content_hash;
    std::string text;                          // the bytes parsed
    std::shared_ptr<const Experiment> parsed;  // null when parsing failed
    Diagnostics parse_errors;
    std::shared_ptr<const LoadedExperiment> last_good;
    std::string refusal_logged;  // content hash whose refusal is already in the audit log
  };

  // The last accepted version of an experiment (from a previous run), or null.
  struct Accepted {
    std::string content_hash;
    std::shared_ptr<const Experiment> def;
  };
  const Accepted& AcceptedVersion(const std::string& key);
  void RecordAccepted(const std::string& key, const std::string& source, const std::string& text,
                      const std::string& content_hash);

  // For a file refused in this run: the version of its experiment accepted in an earlier
  // run (found by key, or by file path when the file does not parse), or null.
  std::shared_ptr<const LoadedExperiment> AcceptedInEarlierRun(const std::string& path,
                                                               const FileState& st);
  void RefreshFile(const std::string& path, FileState& st);
  void Audit(const AuditEntry& entry);

  const RegistryConfig config_;
  const Clock& clock_;
  AuditLog& audit_;
  RegistryOptions options_;
  std::map<std::string, Accepted> accepted_;          // guarded by reload_mu_
  std::map<std::string, std::string> key_of_source_;  // file path -> key, guarded by reload_mu_
  bool sources_loaded_ = false;
  std::mutex reload_mu_;
  std::map<std::string, FileState> files_;  // guarded by reload_mu_
  std::atomic<std::shared_ptr<const RegistrySnapshot>> snapshot_;

  PeriodicThread watcher_;
};

}  // namespace abrec
