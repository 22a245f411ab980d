#include "experiments/experiment_set.h"

#include <fmt/format.h>

namespace abrec {
namespace {

// Two running experiments on one surface share users unless they use the same namespace
// with disjoint ranges. Different namespace names hash independently, so they overlap.
std::optional<std::string> Overlap(const Experiment& a, const Experiment& b) {
  if (a.phase == Phase::kStopped || b.phase == Phase::kStopped) return std::nullopt;
  if (a.surface != b.surface) return std::nullopt;
  if (!a.ns || !b.ns) {
    return fmt::format(
        "\"{}\" ({}:{}) runs on surface {} without a namespace range of its own; "
        "give both a namespace with disjoint ranges",
        b.key, b.file, b.line, a.surface);
  }
  if (a.ns->name != b.ns->name) {
    return fmt::format(
        "\"{}\" ({}:{}) runs on surface {} in namespace {}; experiments on one "
        "surface must share a namespace and use disjoint ranges",
        b.key, b.file, b.line, a.surface, b.ns->name);
  }
  if (a.ns->start < b.ns->end && b.ns->start < a.ns->end) {
    return fmt::format(
        "namespace range [{}, {}) overlaps [{}, {}) of \"{}\" ({}:{}) on surface "
        "{}; use disjoint ranges",
        a.ns->start, a.ns->end, b.ns->start, b.ns->end, b.key, b.file, b.line, a.surface);
  }
  return std::nullopt;
}

}  // namespace

Diagnostics ResolveSurface(Experiment& e, const Surfaces& config) {
  if (e.surface.empty()) e.surface = config.default_surface;
  if (config.surfaces.contains(e.surface)) return {};
  std::string known;
  for (const auto& [name, _] : config.surfaces) known += (known.empty() ? "" : ", ") + name;
  return {Diagnostic{
      e.file, e.line, e.column, "surface",
      fmt::format("\"{}\" is not a surface of {}; surfaces: {}", e.surface, config.file, known)}};
}

Diagnostics CheckAgainstOthers(const Experiment& e, std::span<const Experiment* const> others) {
  Diagnostics out;
  for (const Experiment* o : others) {
    if (o->key == e.key) {
      out.push_back({e.file, e.line, e.column, "experiment",
                     fmt::format("duplicate experiment key \"{}\": already defined at {}:{}:{}",
                                 e.key, o->file, o->line, o->column)});
      continue;
    }
    if (auto msg = Overlap(e, *o)) {
      out.push_back({e.file, e.line, e.column, e.ns ? "namespace" : "surface", *msg});
    }
  }
  return out;
}

}  // namespace abrec
