#include "platform/phase_gate.h"

#include <fmt/format.h>

#include "platform/internal/platform_parts.h"
#include "recommender/data/synthetic_world.h"

namespace abrec {
namespace {

// The customers every gate of this process compares on: the same ones each time, so two
// runs of the gate on the same models agree.
Result<std::vector<CustomerProfile>> GateCustomers(const Catalog& catalog, int n) {
  WorldOptions options;
  options.customers = n;
  auto world = SyntheticWorld::Generate(catalog, options);
  if (!world) return std::unexpected(world.error());
  std::vector<CustomerProfile> out;
  out.reserve(world->customers().size());
  for (const Customer& c : world->customers()) out.push_back(ProfileOf(c));
  return out;
}

}  // namespace

Result<PhaseGateResult> RunPhaseGate(const Platform& platform, const Experiment& e, Phase to) {
  PhaseGateResult result;
  std::vector<int> gated;
  for (int i = 0; i < static_cast<int>(e.variants.size()); ++i) {
    const Variant& v = e.variants[static_cast<std::size_t>(i)];
    const bool shown = to == Phase::kRollout ? v.name == e.RolloutVariant() : i != e.ControlIndex();
    if (shown && v.policy == Policy::kRecommender) gated.push_back(i);
  }
  if (gated.empty()) return result;
  RecommenderServing* serving = PlatformParts::recommender(platform);
  if (!serving) {
    return std::unexpected(
        Error{ErrorCode::kUnavailable, "this process serves no recommendations", "recommender"});
  }
  const GateRules* rules = serving->gate_rules();
  if (!rules) {
    return std::unexpected(Error{
        ErrorCode::kUnavailable,
        fmt::format("no gate rules at {}: the move cannot be checked", serving->config().gate),
        "recommender.gate"});
  }
  auto model_name = [&](const Variant& v) {
    return v.model.empty() ? serving->config().default_model : v.model;
  };
  auto model_of = [&](const Variant& v) { return serving->models().Get(model_name(v)); };
  const Catalog& catalog = serving->catalog();
  auto customers = GateCustomers(catalog, serving->config().gate_customers);
  if (!customers) return std::unexpected(customers.error());
  const Variant& control = e.variants[static_cast<std::size_t>(e.ControlIndex())];
  const auto control_model = control.policy == Policy::kRecommender ? model_of(control) : nullptr;
  for (int i : gated) {
    const Variant& v = e.variants[static_cast<std::size_t>(i)];
    const auto model = model_of(v);
    if (!model) {
      result.failures.push_back(fmt::format(
          "{}: model {} has no live version to check (train one: abrec train --out {}/{}/VERSION)",
          v.name, model_name(v), serving->config().model_dir, model_name(v)));
      continue;
    }
    // Segment data for the rule-based baseline: the candidate's (serving's fallback uses it).
    const RankingRules& ranking = serving->ranking();
    GateList baseline;
    std::string baseline_name(PolicyName(control.policy));
    if (control_model) {
      baseline = PipelineGateList(*control_model, ranking);
      baseline_name = fmt::format("{} {}", model_name(control), control_model->version());
    } else if (control.policy == Policy::kLegacyRules || control.policy == Policy::kRecommender) {
      baseline = LegacyRulesGateList(*model, ranking);
      if (control.policy == Policy::kRecommender)
        baseline_name = "legacy_rules (control has no model)";
    } else {
      // random or none: compare with what that arm shows, an empty or a random list.
      baseline = [&catalog, &control](const CustomerProfile& c, int k) -> Result<PolicyList> {
        if (control.policy != Policy::kRandom) return PolicyList{};
        std::mt19937_64 rng(7);
        return RandomList(catalog, c, k, rng);
      };
    }
    auto report = RunGate(catalog, PipelineGateList(*model, ranking), baseline, *customers, *rules);
    if (!report) return std::unexpected(report.error());
    for (const std::string& f : report->failures) {
      result.failures.push_back(fmt::format("{}: {}", v.name, f));
    }
    result.variants.push_back({v.name, fmt::format("{} {}", model_name(v), model->version()),
                               std::move(baseline_name), std::move(*report)});
  }
  return result;
}

}  // namespace abrec
