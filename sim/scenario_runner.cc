#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>

#include <fmt/format.h>

#include "base/clock.h"
#include "recommender/synthetic_world.h"
#include "recommender/trainer.h"
#include "server/lifecycle.h"
#include "server/platform.h"
#include "server/report_service.h"
#include "sim/scenario.h"

namespace abrec::sim {
namespace {

using json = nlohmann::ordered_json;
constexpr std::int64_t kDayUs = 86'400'000'000;

// What the simulation knows and the report estimates: per user of a bucket, the impressions,
// the expected clicks and the probability of binding nothing, given the lists they were shown.
struct UserTruth {
  std::int64_t impressions = 0;
  double expected_clicks = 0;
  double p_no_bind = 1;
};
using Truth = std::map<std::string, std::map<std::string, std::map<std::string, UserTruth>>>;

// The true value of `metric` in a bucket: bind_rate the mean probability of binding; click_rate
// expected clicks over impressions (the report's ratio metric).
std::optional<double> TrueValue(const std::map<std::string, UserTruth>& users,
                                const std::string& metric) {
  if (users.empty()) return std::nullopt;
  double bind = 0, clicks = 0, impressions = 0;
  for (const auto& [user, t] : users) {
    bind += 1 - t.p_no_bind;
    clicks += t.expected_clicks;
    impressions += static_cast<double>(t.impressions);
  }
  if (metric == "bind_rate") return bind / static_cast<double>(users.size());
  if (impressions == 0) return std::nullopt;
  return clicks / impressions;
}

// Waits for a number of callbacks.
class Pending {
 public:
  void Add() {
    std::lock_guard lock(mu_);
    ++n_;
  }
  void Done() {
    std::lock_guard lock(mu_);
    if (--n_ == 0) cv_.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return n_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;
};

class Runner {
 public:
  Runner(const Scenario& sc, const ScenarioOptions& o, std::uint64_t seed)
      : sc_(sc), o_(o), seed_(seed), rng_(seed ^ 0x7AFF1C) {}

  Result<json> Run() {
    if (auto ok = Open(); !ok) return std::unexpected(ok.error());
    json steps = json::array();
    bool all_ok = true;
    for (const ScenarioStep& step : sc_.steps) {
      auto r = RunStep(step);
      if (!r) return std::unexpected(r.error());
      all_ok = all_ok && r->value("ok", true);
      r->emplace("day", Day());
      steps.push_back(std::move(*r));
    }
    platform_->CloseEvents();
    return json{
        {"scenario", sc_.name}, {"seed", seed_}, {"steps", std::move(steps)}, {"ok", all_ok}};
  }

 private:
  Result<void> Open() {
    namespace fs = std::filesystem;
    const fs::path ws = o_.workspace;
    std::error_code ec;
    if (fs::exists(ws / "var" / "abrec.db", ec)) {
      return std::unexpected(Error::InvalidArgument(
          fmt::format("{} holds a scenario's database already: choose a new folder", ws.string()),
          "dir"));
    }
    fs::create_directories(ws / "experiments", ec);
    fs::create_directories(ws / "var" / "models", ec);
    auto loaded = LoadPlatformConfig(o_.config);
    if (!loaded) {
      return std::unexpected(Error::InvalidArgument(loaded.error().front().ToString(), "config"));
    }
    PlatformConfig c = std::move(*loaded);
    c.experiments.dir = (ws / "experiments").string();
    c.experiments.reload_interval_ms = 0;
    c.experiments.audit_log = (ws / "var" / "audit.log").string();
    c.experiments.accepted_dir = (ws / "var" / "accepted").string();
    c.storage.path = (ws / "var" / "abrec.db").string();
    c.storage.synchronous = "OFF";  // a simulation: speed over durability
    c.storage.retention_days = 0;
    c.admin.token_file = (ws / "var" / "admin.token").string();
    c.recommender.model_dir = (ws / "var" / "models").string();
    c.recommender.cache = "none";
    c.recommender.poll_interval_ms = 0;
    // Simulated time: the latency fallbacks would make the lists depend on the machine.
    c.recommender.latency_budget_ms = 600'000;
    c.recommender.p99_fallback_ms = 600'000;
    const auto start = ParseRfc3339(sc_.start + "T00:00:00Z");
    if (!start) return std::unexpected(Error::InvalidArgument("start: not a date", "start"));
    clock_.Set(*start);
    auto platform = Platform::Open(std::move(c), clock_, {});
    if (!platform) return std::unexpected(platform.error());
    platform_ = std::move(*platform);
    WorldOptions wo;
    wo.customers = sc_.customers;
    wo.seed = seed_;
    auto world = SyntheticWorld::Generate(platform_->recommender()->catalog(), wo);
    if (!world) return std::unexpected(world.error());
    world_.emplace(std::move(*world));
    o_.progress(fmt::format("scenario {}: {} customers, {} visits a day from {} (seed {})",
                            sc_.name, sc_.customers, sc_.visits_per_day, sc_.start, seed_));
    return {};
  }

