#include "server/platform.h"

#include <fmt/format.h>

#include "assignment/hash.h"
#include "experiments/population_guard.h"

namespace abrec {

Platform::Platform(PlatformConfig config, const Clock& clock, bool read_only)
    : config_(std::move(config)),
      clock_(clock),
      population_(config_.population),
      audit_(config_.experiments.audit_log, clock_),
      registry_(config_, audit_, clock_, RegistryOptions{read_only}) {}

Platform::~Platform() { registry_.StopWatching(); }

Result<std::unique_ptr<Platform>> Platform::Open(PlatformConfig config, const Clock& clock,
                                                 OpenOptions options) {
  std::unique_ptr<Platform> p(new Platform(std::move(config), clock, options.read_only));
  if (!options.read_only) {
    if (auto ok = GuardPopulationSplit(p->config_, p->audit_); !ok)
      return std::unexpected(ok.error());
  }
  p->registry_.Reload();
  return p;
}

Result<void> ValidateUserId(std::string_view user_id) {
  if (user_id.empty())
    return std::unexpected(Error::InvalidArgument("user_id is required", "user_id"));
  if (user_id.size() > kMaxUserIdBytes) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("user_id is {} bytes; at most {} are allowed", user_id.size(), kMaxUserIdBytes),
        "user_id"));
  }
  return ValidateHashInput(user_id, "user_id");
}

Result<AssignOutcome> Platform::Assign(std::string_view user_id, std::string_view key) const {
  if (auto ok = ValidateUserId(user_id); !ok) return std::unexpected(ok.error());
  auto exp = registry_.Snapshot()->Find(key);
  if (!exp) {
    return std::unexpected(Error::NotFound(fmt::format("no experiment \"{}\"", key), "experiment"));
  }
  auto d = abrec::Assign(population_, exp->spec, user_id);
  if (!d) return std::unexpected(d.error());

  AssignOutcome out;
  out.decision = *d;
  const Experiment& e = exp->def;
  const auto arm = [&e](int i) -> std::string_view {
    return e.variants[static_cast<std::size_t>(i)].name;
  };
  if (d->InExperiment()) {
    if (d->population == PopulationBucket::kExperiment) {
      out.bucket = arm(d->variant);
      out.variant = out.bucket;
      // Shadow: the assigned variant is computed and logged, but control is shown.
      const int shown = e.phase == Phase::kShadow ? e.ControlIndex() : d->variant;
      out.policy = e.variants[static_cast<std::size_t>(shown)].policy;
    } else {
      out.bucket = PopulationBucketName(d->population);
      out.counterfactual_variant = arm(d->variant);
    }
  } else {
    out.bucket = "not_enrolled";
  }
  if (d->population == PopulationBucket::kHoldout) {
    out.policy = kHoldoutPolicy;  // permanent: no recommendations anywhere
  } else if (d->population == PopulationBucket::kExploration) {
    out.policy = kExplorationPolicy;
  } else if (!d->InExperiment()) {
    const auto s = config_.surfaces.find(e.surface);
    out.policy = s != config_.surfaces.end() ? std::string_view(s->second.default_policy)
                                             : std::string_view("legacy_rules");
  }
  out.experiment = std::move(exp);
  return out;
}

}  // namespace abrec
