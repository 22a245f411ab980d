#include "recommender/serving/model_registry.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/log.h"

namespace abrec {
namespace fs = std::filesystem;
namespace {

constexpr std::uintmax_t kMaxMetadataBytes = 1 << 20;

std::string ReadSmallFile(const fs::path& path, std::uintmax_t limit) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec || size > limit) return {};
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::vector<fs::path> SortedSubdirectories(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// What decides the registry's choice: every name folder, LIVE file and metadata file with
// its modification time and size.
std::string Fingerprint(const std::string& model_dir) {
  std::string f;
  std::error_code ec;
  auto stamp = [&f, &ec](const fs::path& p) {
    const auto t = fs::last_write_time(p, ec);
    if (ec) return;
    f += fmt::format("{}:{}:{};", p.string(), t.time_since_epoch().count(),
                     fs::is_regular_file(p, ec) ? fs::file_size(p, ec) : 0);
  };
  for (const fs::path& name : SortedSubdirectories(model_dir)) {
    stamp(name);
    stamp(name / "LIVE");
    for (const fs::path& version : SortedSubdirectories(name)) stamp(version / "metadata.json");
  }
  return f;
}

}  // namespace

std::vector<ModelVersionInfo> ScanModelDir(const std::string& model_dir) {
  std::vector<ModelVersionInfo> out;
  for (const fs::path& name_dir : SortedSubdirectories(model_dir)) {
    const std::string name = name_dir.filename().string();
    const std::string live_file = Trim(ReadSmallFile(name_dir / "LIVE", 4096));
    const std::size_t first = out.size();
    for (const fs::path& dir : SortedSubdirectories(name_dir)) {
      const std::string version = dir.filename().string();
      if (version.ends_with(".partial")) continue;
      ModelVersionInfo info;
      info.name = name;
      info.version = version;
      info.dir = dir.string();
      const std::string text = ReadSmallFile(dir / "metadata.json", kMaxMetadataBytes);
      auto meta = nlohmann::json::parse(text, nullptr, false);
      if (text.empty() || meta.is_discarded() || !meta.is_object()) {
        info.metadata_json = "{}";
        info.error = "no readable metadata.json";
      } else {
        info.metadata_json = meta.dump();
        info.created_at = meta.value("created_at", "");
        if (meta.value("kind", "catalog") != "catalog") {
          info.error =
              fmt::format("a {} model (batch scoring only, not served)", meta.value("kind", ""));
        }
      }
      out.push_back(std::move(info));
    }
    // The live version: LIVE's, else the newest usable one.
    std::size_t live = out.size();
    for (std::size_t i = first; i < out.size(); ++i) {
      if (!out[i].error.empty()) continue;
      if (!live_file.empty()) {
        if (out[i].version == live_file) live = i;
        continue;
      }
      if (live == out.size() || std::tie(out[i].created_at, out[i].version) >=
                                    std::tie(out[live].created_at, out[live].version)) {
        live = i;
      }
    }
    if (live < out.size()) out[live].live = true;
  }
  return out;
}

ModelRegistry::ModelRegistry(std::string model_dir, Catalog catalog, ModelLoadOptions options)
    : model_dir_(std::move(model_dir)),
      catalog_(std::move(catalog)),
      options_(options),
      models_(std::make_shared<const Models>()) {}

ModelRegistry::~ModelRegistry() { StopWatching(); }

std::vector<ModelReloadResult> ModelRegistry::Reload(const Approve& approve) {
  std::lock_guard lock(reload_mu_);
  const std::string fingerprint = Fingerprint(model_dir_);
  const auto current = models_.load();
  auto next = std::make_shared<Models>();
  std::vector<ModelReloadResult> results;
  for (const ModelVersionInfo& v : ScanModelDir(model_dir_)) {
    if (!v.live) continue;
    ModelReloadResult r;
    r.name = v.name;
    r.version = v.version;
    const auto old = current->find(v.name);
    if (old != current->end()) r.previous = old->second->version();
    if (old != current->end() && old->second->dir() == v.dir) {
      r.status = "unchanged";
      next->emplace(v.name, old->second);
    } else if (auto loaded = RecommenderModel::Load(v.dir, catalog_, options_)) {
      r.status = "loaded";
      next->emplace(v.name, std::move(*loaded));
    } else {
      r.status = "failed";
      r.error = loaded.error().message;
      if (old != current->end()) next->emplace(v.name, old->second);
      LogWarning("models: {} version {} not loaded: {}", v.name, v.version, r.error);
    }
    results.push_back(std::move(r));
  }
  // A name whose folder has no usable version any more keeps serving its last model: a
  // deleted folder must not take recommendations down. It is reported.
  for (const auto& [name, model] : *current) {
    if (next->contains(name)) continue;
    next->emplace(name, model);
    results.push_back({.name = name,
                       .version = model->version(),
                       .previous = model->version(),
                       .status = "kept",
                       .error = "no usable version in the folder any more; the loaded one stays"});
  }
  const bool swaps =
      std::ranges::any_of(results, [](const ModelReloadResult& r) { return r.status == "loaded"; });
  if (swaps && approve) {
    if (auto ok = approve(results); !ok) {
      // Nothing changes; the next poll (or request) tries again.
      for (ModelReloadResult& r : results) {
        if (r.status != "loaded") continue;
        r.status = "failed";
        r.error = "not swapped: " + ok.error().message;
        LogWarning("models: {} version {} not swapped: {}", r.name, r.version, ok.error().message);
      }
      fingerprint_.clear();
      return results;
    }
  }
  for (const ModelReloadResult& r : results) {
    if (r.status != "loaded") continue;
    swaps_.fetch_add(1);
    const auto& model = next->at(r.name);
    LogInfo("models: {} version {} loaded from {}{}", r.name, r.version, model->dir(),
            r.previous.empty() ? "" : fmt::format(" (was {})", r.previous));
    if (model->reads_sex()) {
      LogWarning(
          "models: {} version {} reads the customer's sex (a model of an older version, or "
          "deliberately biased): retrain it with this version's `abrec train`, which hides "
          "sex, and check it with `abrec gate`",
          r.name, r.version);
    }
  }
  fingerprint_ = fingerprint;
  models_.store(std::move(next));
  return results;
}

std::shared_ptr<const RecommenderModel> ModelRegistry::Get(std::string_view name) const {
  const auto models = models_.load();
  const auto it = models->find(name);
  return it == models->end() ? nullptr : it->second;
}

std::shared_ptr<const RecommenderModel> ModelRegistry::Any() const {
  const auto models = models_.load();
  return models->empty() ? nullptr : models->begin()->second;
}

std::vector<std::pair<std::string, std::string>> ModelRegistry::LoadedVersions() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, model] : *models_.load()) out.emplace_back(name, model->version());
  return out;
}

