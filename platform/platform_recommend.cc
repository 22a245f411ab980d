// Platform::Recommend: the request's path through assignment, the arm's policy and the
// exposure log (DESIGN.md, "How a request flows").
#include <algorithm>
#include <chrono>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "assignment/hash.h"
#include "eventstore/counter_keys.h"
#include "eventstore/latency_histogram.h"
#include "platform/platform.h"

namespace abrec {
namespace {

// The experiment a request on `surface` belongs to: the first running one (by key) that
// enrols the user; else the first running one, whose outcome then says not_enrolled.
std::optional<AssignOutcome> AssignOnSurface(const Platform& platform, const std::string& surface,
                                             std::string_view user_id) {
  std::optional<AssignOutcome> fallback;
  const auto snapshot = platform.experiments();
  for (const auto& e : snapshot->experiments) {
    const std::string& s =
        e->def.surface.empty() ? platform.config().default_surface : e->def.surface;
    if (s != surface || e->def.phase == Phase::kStopped) continue;
    auto outcome = platform.Assign(user_id, e->def.key);
    if (!outcome) continue;
    if (outcome->decision.InExperiment()) return std::move(*outcome);
    if (!fallback) fallback = std::move(*outcome);
  }
  return fallback;
}

nlohmann::ordered_json ListAudit(const Catalog& catalog, const PolicyList& list,
                                 const std::string& version) {
  nlohmann::ordered_json items = nlohmann::ordered_json::array();
  for (const RecommendedItem& it : list.items) {
    nlohmann::ordered_json item{{"product_id", catalog.products[it.product].id},
                                {"rank", it.rank},
                                {"score", it.score},
                                {"propensity", it.propensity},
                                {"reason", it.reason}};
    if (it.p_click) item["p_click"] = *it.p_click;
    if (it.p_bind) item["p_bind"] = *it.p_bind;
    if (!it.features.empty()) {
      nlohmann::ordered_json f = nlohmann::ordered_json::object();
      const auto& names = FeatureNames();
      for (std::size_t i = 0; i < it.features.size() && i < names.size(); ++i) {
        f[std::string(names[i])] = std::isnan(it.features[i])
                                       ? nlohmann::ordered_json(nullptr)
                                       : nlohmann::ordered_json(it.features[i]);
      }
      item["features"] = std::move(f);
    }
    items.push_back(std::move(item));
  }
  return {{"model_version", version},
          {"items", std::move(items)},
          {"rules_applied", list.rules_applied}};
}

// The exposure's counters for the report's fairness section, each counted once per user
// (counter_keys.h): per fairness attribute of the experiment, the user's group
// "users|exposed|ATTRIBUTE|GROUP", and "users|shown|ATTRIBUTE|GROUP|PRODUCT" for each product
// shown. A user whose group changes between requests (an age band crossed) counts in each.
std::vector<std::string> FairnessCounters(const Experiment& e, const CustomerProfile& c,
                                          const Catalog& catalog, const PolicyList& shown) {
  std::vector<std::string> out;
  for (const std::string& attribute : e.fairness.attributes) {
    const std::string group = GroupOf(c, attribute);  // "unknown" groups are not compared
    out.push_back(counter_keys::FairnessExposed(attribute, group));
    for (const RecommendedItem& it : shown.items) {
      out.push_back(counter_keys::FairnessShown(attribute, group, catalog.products[it.product].id));
    }
  }
  return out;
}

// In shadow, what the assigned variant would have shown, for the report's sanity checks:
// "shadow|lists", "shadow|product|ID" per item, "shadow|violation|ID|RULE" per item that
// breaks an eligibility invariant of the gate's rules, "shadow|latency_bin|B" (the time the
// shadow list took, binned as the latency histograms are) and "shadow|fallback" when the
// shadow pipeline fell back to the rules.
void AddShadowCounters(const Catalog& catalog, const GateRules* rules, const CustomerProfile& c,
                       const ServedList& served, std::vector<std::string>& out) {
  if (!served.shadow) return;
  out.push_back(counter_keys::ShadowLists());
  for (const RecommendedItem& it : served.shadow->items) {
    const Product& p = catalog.products[it.product];
    out.push_back(counter_keys::ShadowProduct(p.id));
    if (const GateInvariant* broken = rules ? BrokenBy(*rules, p, c.age) : nullptr) {
      out.push_back(counter_keys::ShadowViolation(p.id, DescribeInvariant(*broken)));
    }
  }
  out.push_back(counter_keys::ShadowLatencyBin(LatencyHistogram::BinOf(served.shadow_us)));
  if (served.shadow_fallback != Fallback::kNone) out.push_back(counter_keys::ShadowFallback());
}

// The exposure's audit record: who was shown what, from which model, why.
nlohmann::ordered_json AuditRecord(const Catalog& catalog, const CustomerProfile& customer,
                                   bool cache_down, int k, const RecommendOutcome& o) {
  nlohmann::ordered_json a{
      {"surface", o.surface},
      {"attributes", ProfileToAttributes(customer, catalog)},
      {"k", k},
      {"fallback", o.served.fallback == Fallback::kNone
                       ? nlohmann::ordered_json(nullptr)
                       : nlohmann::ordered_json(FallbackName(o.served.fallback))},
      {"latency_us", o.latency_us},
      {"pipeline_us", o.served.pipeline_us},
      {"cache", o.served.used_cache ? "hit" : (cache_down ? "down" : "miss")},
      {"shown", ListAudit(catalog, o.served.list, o.served.model_version)}};
  if (o.served.shadow) {
    a["shadow"] = ListAudit(catalog, *o.served.shadow, o.served.shadow_version);
  }
  return a;
}

nlohmann::ordered_json PredictionJson(const std::optional<RewardPrediction>& p) {
  if (!p) return nullptr;
  return {{"clicks", p->clicks}, {"binds", p->binds}, {"premium", p->premium}};
}

// An exploration list's off-policy targets (eventstore/sqlite/off_policy_log.h): what each
// variant's policy would have shown this customer, marked on the random list's items; how
// many of its products the random policy could show; and the reward model's predictions
// (the default model's P(click) and P(bind) per impression, and P(bind) × the catalog's
// annual premium) for the shown products and summed over each target's list. Returns the
// audit record's "off_policy": the reward model's version, and the shown and target products
// with their predictions.
nlohmann::ordered_json AddOffPolicyTargets(const RecommenderServing& recommender,
                                           const RecommendOutcome& o,
                                           const CustomerProfile& customer, int k,
                                           Event& exposure) {
  const Catalog& catalog = recommender.catalog();
  std::vector<std::pair<std::string, PolicyList>> lists;
  std::vector<std::size_t> products;
  for (const RecommendedItem& it : o.served.list.items) products.push_back(it.product);
  for (const Variant& v : o.assignment->experiment->def.variants) {
    auto list = recommender.Counterfactual(ListPolicyOf(v.policy), v.model, customer, k);
    if (!list) continue;
    for (const RecommendedItem& it : list->items) products.push_back(it.product);
    lists.emplace_back(v.name, std::move(*list));
  }
  std::sort(products.begin(), products.end());
  products.erase(std::unique(products.begin(), products.end()), products.end());
  const auto scores = recommender.RewardScores(customer, products);
  auto predicted = [&](std::size_t product) -> std::optional<RewardPrediction> {
    if (!scores) return std::nullopt;
    const auto it = std::find_if(scores->scores.begin(), scores->scores.end(),
                                 [product](const ProductScore& s) { return s.product == product; });
    if (it == scores->scores.end()) return std::nullopt;
    const double premium =
        static_cast<double>(catalog.products[product].annual_premium_cents) / 100;
    return RewardPrediction{it->p_click, it->p_bind, it->p_bind * premium};
  };
  nlohmann::ordered_json shown = nlohmann::ordered_json::array();
  for (ExposedItem& item : exposure.items) {
    if (const auto p = catalog.IndexOf(item.product_id)) item.predicted = predicted(*p);
    shown.push_back(
        {{"product_id", item.product_id}, {"predicted", PredictionJson(item.predicted)}});
  }
  nlohmann::ordered_json targets = nlohmann::ordered_json::object();
  for (const auto& [variant, list] : lists) {
    OpeTarget t{
        .variant = variant, .products = static_cast<int>(list.items.size()), .in_support = 0};
    RewardPrediction sum;
    bool all_predicted = true;
    nlohmann::ordered_json items = nlohmann::ordered_json::array();
    for (const RecommendedItem& it : list.items) {
      const std::string& id = catalog.products[it.product].id;
      const bool explorable = Explorable(catalog, customer, it.product);
      t.in_support += explorable ? 1 : 0;
      const auto p = predicted(it.product);
      if (p) {
        sum = {sum.clicks + p->clicks, sum.binds + p->binds, sum.premium + p->premium};
      } else {
        all_predicted = false;
      }
      for (ExposedItem& item : exposure.items) {
        if (item.product_id == id) item.in_lists.push_back(variant);
      }
      items.push_back(
          {{"product_id", id}, {"explorable", explorable}, {"predicted", PredictionJson(p)}});
    }
    if (all_predicted) t.predicted = sum;
    targets[variant] = {{"products", std::move(items)},
                        {"in_support", t.in_support},
                        {"predicted", PredictionJson(t.predicted)}};
    exposure.ope_targets.push_back(std::move(t));
  }
  return {{"reward_model", scores ? nlohmann::ordered_json(scores->model_version)
                                  : nlohmann::ordered_json(nullptr)},
          {"shown", std::move(shown)},
          {"targets", std::move(targets)}};
}

}  // namespace

int CurrentYear(const Clock& clock) {
  return std::stoi(FormatRfc3339(clock.NowMicros()).substr(0, 4));
}

// A request's customer: the profile served from, and the precomputed cache's candidates.
struct Platform::ResolvedCustomer {
  CustomerProfile profile;
  std::vector<std::size_t> cached_candidates;
  std::string cached_version;
  bool cache_down = false;  // the cache could not be read: candidates are computed now
};

Result<Platform::ResolvedCustomer> Platform::Resolve(const RecommendRequest& req) const {
  if (!recommender_) {
    return std::unexpected(
        Error{ErrorCode::kUnavailable, "this process serves no recommendations", "recommender"});
  }
  if (auto ok = ValidateUserId(req.user_id); !ok) return std::unexpected(ok.error());
  if (req.k < 1 || req.k > kMaxRecommendations) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("k must be 1..{}, got {}", kMaxRecommendations, req.k), "k"));
  }
  const Catalog& catalog = recommender_->catalog();
  ResolvedCustomer r;
  const bool from_cache = !req.customer && !req.attributes;
  if (req.customer) {
    r.profile = *req.customer;
  } else {
    // Without attributes: the cold-start profile, unless the cache knows the user.
    auto profile = ProfileFromAttributes(req.attributes ? *req.attributes : nlohmann::json(),
                                         catalog, CurrentYear(clock_));
    if (!profile) return std::unexpected(profile.error());
    r.profile = std::move(*profile);
  }
  // No cache configured: every user is unknown to it.
  Result<std::optional<CachedCandidates>> entry =
      cache_ ? cache_->Get(req.user_id) : std::optional<CachedCandidates>();
  if (!entry) {
    r.cache_down = true;
    return r;
  }
  if (!*entry) {
    if (from_cache && req.known_users_only) {
      return std::unexpected(Error::NotFound(
          fmt::format("unknown user \"{}\": no precomputed entry (abrec precompute); POST "
                      "/v1/recommend with the user's attributes instead",
                      req.user_id),
          "user_id"));
    }
    return r;
  }
  // Unknown products in an entry (a catalog changed since) are skipped.
  for (const std::string& id : (*entry)->product_ids) {
    if (auto p = catalog.IndexOf(id)) r.cached_candidates.push_back(*p);
  }
  r.cached_version = (*entry)->model_version;
  if (from_cache) {
    auto attributes = nlohmann::json::parse((*entry)->attributes_json, nullptr, false);
    if (auto profile = ProfileFromAttributes(attributes, catalog, CurrentYear(clock_))) {
      r.profile = std::move(*profile);
    }
  }
  return r;
}

