#include "experiments/experiment_reader.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <initializer_list>
#include <regex>

#include <fmt/format.h>

#include "configtree/schema_reader.h"

namespace abrec {
namespace {

constexpr std::string_view kTopKeys[] = {
    "experiment", "description", "owner",           "surface",         "phase",
    "seed",       "traffic",     "namespace",       "variants",        "metrics",
    "analysis",   "fairness",    "rollout_variant", "allow_reshuffle", "auto_stop"};
constexpr std::string_view kSeedJsonKeys[] = {
    "experiment_name", "traffic_split", "variants", "metrics",        "phase",
    "description",     "owner",         "surface",  "allow_reshuffle"};
// Bucket names of the platform: a variant may not take them.
constexpr std::string_view kReservedNames[] = {"holdout", "exploration", "not_enrolled"};
constexpr double kWeightTolerance = 1e-6;
constexpr std::size_t kMaxVariants = 16;

bool IsIdentifier(std::string_view s, std::size_t max_len) {
  static const std::regex kId("[A-Za-z0-9][A-Za-z0-9_.-]*");
  return !s.empty() && s.size() <= max_len && std::regex_match(s.begin(), s.end(), kId);
}

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

class NativeReader {
 public:
  NativeReader(SchemaReader& r, const ConfigNode& root) : r_(r), root_(root) {}

  Experiment Read() {
    r_.CheckMap(root_, "", kTopKeys);
    if (const auto* n = root_.Find("experiment")) {
      if (auto s = ReadIdentifier(r_, *n, "experiment", "experiment key")) e_.key = *s;
    } else {
      r_.Missing(root_, "experiment", "the experiment key, e.g. experiment: recsys_v2_hybrid");
    }
    ReadStrings();
    ReadPhase(root_.Find("phase"));
    ReadVariants();
    ReadTraffic();
    ReadNamespace();
    if (const auto* n = root_.Find("metrics")) {
      ReadMetrics(*n);
    } else {
      r_.Missing(root_, "metrics", "metrics: {primary: bind_rate, ...}");
    }
    ReadAnalysis();
    ReadFairness();
    ReadRolloutVariant(root_.Find("rollout_variant"));
    if (const auto* n = root_.Find("auto_stop"))
      e_.auto_stop = r_.Bool(*n, "auto_stop").value_or(false);
    return std::move(e_);
  }

  // Shared with the seed JSON form.
  void ReadPhase(const ConfigNode* n) {
    if (!n) return;  // default: shadow
    if (auto s = r_.OneOf(*n, "phase", kPhaseNames, "phase")) e_.phase = *ParsePhase(*s);
  }

  void ReadRolloutVariant(const ConfigNode* n) {
    if (n) {
      auto s = r_.String(*n, "rollout_variant");
      if (!s) return;
      if (e_.VariantIndex(*s) < 0 && !e_.variants.empty()) {
        r_.Error(*n, "rollout_variant",
                 fmt::format("\"{}\" is not a variant; variants: {}", *s, VariantNames()));
        return;
      }
      e_.rollout_variant = *s;
    } else if (e_.phase == Phase::kRollout && !e_.variants.empty() &&
               e_.VariantIndex("treatment") < 0) {
      r_.Missing(root_, "rollout_variant",
                 "the variant to roll out (phase is rollout and no variant is named treatment)");
    }
  }

  void ReadMetrics(const ConfigNode& n) {
    if (n.IsSequence()) {
      // The seed form: a list; the first is the primary metric.
      ReadMetricList(n);
      return;
    }
    if (!r_.CheckMap(n, "metrics", {"primary", "secondary", "guardrails"})) return;
    if (const auto* p = n.Find("primary")) {
      if (auto s = r_.OneOf(*p, "metrics.primary", kStatisticalMetrics, "statistical metric")) {
        e_.metrics.primary = *s;
      }
    } else {
      r_.Missing(n, "metrics.primary", "the metric that decides the experiment, e.g. bind_rate");
    }
    if (const auto* s = n.Find("secondary")) ReadSecondary(*s);
    if (const auto* g = n.Find("guardrails")) ReadGuardrails(*g);
  }

