#include "recommender/serving/serving.h"

#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "base/log.h"

namespace abrec {

RecommenderServing::RecommenderServing(RecommenderConfig config, Catalog catalog,
                                       RankingRules rules, int serving_threads, const Clock& clock)
    : config_(std::move(config)),
      rules_(rules),
      clock_(clock),
      registry_(config_.model_dir, std::move(catalog),
                ModelLoadOptions{.scorer_copies = std::max(1, serving_threads) + 1}),
      monitor_(
          LatencyMonitorOptions{.threshold_ms = static_cast<double>(config_.p99_fallback_ms)}) {}

RecommenderServing::~RecommenderServing() { registry_.StopWatching(); }

Result<std::unique_ptr<RecommenderServing>> RecommenderServing::Open(
    const RecommenderConfig& config, int serving_threads, const Clock& clock,
    ModelRegistry::Approve approve_swap) {
  auto diagnostics = [](const Diagnostics& d, const std::string& field) {
    std::string text;
    for (const auto& x : d) text += (text.empty() ? "" : "; ") + x.ToString();
    return Error::InvalidArgument(text, field);
  };
  auto catalog = LoadCatalog(config.catalog);
  if (!catalog) return std::unexpected(diagnostics(catalog.error(), "recommender.catalog"));
  auto rules = LoadRankingRules(config.ranking);
  if (!rules) return std::unexpected(diagnostics(rules.error(), "recommender.ranking"));
  std::unique_ptr<RecommenderServing> s(
      new RecommenderServing(config, std::move(*catalog), *rules, serving_threads, clock));
  std::error_code ec;
  if (std::filesystem::exists(config.gate, ec)) {
    auto gate = LoadGateRules(config.gate);
    if (!gate) return std::unexpected(diagnostics(gate.error(), "recommender.gate"));
    s->gate_rules_ = std::move(*gate);
  } else {
    LogWarning(
        "gate: no rules at {} (recommender.gate): moves to ab_test or rollout through "
        "the admin API will be refused, and shadow lists are not checked",
        config.gate);
  }
  const auto loaded = s->registry_.Reload();
  if (loaded.empty()) {
    LogWarning(
        "models: no model in {}; the recommender policy serves the rule-based list "
        "(fallback no_model) until one is trained (abrec train --out {}/{}/VERSION)",
        config.model_dir, config.model_dir, config.default_model);
  }
  s->registry_.StartWatching(config.poll_interval_ms, std::move(approve_swap));
  return s;
}

PolicyList RecommenderServing::Legacy(const ServeRequest& r, const RecommenderModel* model) const {
  std::shared_ptr<const RecommenderModel> any;
  if (!model) {
    any = registry_.Any();
    model = any.get();
  }
  return LegacyRulesList(catalog(), model ? &model->segment_popularity() : nullptr, *r.customer,
                         r.k, rules_);
}

PolicyList RecommenderServing::Pipeline(const ServeRequest& r, std::string_view name,
                                        std::string& version, Fallback& fallback, ServedList& out) {
  if (name.empty()) name = config_.default_model;
  const auto model = registry_.Get(name);
  if (!model) {
    fallback = Fallback::kNoModel;
    return Legacy(r, nullptr);
  }
  if (!monitor_.Allow(clock_.NowMicros())) {
    fallback = Fallback::kP99Monitor;
    return Legacy(r, model.get());
  }
  const auto start = std::chrono::steady_clock::now();
  std::span<const std::size_t> candidates;
  if (!r.cached_candidates.empty() && r.cached_version == model->version()) {
    candidates = r.cached_candidates;
    out.used_cache = true;
  }
  auto list = PipelineList(*model, *r.customer, r.k, rules_, candidates,
                           static_cast<std::size_t>(config_.candidates));
  const std::int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count();
  out.pipeline_us += us;
  monitor_.Record(us, clock_.NowMicros());
  if (!list) {
    LogWarning("models: {} version {} failed to score: {}", name, model->version(),
               list.error().message);
    fallback = Fallback::kNoModel;
    return Legacy(r, model.get());
  }
  if (static_cast<double>(us) > config_.latency_budget_ms * 1000) {
    fallback = Fallback::kBudget;
    return Legacy(r, model.get());
  }
  version = model->version();
  return std::move(*list);
}

ServedList RecommenderServing::Serve(const ServeRequest& r, std::mt19937_64& rng) {
  ServedList out;
  served_.fetch_add(1, std::memory_order_relaxed);
  switch (r.policy) {
    case ListPolicy::kRecommender:
      out.list = Pipeline(r, r.model, out.model_version, out.fallback, out);
      break;
    case ListPolicy::kLegacyRules: out.list = Legacy(r, nullptr); break;
    case ListPolicy::kRandom: out.list = RandomList(catalog(), *r.customer, r.k, rng); break;
    case ListPolicy::kNone: break;  // the holdout sees nothing
  }
  if (out.fallback != Fallback::kNone) CountFallback(out.fallback);
  if (r.shadow_policy == ListPolicy::kRecommender) {
    const auto start = std::chrono::steady_clock::now();
    out.shadow = Pipeline(r, r.shadow_model, out.shadow_version, out.shadow_fallback, out);
    out.shadow_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    if (out.shadow_fallback != Fallback::kNone) {
      out.shadow->rules_applied.push_back(
          fmt::format("shadow fallback: {}", FallbackName(out.shadow_fallback)));
    }
  }
  return out;
}

std::optional<PolicyList> RecommenderServing::Counterfactual(ListPolicy policy,
                                                             std::string_view model,
                                                             const CustomerProfile& customer,
                                                             int k) const {
  const ServeRequest r{.customer = &customer, .k = k};
  if (policy == ListPolicy::kLegacyRules) return Legacy(r, nullptr);
  if (policy != ListPolicy::kRecommender) return std::nullopt;
  const auto m = registry_.Get(model.empty() ? std::string_view(config_.default_model) : model);
  if (!m) return Legacy(r, nullptr);  // what the arm serves without its model
  auto list =
      PipelineList(*m, customer, k, rules_, {}, static_cast<std::size_t>(config_.candidates));
  if (!list) return Legacy(r, m.get());
  return std::move(*list);
}

std::optional<RewardModelScores> RecommenderServing::RewardScores(
    const CustomerProfile& customer, std::span<const std::size_t> products) const {
  const auto model = registry_.Get(config_.default_model);
  if (!model) return std::nullopt;
  auto scored = model->Score(customer, products);
  if (!scored) {
    LogWarning("models: {} version {} failed to score the off-policy reward model: {}",
               config_.default_model, model->version(), scored.error().message);
    return std::nullopt;
  }
  RewardModelScores out{.model_version = model->version()};
  out.scores.reserve(scored->size());
  for (const ScoredItem& s : *scored) {
    out.scores.push_back({s.product, s.p_click, s.p_click * s.p_bind});
  }
  return out;
}

std::string_view FallbackName(Fallback reason) {
  switch (reason) {
    case Fallback::kNone: return "";
    case Fallback::kBudget: return "budget";
    case Fallback::kNoModel: return "no_model";
    case Fallback::kP99Monitor: return "p99_monitor";
    case Fallback::kCacheDown: return "cache_down";
  }
  return "";
}

void RecommenderServing::CountFallback(Fallback reason) {
  if (reason == Fallback::kNone) return;
  fallbacks_[static_cast<std::size_t>(reason) - 1].fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t RecommenderServing::fallbacks(Fallback reason) const {
  if (reason == Fallback::kNone) return 0;
  return fallbacks_[static_cast<std::size_t>(reason) - 1].load(std::memory_order_relaxed);
}

std::string RecommenderServing::RenderMetrics() const {
  std::string out =
      "# HELP abrec_recommend_fallbacks_total Lists served by the rules instead of the "
      "pipeline, by reason.\n# TYPE abrec_recommend_fallbacks_total counter\n";
  for (std::size_t i = 0; i < kFallbackReasons.size(); ++i) {
    out += fmt::format("abrec_recommend_fallbacks_total{{reason=\"{}\"}} {}\n",
                       FallbackName(kFallbackReasons[i]),
                       fallbacks_[i].load(std::memory_order_relaxed));
  }
  const auto m = monitor_.snapshot(clock_.NowMicros());
  out += fmt::format(
      "# HELP abrec_recommend_lists_total Recommendation lists served.\n"
      "# TYPE abrec_recommend_lists_total counter\nabrec_recommend_lists_total {}\n"
      "# HELP abrec_pipeline_p99_ms Rolling p99 of the treatment pipeline (p99 monitor window).\n"
      "# TYPE abrec_pipeline_p99_ms gauge\nabrec_pipeline_p99_ms {:.3f}\n"
      "# HELP abrec_p99_monitor_tripped 1 while the treatment arm serves rules (p99 monitor).\n"
      "# TYPE abrec_p99_monitor_tripped gauge\nabrec_p99_monitor_tripped {}\n"
      "# HELP abrec_p99_monitor_trips_total Times the p99 monitor switched treatment to rules.\n"
      "# TYPE abrec_p99_monitor_trips_total counter\nabrec_p99_monitor_trips_total {}\n"
      "# HELP abrec_model_swaps_total Model versions loaded (hot swaps included).\n"
      "# TYPE abrec_model_swaps_total counter\nabrec_model_swaps_total {}\n"
      "# HELP abrec_model_loaded The model version served per model name.\n"
      "# TYPE abrec_model_loaded gauge\n",
      served_.load(std::memory_order_relaxed), m.p99_ms, m.tripped ? 1 : 0, m.trips,
      registry_.swaps());
  for (const auto& [name, version] : registry_.LoadedVersions()) {
    out += fmt::format("abrec_model_loaded{{name=\"{}\",version=\"{}\"}} 1\n", name, version);
  }
  return out;
}

}  // namespace abrec