std::vector<ModelVersionInfo> ModelRegistry::List() const {
  auto list = ScanModelDir(model_dir_);
  const auto models = models_.load();
  for (ModelVersionInfo& v : list) {
    const auto it = models->find(v.name);
    v.loaded = it != models->end() && it->second->dir() == v.dir;
  }
  return list;
}

void ModelRegistry::StartWatching(int interval_ms, Approve approve) {
  if (interval_ms <= 0) return;
  using Clock = std::chrono::steady_clock;
  constexpr auto kMaxBackoff = std::chrono::milliseconds(5 * 60 * 1000);
  const auto interval = std::chrono::milliseconds(interval_ms);
  watcher_.Start(
      interval, [this, interval, kMaxBackoff, approve = std::move(approve),
                 backoff = std::chrono::milliseconds(0), retry_at = Clock::time_point{}]() mutable {
        if (Clock::now() < retry_at) return;
        bool changed;
        {
          std::lock_guard reload(reload_mu_);
          changed = Fingerprint(model_dir_) != fingerprint_;
        }
        if (!changed) return;
        Reload(approve);
        std::lock_guard reload(reload_mu_);
        if (fingerprint_.empty()) {  // refused (Reload forgets the fingerprint): wait longer
          backoff = std::min(std::max(backoff * 2, interval), kMaxBackoff);
          retry_at = Clock::now() + backoff;
        } else {
          backoff = std::chrono::milliseconds(0);
        }
      });
}

void ModelRegistry::StopWatching() { watcher_.Stop(); }

}  // namespace abrec
