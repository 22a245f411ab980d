#include "experiments/registry.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <doctest/doctest.h>

#include "test_util.h"

namespace abrec {

using testing::Contains;
using testing::Edit;

namespace {

namespace fs = std::filesystem;

class TempPlatform {
 public:
  TempPlatform() {
    root_ = fs::temp_directory_path() /
            ("abrec-registry-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::remove_all(root_);
    fs::create_directories(root_ / "experiments");
    config_.surfaces.file = (root_ / "abrec.yaml").string();
    config_.surfaces.surfaces["portal_home"] = {};
    config_.surfaces.surfaces["renewal_page"] = {};
    config_.experiments.dir = (root_ / "experiments").string();
    config_.experiments.audit_log = (root_ / "audit.log").string();
    config_.experiments.accepted_dir = (root_ / "accepted").string();
  }
  ~TempPlatform() { fs::remove_all(root_); }

  void Write(const std::string& name, const std::string& text) {
    const fs::path tmp = root_ / "experiments" / ("." + name + ".tmp");
    std::ofstream(tmp) << text;
    fs::rename(tmp, root_ / "experiments" / name);  // atomic, as editors and the admin API do
  }
  void Remove(const std::string& name) { fs::remove(root_ / "experiments" / name); }
  std::vector<std::string> AuditLines() const {
    std::ifstream f(config_.experiments.audit_log);
    std::vector<std::string> lines;
    for (std::string l; std::getline(f, l);) lines.push_back(l);
    return lines;
  }
  const RegistryConfig& config() const { return config_; }

 private:
  static inline int counter_ = 0;
  fs::path root_;
  RegistryConfig config_;
};

}  // namespace

TEST_CASE("the registry loads YAML and JSON files and fills default surfaces") {
  TempPlatform t;
  t.Write("a.yaml", testing::kValidYaml);
  t.Write("b.json",
          R"({"experiment_name": "seed_form", "surface": "renewal_page", "traffic_split": 0.5,
    "variants": {"control": "Legacy_Rule_Based", "treatment": "Hybrid_LightFM"}, "metrics": ["bind_rate"]})");
  t.Write("notes.txt", "not an experiment");
  ManualClock clock(1000);
  AuditLog audit(t.config().experiments.audit_log, clock);
  ExperimentRegistry r(t.config(), audit, clock);
  r.Reload();
  const auto snap = r.Snapshot();
  CHECK(snap->errors.empty());
  REQUIRE(snap->experiments.size() == 2);
  CHECK(snap->Find("recsys_v2_hybrid") != nullptr);
  CHECK(snap->Find("seed_form")->def.surface == "renewal_page");
  CHECK(snap->Find("nope") == nullptr);
  CHECK(snap->generation == 1);
  CHECK(t.AuditLines().size() == 2);
  r.Reload();  // nothing changed: same snapshot
  CHECK(r.Snapshot() == snap);
}

TEST_CASE("a bad file keeps its last good version live and reports the error") {
  TempPlatform t;
  ManualClock clock;
  AuditLog audit(t.config().experiments.audit_log, clock);
  ExperimentRegistry r(t.config(), audit, clock);
  const std::string shadow = Edit("phase: ab_test", "phase: shadow");
  t.Write("a.yaml", shadow);
  r.Reload();
  const auto good = r.Snapshot()->Find("recsys_v2_hybrid");
  REQUIRE(good != nullptr);

  t.Write("a.yaml", Edit("treatment: 0.5}", "treatment: 0.4}", shadow));
  r.Reload();
  auto snap = r.Snapshot();
  CHECK(snap->Find("recsys_v2_hybrid") == good);
  REQUIRE(snap->errors.size() == 1);
  CHECK(Contains(snap->errors[0].ToString(), "a.yaml:8:10: traffic.split: weights sum to 0.9"));

  t.Write("a.yaml", Edit("owner: pm@example.com", "owner: new@example.com", shadow));
  r.Reload();
  snap = r.Snapshot();
  CHECK(snap->errors.empty());
  CHECK(snap->Find("recsys_v2_hybrid")->def.owner == "new@example.com");

  t.Remove("a.yaml");
  r.Reload();
  CHECK(r.Snapshot()->experiments.empty());
  const auto lines = t.AuditLines();
  REQUIRE(lines.size() == 4);
  CHECK(Contains(lines[0], "\"action\":\"created\""));
  CHECK(Contains(lines[1], "\"action\":\"refused\""));
  CHECK(Contains(lines[2], "\"action\":\"changed\""));
  CHECK(Contains(lines[2], "\"changed\":[\"owner\"]"));
  CHECK(Contains(lines[3], "\"action\":\"removed\""));
}

TEST_CASE("a reshuffle in ab_test is refused live and across restarts") {
  TempPlatform t;
  ManualClock clock;
  AuditLog audit(t.config().experiments.audit_log, clock);
  const char* split = "split: {control: 0.5, treatment: 0.5}";
  {
    ExperimentRegistry r(t.config(), audit, clock);
    t.Write("a.yaml", testing::kValidYaml);
    r.Reload();
    t.Write("a.yaml", Edit(split, "split: {control: 0.3, treatment: 0.7}"));
    r.Reload();
    const auto snap = r.Snapshot();
    CHECK(snap->Find("recsys_v2_hybrid")->def.variants[1].weight == 0.5);
    REQUIRE(snap->errors.size() == 1);
    CHECK(snap->errors[0].field == "allow_reshuffle");
    t.Write("a.yaml", Edit(split,
                           "split: {control: 0.3, treatment: 0.7}\nallow_reshuffle: \"fix "
                           "imbalance, ticket 42\""));
    r.Reload();
    CHECK(r.Snapshot()->Find("recsys_v2_hybrid")->def.variants[1].weight == 0.7);
    CHECK(r.Snapshot()->errors.empty());
  }
  const std::size_t lines_before = t.AuditLines().size();
  CHECK(lines_before == 3);
  {
    // Restart with the same files: nothing new to audit.
    ExperimentRegistry r(t.config(), audit, clock);
    r.Reload();
    CHECK(r.Snapshot()->errors.empty());
    CHECK(t.AuditLines().size() == lines_before);
  }
  // A reshuffle made while the service was down, reusing the old reason.
  t.Write(
      "a.yaml",
      Edit(split,
           "split: {control: 0.6, treatment: 0.4}\nallow_reshuffle: \"fix imbalance, ticket 42\""));
  {
    ExperimentRegistry r(t.config(), audit, clock);
    r.Reload();
    const auto snap = r.Snapshot();
    REQUIRE(snap->errors.size() == 1);
    CHECK(Contains(snap->errors[0].message, "with a new reason"));
    // The version accepted in the earlier run stays live.
    const auto live = snap->Find("recsys_v2_hybrid");
    REQUIRE(live != nullptr);
    CHECK(live->def.variants[1].weight == 0.7);
    CHECK(live->def.file.ends_with("a.yaml"));
  }
  // Broken while down: the file does not even parse; found by its path.
  t.Write("a.yaml", "experiment: [");
  {
    ExperimentRegistry r(t.config(), audit, clock);
    r.Reload();
    const auto snap = r.Snapshot();
    REQUIRE(snap->errors.size() == 1);
    REQUIRE(snap->Find("recsys_v2_hybrid") != nullptr);
    CHECK(snap->Find("recsys_v2_hybrid")->def.variants[1].weight == 0.7);
  }
}

TEST_CASE("duplicate keys and overlapping namespaces across files are refused") {
  TempPlatform t;
  ManualClock clock;
  AuditLog audit(t.config().experiments.audit_log, clock);
  ExperimentRegistry r(t.config(), audit, clock);
  t.Write("a.yaml", testing::kValidYaml);
  t.Write("b.yaml", testing::kValidYaml);
  t.Write("c.yaml", Edit("experiment: recsys_v2_hybrid", "experiment: other",
                         Edit("range: [0.0, 1.0]", "range: [0.5, 1.0]")));
  r.Reload();
  const auto snap = r.Snapshot();
  REQUIRE(snap->experiments.size() == 1);
  CHECK(snap->experiments[0]->def.file.ends_with("a.yaml"));
  REQUIRE(snap->errors.size() == 2);
  CHECK(Contains(snap->errors[0].ToString(), "b.yaml:1:13: experiment: duplicate experiment key"));
  CHECK(Contains(snap->errors[1].ToString(),
                 "c.yaml:1:13: namespace: namespace range [0.5, 1) overlaps"));
}

TEST_CASE("the read-only registry writes nothing") {
  TempPlatform t;
  ManualClock clock;
  AuditLog audit(t.config().experiments.audit_log, clock);
  ExperimentRegistry r(t.config(), audit, clock, RegistryOptions{.read_only = true});
  t.Write("a.yaml", testing::kValidYaml);
  r.Reload();
  CHECK(r.Snapshot()->experiments.size() == 1);
  CHECK(t.AuditLines().empty());
  CHECK_FALSE(std::filesystem::exists(t.config().experiments.accepted_dir));
}

}  // namespace abrec
