// Who is assigned to which arm (reader_sections.h): the variants, the traffic split between
// them and the namespace shared with mutually exclusive experiments.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "experiments/experiment_reader.h"
#include "experiments/reader_sections.h"

namespace abrec {
namespace {

// Bucket names of the platform: a variant may not take them.
constexpr std::string_view kReservedNames[] = {"holdout", "exploration", "not_enrolled"};
constexpr double kWeightTolerance = 1e-6;
constexpr std::size_t kMaxVariants = 16;

}  // namespace

std::string VariantNames(const Experiment& e) {
  std::string out;
  for (const auto& v : e.variants) out += (out.empty() ? "" : ", ") + v.name;
  return out;
}

void CheckVariantSet(SchemaReader& r, const ConfigNode& at, const Experiment& e) {
  if (e.variants.size() < 2) {
    r.Error(at, "variants", "at least two variants are needed (control and a treatment)");
  }
  if (e.variants.size() > kMaxVariants) {
    r.Error(at, "variants", fmt::format("at most {} variants are allowed", kMaxVariants));
  }
  if (!e.variants.empty() && e.ControlIndex() < 0) {
    r.Error(at, "variants",
            "one variant must be named control: the baseline the others are compared with");
  }
}

void AddVariant(SchemaReader& r, const ConfigNode& key_node, const std::string& field, Variant v,
                Experiment& e) {
  if (!IsExperimentKey(v.name)) {
    r.Error(key_node, field,
            fmt::format("\"{}\" is not a valid variant name: use letters, digits, '_', '-', '.'",
                        v.name));
    return;
  }
  if (std::find(std::begin(kReservedNames), std::end(kReservedNames), v.name) !=
      std::end(kReservedNames)) {
    r.Error(key_node, field,
            fmt::format("\"{}\" is a platform bucket name and cannot be a variant", v.name));
    return;
  }
  e.variants.push_back(std::move(v));
}

void ReadVariants(SchemaReader& r, const ConfigNode& root, Experiment& e) {
  const auto* n = root.Find("variants");
  if (!n) {
    r.Missing(root, "variants", "variants: {control: {policy: legacy_rules}, treatment: {...}}");
    return;
  }
  if (!n->IsMap()) {
    r.Error(*n, "variants",
            fmt::format("expected a map of variant name to settings, got {}", n->KindName()));
    return;
  }
  for (std::size_t i = 0; i < n->keys.size(); ++i) {
    const std::string field = JoinField("variants", n->keys[i].value);
    const ConfigNode& body = n->items[i];
    if (!r.CheckMap(body, field, {"policy", "model"})) continue;
    Variant v;
    v.name = n->keys[i].value;
    std::optional<Policy> policy;  // unset: missing or unknown (reported)
    if (const auto* p = body.Find("policy")) {
      if (auto s = r.OneOf(*p, JoinField(field, "policy"), kPolicyNames, "policy")) {
        policy = ParsePolicy(*s);
      }
    } else {
      r.Missing(body, JoinField(field, "policy"),
                fmt::format("one of {}", JoinNames(kPolicyNames)));
    }
    if (policy) v.policy = *policy;
    if (const auto* m = body.Find("model")) {
      if (auto s = ReadIdentifier(r, *m, JoinField(field, "model"), "model name")) {
        if (policy && *policy != Policy::kRecommender) {
          r.Error(*m, JoinField(field, "model"), "only the recommender policy takes a model");
        }
        v.model = *s;
      }
    } else if (policy == Policy::kRecommender) {
      v.model = "hybrid";
    }
    AddVariant(r, n->keys[i], field, std::move(v), e);
  }
  CheckVariantSet(r, *n, e);
}

void ReadTraffic(SchemaReader& r, const ConfigNode& root, Experiment& e) {
  const auto* n = root.Find("traffic");
  if (!n) {
    r.Missing(root, "traffic", "traffic: {coverage: 1.0, split: {control: 0.5, treatment: 0.5}}");
    return;
  }
  if (!r.CheckMap(*n, "traffic", {"coverage", "split"})) return;
  if (const auto* c = n->Find("coverage")) {
    if (auto v = r.Number(*c, "traffic.coverage", 0.0, 1.0)) e.coverage = *v;
  }
  const auto* split = n->Find("split");
  if (!split) {
    r.Missing(*n, "traffic.split",
              "the share of each variant, e.g. {control: 0.5, treatment: 0.5}");
    return;
  }
  if (!split->IsMap()) {
    r.Error(*split, "traffic.split",
            fmt::format("expected a map of variant name to weight, got {}", split->KindName()));
    return;
  }
  std::vector<std::string_view> names;
  for (const auto& v : e.variants) names.push_back(v.name);
  std::vector<bool> seen(e.variants.size(), false);
  double total = 0;
  bool all_read = true;
  for (std::size_t i = 0; i < split->keys.size(); ++i) {
    const std::string& name = split->keys[i].value;
    const std::string field = JoinField("traffic.split", name);
    const auto w = r.Number(split->items[i], field, 0.0, 1.0);
    const int idx = e.VariantIndex(name);
    if (idx < 0) {
      std::string msg = fmt::format("\"{}\" is not a variant; variants: {}", name, VariantNames(e));
      if (const auto s = SuggestName(name, names))
        msg += fmt::format(" (did you mean \"{}\"?)", *s);
      r.Error(split->keys[i], field, std::move(msg));
      all_read = false;
      continue;
    }
    if (!w) {
      all_read = false;
      continue;
    }
    e.variants[static_cast<std::size_t>(idx)].weight = *w;
    seen[static_cast<std::size_t>(idx)] = true;
    total += *w;
  }
  for (std::size_t i = 0; i < seen.size(); ++i) {
    if (!seen[i] && all_read) {
      r.Error(*split, JoinField("traffic.split", e.variants[i].name),
              fmt::format("variant \"{}\" has no weight; give every variant a share",
                          e.variants[i].name));
      all_read = false;
    }
  }
  if (all_read && std::fabs(total - 1.0) > kWeightTolerance) {
    r.Error(*split, "traffic.split", fmt::format("weights sum to {}; they must sum to 1", total));
  }
}

void ReadNamespace(SchemaReader& r, const ConfigNode& root, Experiment& e) {
  const auto* n = root.Find("namespace");
  if (!n) return;
  if (!r.CheckMap(*n, "namespace", {"name", "range"})) return;
  NamespaceRange ns;
  bool ok = true;
  if (const auto* name = n->Find("name")) {
    auto s = ReadIdentifier(r, *name, "namespace.name", "namespace name");
    ok = ok && s.has_value();
    if (s) ns.name = *s;
  } else {
    r.Missing(*n, "namespace.name", "the namespace shared by mutually exclusive experiments");
    ok = false;
  }
  if (const auto* range = n->Find("range")) {
    if (!range->IsSequence() || range->items.size() != 2) {
      r.Error(*range, "namespace.range", "expected [start, end] with 0 <= start < end <= 1");
      ok = false;
    } else {
      const auto a = r.Number(range->items[0], "namespace.range[0]", 0.0, 1.0);
      const auto b = r.Number(range->items[1], "namespace.range[1]", 0.0, 1.0);
      if (a && b && *a >= *b) {
        r.Error(*range, "namespace.range", "start must be below end: expected [start, end]");
        ok = false;
      }
      if (a && b) {
        ns.start = *a;
        ns.end = *b;
      } else {
        ok = false;
      }
    }
  } else {
    r.Missing(*n, "namespace.range", "[start, end] within [0, 1]");
    ok = false;
  }
  if (ok) e.ns = ns;
}

}  // namespace abrec
