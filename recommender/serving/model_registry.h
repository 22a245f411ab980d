// The model registry: versioned model folders under recommender.model_dir,
//   MODEL_DIR/NAME/VERSION/{metadata.json, mf.bin, click.json, bind.json, legacy_rules.json}
// NAME is what an experiment's variant names (`model: hybrid`). The live version of NAME is
// the one named in MODEL_DIR/NAME/LIVE (one line) when that file exists, else the newest by
// metadata's created_at (ties: the greater folder name). Folders still being written
// (*.partial) and folders without metadata.json are not versions.
//
// Hot swap: Reload() (POST /v1/models/reload, and a watcher polling for file changes) loads
// a newly chosen version beside the old one and swaps the pointer: requests in flight keep
// the model they started with. A version that fails to load leaves the old one serving,
// with the error reported. A swap is approved first (the service writes its audit entry
// there): when approval fails, nothing is swapped.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/periodic_thread.h"
#include "recommender/data/catalog.h"
#include "recommender/model/model.h"

namespace abrec {

struct ModelVersionInfo {
  std::string name, version, dir, created_at;
  bool live = false;          // chosen by LIVE or newest
  bool loaded = false;        // the version the service serves now
  std::string metadata_json;  // "{}" when unreadable
  std::string error;          // why it is not a usable version, if so
};

// What the folder holds, without loading models (abrec models list reads this).
std::vector<ModelVersionInfo> ScanModelDir(const std::string& model_dir);

struct ModelReloadResult {
  std::string name, version, previous, status;  // status: loaded, unchanged, failed, removed
  std::string error;
};

class ModelRegistry {
 public:
  ModelRegistry(std::string model_dir, Catalog catalog, ModelLoadOptions options);
  ~ModelRegistry();

  // Called with a reload's results before any model is swapped, when one would be (a result
  // "loaded"). An error swaps nothing: those results become "failed" with its message.
  using Approve = std::function<Result<void>(const std::vector<ModelReloadResult>&)>;

  // Loads what changed, swapping once `approve` (if given) agrees. Thread-safe (one reload
  // at a time).
  std::vector<ModelReloadResult> Reload(const Approve& approve = {});
  // The live model of NAME, or null.
  std::shared_ptr<const RecommenderModel> Get(std::string_view name) const;
  // Any loaded model (the newest): for the legacy rules' segment data.
  std::shared_ptr<const RecommenderModel> Any() const;
  std::vector<ModelVersionInfo> List() const;
  // (name, version) of every model served now, without reading the folder.
  std::vector<std::pair<std::string, std::string>> LoadedVersions() const;
  std::uint64_t swaps() const { return swaps_.load(); }

  // Polls the folder every interval_ms and reloads on change, through `approve`; 0 does
  // nothing. A reload that was not approved is tried again after a wait that doubles with
  // each refusal, from interval_ms up to 5 minutes (each try loads every changed version
  // from disk), and at the next poll once one is approved.
  void StartWatching(int interval_ms, Approve approve = {});
  void StopWatching();

  const std::string& model_dir() const { return model_dir_; }
  const Catalog& catalog() const { return catalog_; }

 private:
  using Models = std::map<std::string, std::shared_ptr<const RecommenderModel>, std::less<>>;
  std::string model_dir_;
  Catalog catalog_;
  ModelLoadOptions options_;
  std::mutex reload_mu_;
  std::atomic<std::shared_ptr<const Models>> models_;
  std::atomic<std::uint64_t> swaps_{0};
  std::string fingerprint_;  // of the folder at the last reload; guarded by reload_mu_
  PeriodicThread watcher_;
};

}  // namespace abrec