Result<RecommendOutcome> Platform::Recommend(const RecommendRequest& req) const {
  auto customer = Resolve(req);
  if (!customer) return std::unexpected(customer.error());
  return Serve(req, *customer);
}

Result<RecommendOutcome> Platform::Serve(const RecommendRequest& req,
                                         const ResolvedCustomer& customer) const {
  const auto start = std::chrono::steady_clock::now();
  RecommendOutcome o;
  o.surface = req.surface.empty() ? config_.default_surface : req.surface;
  const auto surface = config_.surfaces.find(o.surface);
  if (surface == config_.surfaces.end()) {
    return std::unexpected(
        Error::InvalidArgument(fmt::format("unknown surface \"{}\"", o.surface), "surface"));
  }
  if (customer.profile.holds.size() != recommender_->catalog().products.size()) {
    return std::unexpected(Error::InvalidArgument(
        "the customer's holdings do not match the catalog", "attributes.holdings"));
  }
  o.request_id = NewRequestId();
  o.user_id = req.user_id;
  ServeRequest serve{.customer = &customer.profile,
                     .k = req.k,
                     .cached_candidates = customer.cached_candidates,
                     .cached_version = customer.cached_version};
  o.assignment = AssignOnSurface(*this, o.surface, req.user_id);
  if (o.assignment) {
    const AssignOutcome& a = *o.assignment;
    o.bucket = std::string(a.bucket);
    if (a.variant) o.variant = std::string(*a.variant);
    o.policy = a.arm.policy;
    serve.model = a.arm.model;
    if (a.arm.shadow_policy) {
      serve.shadow_policy = ListPolicyOf(*a.arm.shadow_policy);
      serve.shadow_model = a.arm.shadow_model;
    }
  } else {
    // No experiment on the surface: the population bucket alone decides (PolicyFor).
    const double u = HashV2Unchecked(population_.seed(), req.user_id);
    const PopulationBucket b = PopulationBucketOf(u, population_.split());
    o.bucket =
        b == PopulationBucket::kExperiment ? "not_enrolled" : std::string(PopulationBucketName(b));
    o.policy = PolicyFor(nullptr, b, -1, surface->second.default_policy).policy;
  }
  serve.policy = ListPolicyOf(o.policy);
  thread_local std::mt19937_64 unseeded{std::random_device{}()};
  if (random_seed_) {
    std::mt19937_64 seeded(*random_seed_ ^ std::hash<std::string>{}(req.user_id) ^
                           static_cast<std::uint64_t>(clock_.NowMicros()));
    o.served = recommender_->Serve(serve, seeded);
  } else {
    o.served = recommender_->Serve(serve, unseeded);
  }
  if (customer.cache_down && o.policy == Policy::kRecommender &&
      o.served.fallback == Fallback::kNone) {
    o.served.fallback = Fallback::kCacheDown;
    recommender_->CountFallback(Fallback::kCacheDown);
  }
  o.latency_us = std::chrono::duration_cast<std::chrono::microseconds>(
                     std::chrono::steady_clock::now() - start)
                     .count();
  return o;
}

