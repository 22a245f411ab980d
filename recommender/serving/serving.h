// The recommender as the service runs it: the catalog and ranking rules, the model registry
// (hot-swapped models), the arm policies, the latency budget and the p99 monitor, and the
// counters /metrics shows. One per service; thread-safe.
//
// Fallbacks: the treatment arm serves the rule-based list, naming the reason, when
//   no_model     its model is not loaded (or failed to score),
//   p99_monitor  the rolling p99 of the pipeline exceeded recommender.p99_fallback_ms,
//   budget       this request's pipeline took longer than recommender.latency_budget_ms,
//   cache_down   (set by the caller) the candidate cache could not be read: the candidates
//                were computed on the fly, the pipeline's list is still served.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/error.h"
#include "recommender/model/gate.h"
#include "recommender/model/policies.h"
#include "recommender/serving/latency_monitor.h"
#include "recommender/serving/model_registry.h"
#include "recommender/serving/recommender_config.h"

namespace abrec {

// Why the treatment arm's list is not the pipeline's own (above); kNone: it is.
enum class Fallback : std::uint8_t { kNone, kBudget, kNoModel, kP99Monitor, kCacheDown };
inline constexpr std::array<Fallback, 4> kFallbackReasons = {
    Fallback::kBudget, Fallback::kNoModel, Fallback::kP99Monitor, Fallback::kCacheDown};
// "budget", "no_model", "p99_monitor", "cache_down"; empty for kNone. The names the exposure
// audit record and /metrics show.
std::string_view FallbackName(Fallback reason);

// The list a request gets: none (the holdout), the legacy rules', the pipeline's
// (factorisation and ANN candidates, GBM scores, re-ranking) or random eligible products (the
// exploration bucket). The platform maps an experiment's policy to it.
enum class ListPolicy { kNone, kLegacyRules, kRecommender, kRandom };

struct ServeRequest {
  ListPolicy policy = ListPolicy::kNone;
  std::string_view model{};  // the recommender policy's model name (empty: the default)
  // Shadow phase: the treatment's policy and model, computed and logged but not shown.
  std::optional<ListPolicy> shadow_policy{};
  std::string_view shadow_model{};
  const CustomerProfile* customer = nullptr;
  int k = 5;
  // Precomputed candidates of the model version `cached_version` (empty span: none).
  std::span<const std::size_t> cached_candidates{};
  std::string_view cached_version{};
};

struct ServedList {
  PolicyList list;
  std::string model_version;  // the model behind the list; empty for rule-based lists
  Fallback fallback = Fallback::kNone;
  std::int64_t pipeline_us = 0;  // time spent in the pipeline (0 when it did not run)
  bool used_cache = false;
  std::optional<PolicyList> shadow;  // shadow phase: what treatment would have shown
  std::string shadow_version;
  std::int64_t shadow_us = 0;                  // time spent computing the shadow list
  Fallback shadow_fallback = Fallback::kNone;  // why the shadow list is the rule-based one
};

// A model's P(click) and P(bind) per impression (P(click)·P(bind | click)) of one product for
// one customer.
struct ProductScore {
  std::size_t product = 0;
  double p_click = 0;
  double p_bind = 0;
};

struct RewardModelScores {
  std::string model_version;
  std::vector<ProductScore> scores{};  // in the order of the products asked for
};

class RecommenderServing {
 public:
  // Loads the catalog and ranking rules (errors: FILE:LINE:COL in the message) and the live
  // models (a model that fails to load is logged; the pipeline then falls back to rules).
  // The folder watcher swaps a changed model once `approve_swap` agrees (the audit log).
  static Result<std::unique_ptr<RecommenderServing>> Open(const RecommenderConfig& config,
                                                          int serving_threads, const Clock& clock,
                                                          ModelRegistry::Approve approve_swap = {});
  ~RecommenderServing();

  ServedList Serve(const ServeRequest& request, std::mt19937_64& rng);

  // What `policy` (recommender with `model`, or legacy_rules) would show this customer,
  // without counting it as served: an exploration list's off-policy targets. nullopt for the
  // random and none policies (nothing deterministic to match).
  std::optional<PolicyList> Counterfactual(ListPolicy policy, std::string_view model,
                                           const CustomerProfile& customer, int k) const;

  // The off-policy estimate's reward model (eventstore/sqlite/off_policy_log.h, DR): the scores of
  // `products` for this customer by the default model (recommender.default_model) as it is
  // loaded now, without counting anything as served. nullopt when that model is not loaded or
  // fails to score.
  std::optional<RewardModelScores> RewardScores(const CustomerProfile& customer,
                                                std::span<const std::size_t> products) const;

  const Catalog& catalog() const { return registry_.catalog(); }
  const RankingRules& ranking() const { return rules_; }
  // The deployment gate's rules (recommender.gate), or null when that file does not exist.
  const GateRules* gate_rules() const { return gate_rules_ ? &*gate_rules_ : nullptr; }
  ModelRegistry& models() { return registry_; }
  const LatencyMonitor& monitor() const { return monitor_; }
  const RecommenderConfig& config() const { return config_; }
  std::uint64_t fallbacks(Fallback reason) const;
  std::uint64_t served() const { return served_.load(); }
  // Counts a fallback decided outside Serve (cache_down).
  void CountFallback(Fallback reason);
  // Prometheus text: fallbacks by reason, lists served, the monitor, the loaded models.
  std::string RenderMetrics() const;

 private:
  RecommenderServing(RecommenderConfig config, Catalog catalog, RankingRules rules,
                     int serving_threads, const Clock& clock);
  // The pipeline's list, or the rule-based one with `fallback` set.
  PolicyList Pipeline(const ServeRequest& r, std::string_view model, std::string& version,
                      Fallback& fallback, ServedList& out);
  PolicyList Legacy(const ServeRequest& r, const RecommenderModel* model) const;

  RecommenderConfig config_;
  RankingRules rules_;
  std::optional<GateRules> gate_rules_;
  const Clock& clock_;
  ModelRegistry registry_;
  LatencyMonitor monitor_;
  std::array<std::atomic<std::uint64_t>, kFallbackReasons.size()> fallbacks_{};
  std::atomic<std::uint64_t> served_{0};
};

}  // namespace abrec
