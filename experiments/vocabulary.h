// The names a product manager may write: phases, policies, metrics.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace abrec {

enum class Phase { kShadow, kAbTest, kRollout, kStopped };

inline constexpr std::array<std::string_view, 4> kPhaseNames = {"shadow", "ab_test", "rollout",
                                                                "stopped"};
std::string_view PhaseName(Phase phase);
std::optional<Phase> ParsePhase(std::string_view name);

// Policies an arm (or a surface's default) may use. The holdout's kNone and the exploration
// bucket's kRandom are platform policies, allowed for variants too. kPolicyNames in enum order:
// what a product manager writes, and what exposures and views say.
enum class Policy { kLegacyRules, kRecommender, kRandom, kNone };
inline constexpr std::array<std::string_view, 4> kPolicyNames = {"legacy_rules", "recommender",
                                                                 "random", "none"};
inline constexpr Policy kHoldoutPolicy = Policy::kNone;
inline constexpr Policy kExplorationPolicy = Policy::kRandom;
std::string_view PolicyName(Policy policy);
std::optional<Policy> ParsePolicy(std::string_view name);

// Metrics tested statistically (primary, secondary, relative guardrails).
inline constexpr std::array<std::string_view, 5> kStatisticalMetrics = {
    "click_rate", "bind_rate", "binds_per_user", "premium_per_user", "revenue_per_user"};
// Operational guardrails: thresholds, not tests.
inline constexpr std::array<std::string_view, 2> kOperationalMetrics = {"latency_p99_ms",
                                                                        "fallback_rate"};
inline constexpr std::array<std::string_view, 7> kAllMetrics = {
    "click_rate",       "bind_rate",      "binds_per_user", "premium_per_user",
    "revenue_per_user", "latency_p99_ms", "fallback_rate"};

bool IsStatisticalMetric(std::string_view name);

}  // namespace abrec
