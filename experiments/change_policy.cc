#include "experiments/change_policy.h"

#include <fmt/format.h>

namespace abrec {
namespace {

std::vector<double> Weights(const Experiment& e) {
  std::vector<double> w;
  for (const auto& v : e.variants) w.push_back(v.weight);
  return w;
}

std::vector<std::string> VariantShape(const Experiment& e) {
  std::vector<std::string> out;
  for (const auto& v : e.variants)
    out.push_back(v.name + "/" + std::string(PolicyName(v.policy)) + "/" + v.model);
  return out;
}

}  // namespace

std::vector<std::string> ChangedFields(const Experiment& a, const Experiment& b) {
  std::vector<std::string> out;
  auto check = [&out](bool differs, const char* name) {
    if (differs) out.emplace_back(name);
  };
  check(a.description != b.description, "description");
  check(a.owner != b.owner, "owner");
  check(a.surface != b.surface, "surface");
  check(a.phase != b.phase, "phase");
  check(a.HashSeed() != b.HashSeed(), "seed");
  check(a.coverage != b.coverage, "traffic.coverage");
  check(Weights(a) != Weights(b), "traffic.split");
  check(a.ns != b.ns, "namespace");
  check(VariantShape(a) != VariantShape(b), "variants");
  check(a.metrics.primary != b.metrics.primary, "metrics.primary");
  check(a.metrics.secondary != b.metrics.secondary, "metrics.secondary");
  check(a.metrics.guardrails != b.metrics.guardrails, "metrics.guardrails");
  check(a.analysis != b.analysis, "analysis");
  check(a.fairness != b.fairness, "fairness");
  check(a.RolloutVariant() != b.RolloutVariant(), "rollout_variant");
  check(a.allow_reshuffle != b.allow_reshuffle, "allow_reshuffle");
  check(a.auto_stop != b.auto_stop, "auto_stop");
  return out;
}

std::optional<std::string> RefuseReshuffle(const Experiment& before, const Experiment& after) {
  if (before.phase != Phase::kAbTest) return std::nullopt;
  if (after.phase == Phase::kStopped) return std::nullopt;  // stopping is always allowed
  std::vector<std::string> protected_changes;
  for (const auto& f : ChangedFields(before, after)) {
    if (f == "traffic.split" || f == "seed" || f == "variants" || f == "namespace" ||
        f == "metrics.primary" || f == "analysis") {
      protected_changes.push_back(f);
    }
  }
  if (after.coverage < before.coverage)
    protected_changes.emplace_back("traffic.coverage (lowered)");
  if (protected_changes.empty()) return std::nullopt;
  if (!after.allow_reshuffle.empty() && after.allow_reshuffle != before.allow_reshuffle) {
    return std::nullopt;
  }
  std::string list;
  for (const auto& f : protected_changes) list += (list.empty() ? "" : ", ") + f;
  return fmt::format(
      "the experiment is in ab_test, and changing {} reshuffles users or invalidates the data "
      "collected so far; refused. To do it anyway, record why in allow_reshuffle: \"...\"{}",
      list,
      !after.allow_reshuffle.empty() && after.allow_reshuffle == before.allow_reshuffle
          ? " (with a new reason: the current one was already used)"
          : "");
}

}  // namespace abrec
