#include "platform/views.h"

namespace abrec {

using nlohmann::ordered_json;

ordered_json AssignView(std::string_view user_id, const AssignOutcome& o) {
  const Experiment& e = o.experiment->def;
  const Decision& d = o.decision;
  ordered_json j;
  j["user_id"] = user_id;
  j["experiment"] = e.key;
  j["phase"] = PhaseName(e.phase);
  j["surface"] = e.surface;
  j["bucket"] = o.bucket;
  j["variant"] = o.variant ? ordered_json(*o.variant) : ordered_json(nullptr);
  j["counterfactual_variant"] =
      o.counterfactual_variant ? ordered_json(*o.counterfactual_variant) : ordered_json(nullptr);
  j["policy"] = PolicyName(o.arm.policy);
  j["population"] = PopulationBucketName(d.population);
  j["rule"] = AssignRuleName(d.rule);
  j["hashes"] = {
      {"population", d.population_hash},
      {"namespace", d.namespace_hash ? ordered_json(*d.namespace_hash) : ordered_json(nullptr)},
      {"experiment", d.experiment_hash}};
  j["hash_version"] = 2;
  return j;
}

ordered_json ExperimentSummaryView(const LoadedExperiment& le) {
  const Experiment& e = le.def;
  ordered_json variants = ordered_json::array();
  for (const auto& v : e.variants) variants.push_back(v.name);
  return {{"key", e.key},
          {"description", e.description},
          {"owner", e.owner},
          {"surface", e.surface},
          {"phase", PhaseName(e.phase)},
          {"variants", variants},
          {"coverage", e.coverage},
          {"file", e.file},
          {"content_hash", le.content_hash}};
}

ordered_json ExperimentView(const LoadedExperiment& le) {
  const Experiment& e = le.def;
  ordered_json split = ordered_json::object();
  ordered_json variants = ordered_json::array();
  for (std::size_t i = 0; i < e.variants.size(); ++i) {
    const Variant& v = e.variants[i];
    split[v.name] = v.weight;
    const BucketRange& r = le.spec.ranges()[i];
    variants.push_back({{"name", v.name},
                        {"policy", PolicyName(v.policy)},
                        {"model", v.model.empty() ? ordered_json(nullptr) : ordered_json(v.model)},
                        {"weight", v.weight},
                        {"bucket_range", {r.start, r.end}}});
  }
  ordered_json guardrails = ordered_json::array();
  for (const auto& g : e.metrics.guardrails) {
    ordered_json gj = {{"metric", g.metric}};
    if (g.max) gj["max"] = *g.max;
    if (g.min) gj["min"] = *g.min;
    if (g.type == GuardrailType::kNonInferiority) {
      gj["type"] = "non_inferiority";
      if (g.min_relative_change) gj["max_decrease"] = -*g.min_relative_change;
    } else {
      if (g.min_relative_change) gj["min_relative_change"] = *g.min_relative_change;
      if (g.max_relative_change) gj["max_relative_change"] = *g.max_relative_change;
    }
    guardrails.push_back(gj);
  }
  ordered_json j;
  j["key"] = e.key;
  j["experiment"] = e.key;
  j["description"] = e.description;
  j["owner"] = e.owner;
  j["surface"] = e.surface;
  j["phase"] = PhaseName(e.phase);
  j["seed"] = e.HashSeed();
  j["traffic"] = {{"coverage", e.coverage}, {"split", split}};
  j["namespace"] = e.ns ? ordered_json{{"name", e.ns->name}, {"range", {e.ns->start, e.ns->end}}}
                        : ordered_json(nullptr);
  j["variants"] = variants;
  j["metrics"] = {{"primary", e.metrics.primary},
                  {"secondary", e.metrics.secondary},
                  {"guardrails", guardrails}};
  j["analysis"] = {{"alpha", e.analysis.alpha},
                   {"sequential", e.analysis.sequential},
                   {"tuning_n", e.analysis.tuning_n},
                   {"mde", e.analysis.mde},
                   {"premium_cap_quantile", e.analysis.premium_cap_quantile},
                   {"planned_users", e.analysis.planned_users}};
  j["fairness"] = {{"attributes", e.fairness.attributes},
                   {"max_parity_gap", e.fairness.max_parity_gap}};
  j["rollout_variant"] = e.RolloutVariant();
  j["allow_reshuffle"] =
      e.allow_reshuffle.empty() ? ordered_json(nullptr) : ordered_json(e.allow_reshuffle);
  j["auto_stop"] = e.auto_stop;
  j["file"] = e.file;
  j["content_hash"] = le.content_hash;
  return j;
}

ordered_json DiagnosticsView(const Diagnostics& diagnostics) {
  ordered_json out = ordered_json::array();
  for (const auto& d : diagnostics) {
    out.push_back({{"file", d.file},
                   {"line", d.line},
                   {"column", d.column},
                   {"field", d.field},
                   {"message", d.message},
                   {"text", d.ToString()}});
  }
  return out;
}

nlohmann::ordered_json RecommendView(const Catalog& catalog, const RecommendOutcome& o) {
  using json = nlohmann::ordered_json;
  auto or_null = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  json items = json::array();
  for (const RecommendedItem& it : o.served.list.items) {
    const Product& p = catalog.products[it.product];
    items.push_back({{"product_id", p.id},
                     {"rank", it.rank},
                     {"score", it.score},
                     {"p_click", or_null(it.p_click)},
                     {"p_bind", or_null(it.p_bind)},
                     {"propensity", it.propensity},
                     {"reason", it.reason},
                     {"name", p.name},
                     {"category", p.category}});
  }
  return {
      {"request_id", o.request_id},
      {"user_id", o.user_id},
      {"experiment", o.assignment ? json(o.assignment->experiment->def.key) : json(nullptr)},
      {"surface", o.surface},
      {"bucket", o.bucket},
      {"variant", o.variant ? json(*o.variant) : json(nullptr)},
      {"policy", PolicyName(o.policy)},
      {"model_version",
       o.served.model_version.empty() ? json(nullptr) : json(o.served.model_version)},
      {"items", std::move(items)},
      {"fallback", o.served.fallback == Fallback::kNone ? json(nullptr)
                                                        : json(FallbackName(o.served.fallback))},
      {"candidates", o.served.used_cache ? "cache" : "computed"},
      {"logged", o.logged},
      {"latency_us", o.latency_us}};
}

ordered_json GateReportView(const GateReport& report) {
  ordered_json parity = ordered_json::array();
  for (const auto& c : report.parity) {
    parity.push_back({{"attribute", c.attribute},
                      {"product", c.product},
                      {"candidate_gap", c.candidate_gap},
                      {"baseline_gap", c.baseline_gap},
                      {"candidate_p_value", c.candidate_p_value},
                      {"failed", c.failed}});
  }
  return {{"customers", report.customers},
          {"passed", report.passed()},
          {"failures", report.failures},
          {"parity", std::move(parity)}};
}

}  // namespace abrec