  Experiment& experiment() { return e_; }
  SchemaReader& reader() { return r_; }

  std::string VariantNames() const {
    std::string out;
    for (const auto& v : e_.variants) out += (out.empty() ? "" : ", ") + v.name;
    return out;
  }

  void CheckVariantSet(const ConfigNode& at) {
    if (e_.variants.size() < 2) {
      r_.Error(at, "variants", "at least two variants are needed (control and a treatment)");
    }
    if (e_.variants.size() > kMaxVariants) {
      r_.Error(at, "variants", fmt::format("at most {} variants are allowed", kMaxVariants));
    }
    if (!e_.variants.empty() && e_.ControlIndex() < 0) {
      r_.Error(at, "variants",
               "one variant must be named control: the baseline the others are compared with");
    }
  }

  void AddVariant(const ConfigNode& key_node, const std::string& field, Variant v) {
    if (!IsIdentifier(v.name, 64)) {
      r_.Error(key_node, field,
               fmt::format("\"{}\" is not a valid variant name: use letters, digits, '_', '-', '.'",
                           v.name));
      return;
    }
    if (std::find(std::begin(kReservedNames), std::end(kReservedNames), v.name) !=
        std::end(kReservedNames)) {
      r_.Error(key_node, field,
               fmt::format("\"{}\" is a platform bucket name and cannot be a variant", v.name));
      return;
    }
    e_.variants.push_back(std::move(v));
  }

 private:
  void ReadStrings() {
    if (const auto* n = root_.Find("description")) {
      if (auto s = r_.String(*n, "description", true)) e_.description = *s;
    }
    if (const auto* n = root_.Find("owner")) {
      if (auto s = r_.String(*n, "owner")) e_.owner = *s;
    }
    if (const auto* n = root_.Find("surface")) {
      if (auto s = ReadIdentifier(r_, *n, "surface", "surface name")) e_.surface = *s;
    }
    if (const auto* n = root_.Find("seed")) {
      if (auto s = r_.String(*n, "seed")) e_.seed = *s;
    }
    if (const auto* n = root_.Find("allow_reshuffle")) {
      if (auto s = r_.String(*n, "allow_reshuffle")) e_.allow_reshuffle = *s;
    }
  }

  void ReadVariants() {
    const auto* n = root_.Find("variants");
    if (!n) {
      r_.Missing(root_, "variants",
                 "variants: {control: {policy: legacy_rules}, treatment: {...}}");
      return;
    }
    if (!n->IsMap()) {
      r_.Error(*n, "variants",
               fmt::format("expected a map of variant name to settings, got {}", n->KindName()));
      return;
    }
    for (std::size_t i = 0; i < n->keys.size(); ++i) {
      const std::string field = JoinField("variants", n->keys[i].value);
      const ConfigNode& body = n->items[i];
      if (!r_.CheckMap(body, field, {"policy", "model"})) continue;
      Variant v;
      v.name = n->keys[i].value;
      if (const auto* p = body.Find("policy")) {
        if (auto s = r_.OneOf(*p, JoinField(field, "policy"), kPolicyNames, "policy"))
          v.policy = *s;
      } else {
        r_.Missing(body, JoinField(field, "policy"),
                   fmt::format("one of {}", JoinNames(kPolicyNames)));
      }
      if (const auto* m = body.Find("model")) {
        if (auto s = ReadIdentifier(r_, *m, JoinField(field, "model"), "model name")) {
          if (v.policy != kRecommenderPolicy && !v.policy.empty()) {
            r_.Error(*m, JoinField(field, "model"), "only the recommender policy takes a model");
          }
          v.model = *s;
        }
      } else if (v.policy == kRecommenderPolicy) {
        v.model = "hybrid";
      }
      AddVariant(n->keys[i], field, std::move(v));
    }
    CheckVariantSet(*n);
  }

