// The native form's top level and its small sections (description, owner, surface, seed,
// phase, analysis, fairness, rollout variant, auto_stop); the larger sections have files of
// their own (reader_sections.h).
#include "experiments/experiment_reader.h"

#include <regex>

#include <fmt/format.h>

#include "configtree/schema_reader.h"
#include "experiments/reader_sections.h"

namespace abrec {
namespace {

constexpr std::string_view kTopKeys[] = {
    "experiment", "description", "owner",           "surface",         "phase",
    "seed",       "traffic",     "namespace",       "variants",        "metrics",
    "analysis",   "fairness",    "rollout_variant", "allow_reshuffle", "auto_stop"};

bool IsIdentifier(std::string_view s, std::size_t max_len) {
  static const std::regex kId("[A-Za-z0-9][A-Za-z0-9_.-]*");
  return !s.empty() && s.size() <= max_len && std::regex_match(s.begin(), s.end(), kId);
}

void ReadStrings(SchemaReader& r, const ConfigNode& root, Experiment& e) {
  if (const auto* n = root.Find("description")) {
    if (auto s = r.String(*n, "description", true)) e.description = *s;
  }
  if (const auto* n = root.Find("owner")) {
    if (auto s = r.String(*n, "owner")) e.owner = *s;
  }
  if (const auto* n = root.Find("surface")) {
    if (auto s = ReadIdentifier(r, *n, "surface", "surface name")) e.surface = *s;
  }
  if (const auto* n = root.Find("seed")) {
    if (auto s = r.String(*n, "seed")) e.seed = *s;
  }
  if (const auto* n = root.Find("allow_reshuffle")) {
    if (auto s = r.String(*n, "allow_reshuffle")) e.allow_reshuffle = *s;
  }
}

void ReadAnalysis(SchemaReader& r, const ConfigNode& root, Experiment& e) {
  const auto* n = root.Find("analysis");
  if (!n) return;
  if (!r.CheckMap(
          *n, "analysis",
          {"alpha", "sequential", "tuning_n", "mde", "premium_cap_quantile", "planned_users"})) {
    return;
  }
  if (const auto* v = n->Find("alpha")) {
    if (auto x = r.Number(*v, "analysis.alpha", 1e-6, 0.5)) e.analysis.alpha = *x;
  }
  if (const auto* v = n->Find("sequential")) {
    if (auto x = r.Bool(*v, "analysis.sequential")) e.analysis.sequential = *x;
  }
  if (const auto* v = n->Find("tuning_n")) {
    if (auto x = r.Number(*v, "analysis.tuning_n", 1.0, 1e12)) e.analysis.tuning_n = *x;
  }
  if (const auto* v = n->Find("mde")) {
    if (auto x = r.Number(*v, "analysis.mde", 1e-6, 10.0)) e.analysis.mde = *x;
  }
  if (const auto* v = n->Find("premium_cap_quantile")) {
    // Capping below the median would rewrite most of the data, not its tail.
    if (auto x = r.Number(*v, "analysis.premium_cap_quantile", 0.5, 1.0)) {
      e.analysis.premium_cap_quantile = *x;
    }
  }
  if (const auto* v = n->Find("planned_users")) {
    if (auto x = r.Integer(*v, "analysis.planned_users", 0, 1'000'000'000'000)) {
      e.analysis.planned_users = *x;
    }
  }
}

void ReadFairness(SchemaReader& r, const ConfigNode& root, Experiment& e) {
  const auto* n = root.Find("fairness");
  if (!n) return;
  if (!r.CheckMap(*n, "fairness", {"attributes", "max_parity_gap"})) return;
  if (const auto* a = n->Find("attributes")) {
    if (!a->IsSequence()) {
      r.Error(*a, "fairness.attributes",
              fmt::format("expected a list of user attributes, got {}", a->KindName()));
    } else {
      for (std::size_t i = 0; i < a->items.size(); ++i) {
        if (auto s = ReadIdentifier(r, a->items[i], fmt::format("fairness.attributes[{}]", i),
                                    "attribute name")) {
          e.fairness.attributes.push_back(*s);
        }
      }
    }
  }
  if (const auto* g = n->Find("max_parity_gap")) {
    if (auto x = r.Number(*g, "fairness.max_parity_gap", 0.0, 1.0)) e.fairness.max_parity_gap = *x;
  }
}

// After the variants and the phase: it names a variant, and a rollout without a variant
// named treatment must name one.
void ReadRolloutVariant(SchemaReader& r, const ConfigNode& root, Experiment& e) {
  if (const auto* n = root.Find("rollout_variant")) {
    auto s = r.String(*n, "rollout_variant");
    if (!s) return;
    if (e.VariantIndex(*s) < 0 && !e.variants.empty()) {
      r.Error(*n, "rollout_variant",
              fmt::format("\"{}\" is not a variant; variants: {}", *s, VariantNames(e)));
      return;
    }
    e.rollout_variant = *s;
  } else if (e.phase == Phase::kRollout && !e.variants.empty() && e.VariantIndex("treatment") < 0) {
    r.Missing(root, "rollout_variant",
              "the variant to roll out (phase is rollout and no variant is named treatment)");
  }
}

// The sections in this order, so that the diagnostics follow the schema's.
Experiment ReadNativeForm(SchemaReader& r, const ConfigNode& root) {
  Experiment e;
  r.CheckMap(root, "", kTopKeys);
  if (const auto* n = root.Find("experiment")) {
    if (auto s = ReadIdentifier(r, *n, "experiment", "experiment key")) e.key = *s;
  } else {
    r.Missing(root, "experiment", "the experiment key, e.g. experiment: recsys_v2_hybrid");
  }
  ReadStrings(r, root, e);
  ReadPhase(r, root.Find("phase"), e);
  ReadVariants(r, root, e);
  ReadTraffic(r, root, e);
  ReadNamespace(r, root, e);
  if (const auto* n = root.Find("metrics")) {
    ReadMetrics(r, *n, e.metrics);
  } else {
    r.Missing(root, "metrics", "metrics: {primary: bind_rate, ...}");
  }
  ReadAnalysis(r, root, e);
  ReadFairness(r, root, e);
  ReadRolloutVariant(r, root, e);
  if (const auto* n = root.Find("auto_stop")) e.auto_stop = r.Bool(*n, "auto_stop").value_or(false);
  return e;
}

}  // namespace

std::optional<std::string> ReadIdentifier(SchemaReader& r, const ConfigNode& n,
                                          std::string_view field, std::string_view what) {
  auto s = r.String(n, field);
  if (s && !IsIdentifier(*s, 64)) {
    r.Error(n, std::string(field),
            fmt::format("\"{}\" is not a valid {}: use {}", *s, what, kExperimentKeyRule));
    return std::nullopt;
  }
  return s;
}

void ReadPhase(SchemaReader& r, const ConfigNode* n, Experiment& e) {
  if (!n) return;  // default: shadow
  if (auto s = r.OneOf(*n, "phase", kPhaseNames, "phase")) e.phase = *ParsePhase(*s);
}

bool IsExperimentKey(std::string_view key) { return IsIdentifier(key, 64); }

ParseResult<Experiment> ReadExperiment(const ConfigNode& root, const std::string& file) {
  SchemaReader r(file);
  if (!root.IsMap()) {
    r.Error(root, "",
            fmt::format("expected a map describing one experiment, got {}", root.KindName()));
    return std::unexpected(r.TakeDiagnostics());
  }
  Experiment e = root.Find("experiment_name") && !root.Find("experiment") ? ReadSeedForm(r, root)
                                                                          : ReadNativeForm(r, root);
  if (!r.ok()) return std::unexpected(r.TakeDiagnostics());
  e.file = file;
  const ConfigNode* key =
      root.Find("experiment") ? root.Find("experiment") : root.Find("experiment_name");
  e.line = key->line;
  e.column = key->column;
  return e;
}

ParseResult<Experiment> LoadExperimentFile(const std::string& path, const ParseLimits& limits) {
  auto tree = ParseConfigFile(path, limits);
  if (!tree) return std::unexpected(std::move(tree.error()));
  return ReadExperiment(*tree, path);
}

}  // namespace abrec