  std::string Day() const { return FormatRfc3339(clock_.NowMicros()).substr(0, 10); }

  Result<json> RunStep(const ScenarioStep& s) {
    switch (s.kind) {
      case ScenarioStep::Kind::kTrain: return Train(s);
      case ScenarioStep::Kind::kExperiment: return PutDefinition(s);
      case ScenarioStep::Kind::kPhase: return MovePhase(s);
      case ScenarioStep::Kind::kDays: return Days(s);
      case ScenarioStep::Kind::kCheck: return Check(s);
    }
    return json::object();
  }

  Result<json> Train(const ScenarioStep& s) {
    TrainOptions t;
    t.customers = sc_.customers;
    t.seed = seed_;
    t.objective = s.target;
    const std::string out =
        fmt::format("{}/{}/{}", platform_->config().recommender.model_dir, s.model, s.version);
    auto report =
        TrainSynthetic(platform_->recommender()->catalog(), t, out, [](const std::string&) {});
    if (!report) return std::unexpected(report.error());
    platform_->recommender()->models().Reload();
    o_.progress(fmt::format("  trained {}/{} (objective {}): click AUC {:.3f}, hit@1 {:.3f}",
                            s.model, s.version, s.target, report->click_auc, report->hit_at_1));
    return json{{"step", "train"},
                {"model", s.model},
                {"version", s.version},
                {"target", s.target},
                {"click_auc", report->click_auc}};
  }

  Result<json> PutDefinition(const ScenarioStep& s) {
    auto tree = ParseConfigText(s.text, sc_.file, platform_->config().parse_limits());
    const ConfigNode* key = tree ? tree->Find("experiment") : nullptr;
    if (!key || !key->IsScalar()) {
      return std::unexpected(
          Error::InvalidArgument("the experiment's text has no key", "experiment"));
    }
    auto r = PutExperiment(*platform_, key->value, s.text, {.actor = "scenario", .reason = ""});
    if (!r) return std::unexpected(r.error().error);
    o_.progress(fmt::format("  experiment {} put (phase {})", key->value,
                            PhaseName(r->experiment->def.phase)));
    return json{{"step", "experiment"},
                {"experiment", key->value},
                {"phase", PhaseName(r->experiment->def.phase)}};
  }

  Result<json> MovePhase(const ScenarioStep& s) {
    const auto to = ParsePhase(s.to);
    if (!to) return std::unexpected(Error::InvalidArgument("unknown phase " + s.to, "to"));
    auto r =
        ChangePhase(*platform_, s.experiment, *to, "",
                    {.actor = "scenario", .reason = fmt::format("scenario step line {}", s.line)});
    const bool refused = !r.has_value();
    json out{{"step", "phase"},
             {"experiment", s.experiment},
             {"to", s.to},
             {"applied", !refused},
             {"ok", refused == s.expect_refused}};
    if (refused) out["reason"] = r.error().error.message;
    o_.progress(fmt::format("  {} -> {}: {}{}", s.experiment, s.to,
                            refused ? "refused: " + r.error().error.message : "applied",
                            refused == s.expect_refused ? "" : " (NOT AS EXPECTED)"));
    return out;
  }

