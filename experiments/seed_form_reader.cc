// The seed document's JSON form (reader_sections.h; DESIGN.md gives the mapping): two
// variants, control and treatment, named by the seed's policy names, and the treatment's share.
#include <fmt/format.h>

#include "experiments/reader_sections.h"

namespace abrec {
namespace {

constexpr std::string_view kSeedJsonKeys[] = {
    "experiment_name", "traffic_split", "variants", "metrics",        "phase",
    "description",     "owner",         "surface",  "allow_reshuffle"};

// {"control": POLICY, "treatment": POLICY}, with the treatment's share `x`.
void ReadSeedVariants(SchemaReader& r, const ConfigNode& n, double x, Experiment& e) {
  if (!n.IsMap()) {
    r.Error(n, "variants",
            fmt::format("expected a map of variant name to policy, got {}", n.KindName()));
    return;
  }
  for (std::size_t i = 0; i < n.keys.size(); ++i) {
    const std::string field = JoinField("variants", n.keys[i].value);
    auto s = r.String(n.items[i], field);
    if (!s) continue;
    Variant v;
    v.name = n.keys[i].value;
    if (*s == "Legacy_Rule_Based" || *s == "legacy_rules") {
      v.policy = Policy::kLegacyRules;
    } else if (*s == "Hybrid_LightFM" || *s == "recommender") {
      v.policy = Policy::kRecommender;
      v.model = "hybrid";
    } else if (*s == "random" || *s == "none") {
      v.policy = *ParsePolicy(*s);
    } else {
      r.Error(n.items[i], field,
              fmt::format("\"{}\" is not a known policy; allowed: Legacy_Rule_Based, "
                          "Hybrid_LightFM, {}",
                          *s, JoinNames(kPolicyNames)));
      continue;
    }
    v.weight = v.name == "control" ? 1.0 - x : (v.name == "treatment" ? x : 0.0);
    if (v.name != "control" && v.name != "treatment") {
      r.Error(n.keys[i], field,
              "the JSON form has exactly two variants, control and treatment; use the YAML "
              "form for more");
      continue;
    }
    AddVariant(r, n.keys[i], field, std::move(v), e);
  }
  CheckVariantSet(r, n, e);
  if (e.VariantIndex("treatment") < 0 && e.variants.size() >= 2) {
    r.Error(n, "variants", "the JSON form needs a variant named treatment");
  }
}

}  // namespace

Experiment ReadSeedForm(SchemaReader& r, const ConfigNode& root) {
  Experiment e;
  r.CheckMap(root, "", kSeedJsonKeys);
  if (auto s =
          ReadIdentifier(r, *root.Find("experiment_name"), "experiment_name", "experiment key")) {
    e.key = *s;
  }
  for (std::string_view k : {"description", "owner", "surface", "allow_reshuffle"}) {
    if (const auto* n = root.Find(k)) {
      if (auto s = r.String(*n, k, k == "description")) {
        if (k == "description") e.description = *s;
        if (k == "owner") e.owner = *s;
        if (k == "surface") e.surface = *s;
        if (k == "allow_reshuffle") e.allow_reshuffle = *s;
      }
    }
  }
  ReadPhase(r, root.Find("phase"), e);
  double x = 0.5;
  if (const auto* n = root.Find("traffic_split")) {
    if (auto v = r.Number(*n, "traffic_split", 0.0, 1.0)) x = *v;
  } else {
    r.Missing(root, "traffic_split", "the treatment's share, e.g. 0.5");
  }
  if (const auto* n = root.Find("variants")) {
    ReadSeedVariants(r, *n, x, e);
  } else {
    r.Missing(root, "variants",
              "{\"control\": \"Legacy_Rule_Based\", \"treatment\": \"Hybrid_LightFM\"}");
  }
  if (const auto* n = root.Find("metrics")) {
    ReadMetrics(r, *n, e.metrics);
  } else {
    r.Missing(root, "metrics", "[\"bind_rate\", \"click_rate\", \"premium_lift\"]");
  }
  return e;
}

}  // namespace abrec