Result<void> Platform::RecommendAndLog(RecommendRequest req, RecommendDone done) const {
  auto customer = Resolve(req);
  if (!customer) return std::unexpected(customer.error());
  auto outcome = Serve(req, *customer);
  if (!outcome) return std::unexpected(outcome.error());
  if (!req.log || !events_ || !outcome->assignment || !IsExposure(*outcome->assignment)) {
    done(std::move(*outcome));
    return {};
  }
  Event exposure = ExposureEvent(req.user_id, *outcome->assignment, outcome->request_id);
  exposure.model_version = outcome->served.model_version;
  const Catalog& catalog = recommender_->catalog();
  for (const RecommendedItem& it : outcome->served.list.items) {
    exposure.items.push_back({catalog.products[it.product].id, it.rank, it.propensity});
  }
  nlohmann::ordered_json audit =
      AuditRecord(catalog, customer->profile, customer->cache_down, req.k, *outcome);
  exposure.latency_us = outcome->latency_us;
  exposure.fallback = outcome->served.fallback != Fallback::kNone;
  for (std::string& name : FairnessCounters(outcome->assignment->experiment->def, customer->profile,
                                            catalog, outcome->served.list)) {
    exposure.counters.push_back(std::move(name));
  }
  AddShadowCounters(catalog, recommender_->gate_rules(), customer->profile, outcome->served,
                    exposure.counters);
  if (outcome->bucket == "exploration") {
    audit["off_policy"] =
        AddOffPolicyTargets(*recommender_, *outcome, customer->profile, req.k, exposure);
  }
  exposure.features_json = audit.dump();
  outcome->logged = true;
  auto result = std::make_shared<RecommendOutcome>(std::move(*outcome));
  return events_->Submit({std::move(exposure)},
                         [result, done = std::move(done)](Result<std::vector<EventOutcome>> r) {
                           if (!r) return done(std::unexpected(r.error()));
                           done(std::move(*result));
                         });
}

}  // namespace abrec