  Result<json> Days(const ScenarioStep& s) {
    const auto& customers = world_->customers();
    const Catalog& catalog = platform_->recommender()->catalog();
    std::uniform_real_distribution<double> unit(0, 1);
    std::int64_t exposures = 0, clicks = 0, binds = 0;
    for (int d = 0; d < s.days; ++d, ++day_index_) {
      const std::int64_t day_start = clock_.NowMicros() - clock_.NowMicros() % kDayUs;
      const int n = sc_.visits_per_day;
      std::vector<std::size_t> who(static_cast<std::size_t>(n));
      std::vector<std::optional<RecommendOutcome>> seen(static_cast<std::size_t>(n));
      std::vector<std::int64_t> at(static_cast<std::size_t>(n));
      Pending pending;
      std::mutex mu;
      for (int v = 0; v < n; ++v) {
        const auto i = static_cast<std::size_t>(v);
        who[i] = static_cast<std::size_t>(rng_() % customers.size());
        at[i] = day_start + (kDayUs - 3'600'000'000) * v / n;
        clock_.Set(at[i]);
        RecommendRequest req;
        req.user_id = customers[who[i]].id;
        req.customer = ProfileOf(customers[who[i]]);
        req.k = sc_.k;
        pending.Add();
        auto queued =
            platform_->RecommendAndLog(std::move(req), [&, i](Result<RecommendOutcome> r) {
              if (r) {
                std::lock_guard lock(mu);
                seen[i] = std::move(*r);
              }
              pending.Done();
            });
        if (!queued) {
          pending.Done();
          pending.Wait();
          return std::unexpected(queued.error());
        }
      }
      pending.Wait();
      // Outcomes, in visit order (the random draws do not depend on the threads).
      std::vector<Event> events;
      for (int v = 0; v < n; ++v) {
        const auto i = static_cast<std::size_t>(v);
        if (!seen[i] || !seen[i]->logged || !seen[i]->assignment) continue;
        const RecommendOutcome& o = *seen[i];
        ++exposures;
        // Each visit's draws from its own stream: the exploration bucket's random lists (the
        // service's randomness) change only that visit's outcomes, not the others'.
        std::mt19937_64 draw(seed_ ^ (0x9E3779B97F4A7C15ULL *
                                      static_cast<std::uint64_t>(day_index_ * 10'000'019LL + v)));
        UserTruth& t = truth_[o.assignment->experiment->def.key][o.bucket][o.user_id];
        for (const RecommendedItem& it : o.served.list.items) {
          const double pc = world_->ClickProbability(who[i], it.product);
          const double pb = world_->BindProbability(who[i], it.product);
          ++t.impressions;
          t.expected_clicks += pc;
          t.p_no_bind *= 1 - pc * pb;
          const std::string& product = catalog.products[it.product].id;
          if (unit(draw) >= pc) continue;
          Event c;
          c.event_id = fmt::format("{}-c-{}", o.request_id, product);
          c.type = EventType::kClick;
          c.user_id = o.user_id;
          c.request_id = o.request_id;
          c.product_id = product;
          c.position = it.rank;
          c.ts_us = at[i] + 60'000'000;
          c.payload_hash = c.event_id;
          events.push_back(c);
          ++clicks;
          if (unit(draw) >= pb) continue;
          Event b = c;
          b.event_id = fmt::format("{}-b-{}", o.request_id, product);
          b.type = EventType::kBind;
          b.premium_cents = catalog.products[it.product].annual_premium_cents;
          b.ts_us = at[i] + 600'000'000;
          b.payload_hash = b.event_id;
          events.push_back(std::move(b));
          ++binds;
        }
      }
      clock_.Set(day_start + kDayUs - 1'800'000'000);
      if (auto ok = SubmitAll(std::move(events)); !ok) return std::unexpected(ok.error());
      clock_.Set(day_start + kDayUs);
      o_.progress(fmt::format("  day {} done: {} visits; {} exposures, {} clicks, {} binds so far",
                              FormatRfc3339(day_start).substr(0, 10), n, exposures, clicks, binds));
    }
    return json{{"step", "days"},
                {"days", s.days},
                {"exposures", exposures},
                {"clicks", clicks},
                {"binds", binds}};
  }

  Result<void> SubmitAll(std::vector<Event> events) {
    constexpr std::size_t kBatch = 10'000;
    Pending pending;
    Result<void> status;
    std::mutex mu;
    for (std::size_t start = 0; start < events.size(); start += kBatch) {
      std::vector<Event> batch(
          events.begin() + static_cast<std::ptrdiff_t>(start),
          events.begin() + static_cast<std::ptrdiff_t>(std::min(events.size(), start + kBatch)));
      pending.Add();
      auto queued =
          platform_->events()->Submit(std::move(batch), [&](Result<std::vector<EventOutcome>> r) {
            if (!r) {
              std::lock_guard lock(mu);
              status = std::unexpected(r.error());
            }
            pending.Done();
          });
      if (!queued) {
        pending.Done();
        pending.Wait();
        return queued;
      }
    }
    pending.Wait();
    return status;
  }

  Result<json> Check(const ScenarioStep& s) {
    const auto e = platform_->experiments()->Find(s.experiment);
    if (!e) return std::unexpected(Error::NotFound("no experiment " + s.experiment, "experiment"));
    auto report = ExperimentReport(*platform_, e->def);
    if (!report) return std::unexpected(report.error());
    const std::string decision = (*report)["decision"]["code"].get<std::string>();
    bool ok = s.decisions.empty() ||
              std::find(s.decisions.begin(), s.decisions.end(), decision) != s.decisions.end();
    json out{{"step", "check"},
             {"experiment", s.experiment},
             {"phase", PhaseName(e->def.phase)},
             {"decision", decision},
             {"reasons", (*report)["decision"]["reasons"]}};
    if (!s.decisions.empty()) out["expected_decision"] = s.decisions;
    json covered = json::array();
    const auto& buckets = truth_[s.experiment];
    for (const std::string& metric : s.covers) {
      for (const auto& m : (*report)["metrics"]) {
        if (m["metric"] != metric) continue;
        const std::string variant = m["variant"].get<std::string>();
        const auto t_it = buckets.find(variant), c_it = buckets.find("control");
        if (t_it == buckets.end() || c_it == buckets.end()) continue;
        const auto tv = TrueValue(t_it->second, metric), cv = TrueValue(c_it->second, metric);
        const json& ci = m["absolute"]["ci_sequential"].is_array() ? m["absolute"]["ci_sequential"]
                                                                   : m["absolute"]["ci"];
        if (!tv || !cv || !ci.is_array()) continue;
        const double effect = *tv - *cv;
        const bool in = ci[0].get<double>() <= effect && effect <= ci[1].get<double>();
        ok = ok && in;
        covered.push_back({{"metric", metric},
                           {"variant", variant},
                           {"true_effect", effect},
                           {"true_value", *tv},
                           {"true_control", *cv},
                           {"estimate", m["absolute"]["estimate"]},
                           {"ci", ci},
                           {"covered", in}});
      }
    }
    out["truth"] = std::move(covered);
    // The program against the holdout: the whole recommender's worth, on the primary metric.
    for (const auto& u : (*report)["uplift_vs_holdout"]) {
      if (u["arm"] == "all" && u["metric"] == e->def.metrics.primary) {
        out["uplift_vs_holdout"] = {
            {"metric", u["metric"]}, {"absolute", u["absolute"]}, {"relative", u["relative"]}};
      }
    }
    out["ok"] = ok;
    o_.progress(fmt::format(
        "  check {}: decision {}{}; {}", s.experiment, decision, ok ? "" : " (NOT AS EXPECTED)",
        fmt::format("{} intervals checked against the truth", out["truth"].size())));
    return out;
  }

  const Scenario& sc_;
  ScenarioOptions o_;
  std::uint64_t seed_;
  std::mt19937_64 rng_;  // who visits
  std::int64_t day_index_ = 0;
  ManualClock clock_;
  std::unique_ptr<Platform> platform_;
  std::optional<SyntheticWorld> world_;
  Truth truth_;
};

}  // namespace

Result<nlohmann::ordered_json> RunScenario(const Scenario& scenario,
                                           const ScenarioOptions& options) {
  ScenarioOptions o = options;
  if (!o.progress) o.progress = [](const std::string&) {};
  Runner runner(scenario, o, options.seed.value_or(scenario.seed));
  return runner.Run();
}

}  // namespace abrec::sim