  void ReadTraffic() {
    const auto* n = root_.Find("traffic");
    if (!n) {
      r_.Missing(root_, "traffic",
                 "traffic: {coverage: 1.0, split: {control: 0.5, treatment: 0.5}}");
      return;
    }
    if (!r_.CheckMap(*n, "traffic", {"coverage", "split"})) return;
    if (const auto* c = n->Find("coverage")) {
      if (auto v = r_.Number(*c, "traffic.coverage", 0.0, 1.0)) e_.coverage = *v;
    }
    const auto* split = n->Find("split");
    if (!split) {
      r_.Missing(*n, "traffic.split",
                 "the share of each variant, e.g. {control: 0.5, treatment: 0.5}");
      return;
    }
    if (!split->IsMap()) {
      r_.Error(*split, "traffic.split",
               fmt::format("expected a map of variant name to weight, got {}", split->KindName()));
      return;
    }
    std::vector<std::string_view> names;
    for (const auto& v : e_.variants) names.push_back(v.name);
    std::vector<bool> seen(e_.variants.size(), false);
    double total = 0;
    bool all_read = true;
    for (std::size_t i = 0; i < split->keys.size(); ++i) {
      const std::string& name = split->keys[i].value;
      const std::string field = JoinField("traffic.split", name);
      const auto w = r_.Number(split->items[i], field, 0.0, 1.0);
      const int idx = e_.VariantIndex(name);
      if (idx < 0) {
        std::string msg =
            fmt::format("\"{}\" is not a variant; variants: {}", name, VariantNames());
        if (const auto s = SuggestName(name, names))
          msg += fmt::format(" (did you mean \"{}\"?)", *s);
        r_.Error(split->keys[i], field, std::move(msg));
        all_read = false;
        continue;
      }
      if (!w) {
        all_read = false;
        continue;
      }
      e_.variants[static_cast<std::size_t>(idx)].weight = *w;
      seen[static_cast<std::size_t>(idx)] = true;
      total += *w;
    }
    for (std::size_t i = 0; i < seen.size(); ++i) {
      if (!seen[i] && all_read) {
        r_.Error(*split, JoinField("traffic.split", e_.variants[i].name),
                 fmt::format("variant \"{}\" has no weight; give every variant a share",
                             e_.variants[i].name));
        all_read = false;
      }
    }
    if (all_read && std::fabs(total - 1.0) > kWeightTolerance) {
      r_.Error(*split, "traffic.split",
               fmt::format("weights sum to {}; they must sum to 1", total));
    }
  }

