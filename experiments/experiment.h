// An experiment as a product manager defined it (config/experiments/*.yaml or the seed
// document's JSON form), validated. A plain value: copyable, comparable, no behaviour.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "assignment/bucket_ranges.h"
#include "experiments/vocabulary.h"

namespace abrec {

// The baseline arm's name: every experiment has one; the others are compared with it.
inline constexpr std::string_view kControlVariant = "control";

struct Variant {
  std::string name;
  Policy policy = Policy::kLegacyRules;
  std::string model;  // the model name for the recommender policy, else empty
  double weight = 0;  // traffic.split share; the weights of all variants sum to 1
  bool operator==(const Variant&) const = default;
};

// A statistical guardrail is a harm test (breached once the confidence sequence shows the
// relative change beyond its limit: `min_relative_change`, or `max_decrease` m meaning
// min_relative_change −m; `max_relative_change`) or a non-inferiority test (`type:
// non_inferiority`, `max_decrease` m: a treatment may ship only once the sequence rules out
// a decrease beyond m, and must do so by the planned horizon; it is breached like a harm
// test at −m).
enum class GuardrailType { kHarm, kNonInferiority };

// A guardrail: an operational threshold (max/min) or a statistical test of the relative
// change of a metric against control.
struct Guardrail {
  std::string metric;
  std::optional<double> max;
  std::optional<double> min;
  std::optional<double> min_relative_change;  // non_inferiority: −max_decrease
  std::optional<double> max_relative_change;
  GuardrailType type = GuardrailType::kHarm;
  bool operator==(const Guardrail&) const = default;
};

struct MetricsSpec {
  std::string primary;
  std::vector<std::string> secondary;
  std::vector<Guardrail> guardrails;
  bool operator==(const MetricsSpec&) const = default;
};

struct AnalysisSpec {
  double alpha = 0.05;     // two-sided level of every interval and test
  bool sequential = true;  // always-valid inference (safe to look at any time)
  // mSPRT mixture tuning: the sample size at which the confidence sequence is tightest.
  double tuning_n = 5000;
  double mde = 0.05;  // minimum detectable effect, relative, for `abrec plan`
  // Premium is heavy-tailed and zero-inflated: when set (0 < q ≤ 1), per-user premium is
  // capped at its q quantile before premium metrics are tested (winsorising). 0: no cap.
  double premium_cap_quantile = 0;
  // The users (control and treatments together) the experiment is planned for: a
  // fixed-horizon analysis decides when they are reached (and not before), and a
  // non-inferiority guardrail must be shown by then. 0: the plan's number (`abrec plan`)
  // for `mde` at the control's current baseline.
  std::int64_t planned_users = 0;
  bool operator==(const AnalysisSpec&) const = default;
};

struct FairnessSpec {
  std::vector<std::string> attributes;
  double max_parity_gap = 0.10;
  bool operator==(const FairnessSpec&) const = default;
};

struct Experiment {
  std::string key;  // used verbatim (case-sensitive)
  std::string description;
  std::string owner;
  std::string surface;  // empty: the platform's default surface
  Phase phase = Phase::kShadow;
  std::string seed;  // the hash seed; empty: the key
  double coverage = 1.0;
  std::optional<NamespaceRange> ns;
  std::vector<Variant> variants;  // in the order written: the order of the bucket ranges
  MetricsSpec metrics;
  AnalysisSpec analysis;
  FairnessSpec fairness;
  std::string rollout_variant;  // empty: "treatment"
  std::string allow_reshuffle;  // the recorded reason for a reshuffle in ab_test, if any
  // In ab_test, an SRM or a guardrail breach moves the experiment to stopped by itself
  // (platform/lifecycle.h) instead of only raising an alert.
  bool auto_stop = false;

  // Where it was defined (for messages); not part of the definition.
  std::string file;
  int line = 1;
  int column = 1;

  const std::string& HashSeed() const { return seed.empty() ? key : seed; }
  const std::string& RolloutVariant() const;
  // Index of the variant with this name, or -1.
  int VariantIndex(std::string_view name) const;
  // The baseline arm: the variant named kControlVariant (validation guarantees it exists).
  int ControlIndex() const { return VariantIndex(kControlVariant); }
};

bool operator==(const NamespaceRange& a, const NamespaceRange& b);

}  // namespace abrec