  void ReadNamespace() {
    const auto* n = root_.Find("namespace");
    if (!n) return;
    if (!r_.CheckMap(*n, "namespace", {"name", "range"})) return;
    NamespaceRange ns;
    bool ok = true;
    if (const auto* name = n->Find("name")) {
      auto s = ReadIdentifier(r_, *name, "namespace.name", "namespace name");
      ok = ok && s.has_value();
      if (s) ns.name = *s;
    } else {
      r_.Missing(*n, "namespace.name", "the namespace shared by mutually exclusive experiments");
      ok = false;
    }
    if (const auto* range = n->Find("range")) {
      if (!range->IsSequence() || range->items.size() != 2) {
        r_.Error(*range, "namespace.range", "expected [start, end] with 0 <= start < end <= 1");
        ok = false;
      } else {
        const auto a = r_.Number(range->items[0], "namespace.range[0]", 0.0, 1.0);
        const auto b = r_.Number(range->items[1], "namespace.range[1]", 0.0, 1.0);
        if (a && b && *a >= *b) {
          r_.Error(*range, "namespace.range", "start must be below end: expected [start, end]");
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
      r_.Missing(*n, "namespace.range", "[start, end] within [0, 1]");
      ok = false;
    }
    if (ok) e_.ns = ns;
  }

  void ReadMetricList(const ConfigNode& n) {
    for (std::size_t i = 0; i < n.items.size(); ++i) {
      const std::string field = fmt::format("metrics[{}]", i);
      auto s = r_.String(n.items[i], field);
      if (!s) continue;
      if (*s == "premium_lift") *s = "premium_per_user";
      if (!IsStatisticalMetric(*s)) {
        std::string msg = fmt::format("\"{}\" is not a known metric; allowed: {}, premium_lift", *s,
                                      JoinNames(kStatisticalMetrics));
        if (const auto sug = SuggestName(*s, kStatisticalMetrics)) {
          msg += fmt::format(" (did you mean \"{}\"?)", *sug);
        }
        r_.Error(n.items[i], field, std::move(msg));
        continue;
      }
      if (e_.metrics.primary.empty()) {
        e_.metrics.primary = *s;
      } else if (*s == e_.metrics.primary ||
                 std::find(e_.metrics.secondary.begin(), e_.metrics.secondary.end(), *s) !=
                     e_.metrics.secondary.end()) {
        r_.Error(n.items[i], field, fmt::format("\"{}\" is listed twice", *s));
      } else {
        e_.metrics.secondary.push_back(*s);
      }
    }
    if (n.items.empty()) r_.Error(n, "metrics", "list at least one metric");
  }

  void ReadSecondary(const ConfigNode& n) {
    if (!n.IsSequence()) {
      r_.Error(n, "metrics.secondary",
               fmt::format("expected a list of metrics, got {}", n.KindName()));
      return;
    }
    for (std::size_t i = 0; i < n.items.size(); ++i) {
      const std::string field = fmt::format("metrics.secondary[{}]", i);
      auto s = r_.OneOf(n.items[i], field, kStatisticalMetrics, "statistical metric");
      if (!s) continue;
      if (*s == e_.metrics.primary ||
          std::find(e_.metrics.secondary.begin(), e_.metrics.secondary.end(), *s) !=
              e_.metrics.secondary.end()) {
        r_.Error(n.items[i], field, fmt::format("\"{}\" is already listed", *s));
        continue;
      }
      e_.metrics.secondary.push_back(*s);
    }
  }

  void ReadGuardrails(const ConfigNode& n) {
    if (!n.IsSequence()) {
      r_.Error(n, "metrics.guardrails",
               fmt::format("expected a list of {{metric, max|min|min_relative_change|"
                           "max_relative_change|max_decrease, type}}, got {}",
                           n.KindName()));
      return;
    }
    for (std::size_t i = 0; i < n.items.size(); ++i) {
      const std::string field = fmt::format("metrics.guardrails[{}]", i);
      const ConfigNode& g = n.items[i];
      if (!r_.CheckMap(g, field,
                       {"metric", "max", "min", "min_relative_change", "max_relative_change",
                        "max_decrease", "type"})) {
        continue;
      }
      Guardrail gr;
      const auto* m = g.Find("metric");
      if (!m) {
        r_.Missing(g, JoinField(field, "metric"), fmt::format("one of {}", JoinNames(kAllMetrics)));
        continue;
      }
      auto name = r_.OneOf(*m, JoinField(field, "metric"), kAllMetrics, "metric");
      if (!name) continue;
      gr.metric = *name;
      if (IsStatisticalMetric(gr.metric)) {
        ReadStatisticalGuardrail(g, field, gr);
      } else {
        ReadOperationalGuardrail(g, field, gr);
      }
      e_.metrics.guardrails.push_back(std::move(gr));
    }
  }

  std::optional<double> GuardrailNumber(const ConfigNode& g, const std::string& field,
                                        std::string_view key, double lo, double up) {
    const auto* v = g.Find(key);
    if (!v) return std::nullopt;
    return r_.Number(*v, JoinField(field, key), lo, up);
  }

  void RefuseKeys(const ConfigNode& g, const std::string& field,
                  std::initializer_list<std::string_view> keys, const std::string& why) {
    for (std::string_view k : keys) {
      if (const auto* v = g.Find(k)) r_.Error(*v, JoinField(field, k), why);
    }
  }

  void ReadOperationalGuardrail(const ConfigNode& g, const std::string& field, Guardrail& gr) {
    const double hi = gr.metric == "fallback_rate" ? 1.0 : 1e9;
    gr.max = GuardrailNumber(g, field, "max", 0, hi);
    gr.min = GuardrailNumber(g, field, "min", 0, hi);
    RefuseKeys(g, field, {"min_relative_change", "max_relative_change", "max_decrease", "type"},
               fmt::format("{} is an operational threshold; use max or min", gr.metric));
    if (!gr.max && !gr.min && !g.Find("max") && !g.Find("min")) {
      r_.Missing(g, JoinField(field, "max"), fmt::format("a threshold for {}", gr.metric));
    }
  }

  void ReadStatisticalGuardrail(const ConfigNode& g, const std::string& field, Guardrail& gr) {
    RefuseKeys(g, field, {"max", "min"},
               fmt::format("{} is tested against control; use min_relative_change, "
                           "max_relative_change or max_decrease",
                           gr.metric));
    if (const auto* t = g.Find("type")) {
      constexpr std::array<std::string_view, 2> kTypes = {"harm", "non_inferiority"};
      if (auto type = r_.OneOf(*t, JoinField(field, "type"), kTypes, "guardrail type")) {
        if (*type == "non_inferiority") gr.type = GuardrailType::kNonInferiority;
      }
    }
    const auto decrease = GuardrailNumber(g, field, "max_decrease", 1e-6, 1.0);
    if (gr.type == GuardrailType::kNonInferiority) {
      RefuseKeys(g, field, {"min_relative_change", "max_relative_change"},
                 "a non-inferiority guardrail takes its margin as max_decrease");
      if (decrease) gr.min_relative_change = -*decrease;
      if (!g.Find("max_decrease")) {
        r_.Missing(g, JoinField(field, "max_decrease"),
                   "the non-inferiority margin: the largest relative decrease tolerated, e.g. "
                   "0.02");
      }
      return;
    }
    gr.min_relative_change = GuardrailNumber(g, field, "min_relative_change", -1.0, 0.0);
    gr.max_relative_change = GuardrailNumber(g, field, "max_relative_change", 0.0, 1e9);
    if (decrease) {
      if (const auto* v = g.Find("min_relative_change")) {
        r_.Error(*v, JoinField(field, "min_relative_change"),
                 "give either min_relative_change or max_decrease, not both");
      }
      gr.min_relative_change = -*decrease;
    }
    if (!g.Find("min_relative_change") && !g.Find("max_relative_change") &&
        !g.Find("max_decrease")) {
      r_.Missing(g, JoinField(field, "min_relative_change"),
                 "the smallest relative change tolerated, e.g. -0.02 (or max_decrease: 0.02)");
    }
  }

  void ReadAnalysis() {
    const auto* n = root_.Find("analysis");
    if (!n) return;
    if (!r_.CheckMap(
            *n, "analysis",
            {"alpha", "sequential", "tuning_n", "mde", "premium_cap_quantile", "planned_users"})) {
      return;
    }
    if (const auto* v = n->Find("alpha")) {
      if (auto x = r_.Number(*v, "analysis.alpha", 1e-6, 0.5)) e_.analysis.alpha = *x;
    }
    if (const auto* v = n->Find("sequential")) {
      if (auto x = r_.Bool(*v, "analysis.sequential")) e_.analysis.sequential = *x;
    }
    if (const auto* v = n->Find("tuning_n")) {
      if (auto x = r_.Number(*v, "analysis.tuning_n", 1.0, 1e12)) e_.analysis.tuning_n = *x;
    }
    if (const auto* v = n->Find("mde")) {
      if (auto x = r_.Number(*v, "analysis.mde", 1e-6, 10.0)) e_.analysis.mde = *x;
    }
    if (const auto* v = n->Find("premium_cap_quantile")) {
      // Capping below the median would rewrite most of the data, not its tail.
      if (auto x = r_.Number(*v, "analysis.premium_cap_quantile", 0.5, 1.0)) {
        e_.analysis.premium_cap_quantile = *x;
      }
    }
    if (const auto* v = n->Find("planned_users")) {
      if (auto x = r_.Integer(*v, "analysis.planned_users", 0, 1'000'000'000'000)) {
        e_.analysis.planned_users = *x;
      }
    }
  }

  void ReadFairness() {
    const auto* n = root_.Find("fairness");
    if (!n) return;
    if (!r_.CheckMap(*n, "fairness", {"attributes", "max_parity_gap"})) return;
    if (const auto* a = n->Find("attributes")) {
      if (!a->IsSequence()) {
        r_.Error(*a, "fairness.attributes",
                 fmt::format("expected a list of user attributes, got {}", a->KindName()));
      } else {
        for (std::size_t i = 0; i < a->items.size(); ++i) {
          if (auto s = ReadIdentifier(r_, a->items[i], fmt::format("fairness.attributes[{}]", i),
                                      "attribute name")) {
            e_.fairness.attributes.push_back(*s);
          }
        }
      }
    }
    if (const auto* g = n->Find("max_parity_gap")) {
      if (auto x = r_.Number(*g, "fairness.max_parity_gap", 0.0, 1.0))
        e_.fairness.max_parity_gap = *x;
    }
  }

  SchemaReader& r_;
  const ConfigNode& root_;
  Experiment e_;
};

// The seed document's JSON form (DESIGN.md gives the mapping).
Experiment ReadSeedForm(SchemaReader& r, const ConfigNode& root) {
  NativeReader nr(r, root);
  Experiment& e = nr.experiment();
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
  nr.ReadPhase(root.Find("phase"));
  double x = 0.5;
  if (const auto* n = root.Find("traffic_split")) {
    if (auto v = r.Number(*n, "traffic_split", 0.0, 1.0)) x = *v;
  } else {
    r.Missing(root, "traffic_split", "the treatment's share, e.g. 0.5");
  }
  if (const auto* n = root.Find("variants")) {
    if (!n->IsMap()) {
      r.Error(*n, "variants",
              fmt::format("expected a map of variant name to policy, got {}", n->KindName()));
    } else {
      for (std::size_t i = 0; i < n->keys.size(); ++i) {
        const std::string field = JoinField("variants", n->keys[i].value);
        auto s = r.String(n->items[i], field);
        if (!s) continue;
        Variant v;
        v.name = n->keys[i].value;
        if (*s == "Legacy_Rule_Based" || *s == "legacy_rules") {
          v.policy = "legacy_rules";
        } else if (*s == "Hybrid_LightFM" || *s == "recommender") {
          v.policy = "recommender";
          v.model = "hybrid";
        } else if (*s == "random" || *s == "none") {
          v.policy = *s;
        } else {
          r.Error(n->items[i], field,
                  fmt::format("\"{}\" is not a known policy; allowed: Legacy_Rule_Based, "
                              "Hybrid_LightFM, {}",
                              *s, JoinNames(kPolicyNames)));
          continue;
        }
        v.weight = v.name == "control" ? 1.0 - x : (v.name == "treatment" ? x : 0.0);
        if (v.name != "control" && v.name != "treatment") {
          r.Error(n->keys[i], field,
                  "the JSON form has exactly two variants, control and treatment; use the YAML "
                  "form for more");
          continue;
        }
        nr.AddVariant(n->keys[i], field, std::move(v));
      }
      nr.CheckVariantSet(*n);
      if (e.VariantIndex("treatment") < 0 && e.variants.size() >= 2) {
        r.Error(*n, "variants", "the JSON form needs a variant named treatment");
      }
    }
  } else {
    r.Missing(root, "variants",
              "{\"control\": \"Legacy_Rule_Based\", \"treatment\": \"Hybrid_LightFM\"}");
  }
  if (const auto* n = root.Find("metrics")) {
    nr.ReadMetrics(*n);
  } else {
    r.Missing(root, "metrics", "[\"bind_rate\", \"click_rate\", \"premium_lift\"]");
  }
  return std::move(e);
}

}  // namespace

bool IsExperimentKey(std::string_view key) { return IsIdentifier(key, 64); }

ParseResult<Experiment> ReadExperiment(const ConfigNode& root, const std::string& file) {
  SchemaReader r(file);
  if (!root.IsMap()) {
    r.Error(root, "",
            fmt::format("expected a map describing one experiment, got {}", root.KindName()));
    return std::unexpected(r.TakeDiagnostics());
  }
  Experiment e = root.Find("experiment_name") && !root.Find("experiment")
                     ? ReadSeedForm(r, root)
                     : NativeReader(r, root).Read();
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
