#include <map>
#include <random>

#include <fmt/format.h>

#include "base/clock.h"
#include "recommender/data/synthetic_world.h"
#include "recommender/training/trainer.h"
#include "sim/scenario.h"
#include "sim/scenario_driver.h"

namespace abrec::sim {
namespace {

using json = nlohmann::ordered_json;
constexpr std::int64_t kDayUs = 86'400'000'000;

// What the simulation knows and the report estimates: per user of a bucket, the impressions,
// the expected clicks, the probability of binding nothing and the expected premium and
// revenue (currency units), given the lists they were shown.
struct UserTruth {
  std::int64_t impressions = 0;
  double expected_clicks = 0;
  double p_no_bind = 1;
  double expected_premium = 0;
  double expected_revenue = 0;
};
using Truth = std::map<std::string, std::map<std::string, std::map<std::string, UserTruth>>>;

// The true value of `metric` in a bucket: bind_rate the mean probability of binding;
// premium_per_user and revenue_per_user the mean expected amounts; click_rate expected clicks
// over impressions (the report's ratio metric).
std::optional<double> TrueValue(const std::map<std::string, UserTruth>& users,
                                const std::string& metric) {
  if (users.empty()) return std::nullopt;
  double bind = 0, clicks = 0, impressions = 0, premium = 0, revenue = 0;
  for (const auto& [user, t] : users) {
    bind += 1 - t.p_no_bind;
    clicks += t.expected_clicks;
    impressions += static_cast<double>(t.impressions);
    premium += t.expected_premium;
    revenue += t.expected_revenue;
  }
  const auto n = static_cast<double>(users.size());
  if (metric == "bind_rate") return bind / n;
  if (metric == "premium_per_user") return premium / n;
  if (metric == "revenue_per_user") return revenue / n;
  if (metric != "click_rate" || impressions == 0) return std::nullopt;
  return clicks / impressions;
}

// The driver's time as a Clock: the simulated one in process, the service's over HTTP.
class DriverClock final : public Clock {
 public:
  explicit DriverClock(const std::unique_ptr<ScenarioDriver>& driver) : driver_(driver) {}
  std::int64_t NowMicros() const override { return driver_->Now(); }

 private:
  const std::unique_ptr<ScenarioDriver>& driver_;
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
      if (!r) {
        driver_->Close();
        return std::unexpected(r.error());
      }
      all_ok = all_ok && r->value("ok", true);
      r->emplace("day", Day());
      steps.push_back(std::move(*r));
    }
    driver_->Close();
    return json{{"scenario", sc_.name},
                {"seed", seed_},
                {"mode", o_.url.empty() ? "in_process" : "http"},
                {"steps", std::move(steps)},
                {"ok", all_ok}};
  }

 private:
  Result<void> Open() {
    const auto start = ParseRfc3339(sc_.start + "T00:00:00Z");
    if (!start) return std::unexpected(Error::InvalidArgument("start: not a date", "start"));
    auto driver = o_.url.empty() ? OpenInProcess(o_.workspace, o_.config, *start, seed_)
                                 : OpenHttp(o_.url, o_.config);
    if (!driver) return std::unexpected(driver.error());
    driver_ = std::move(*driver);
    WorldOptions wo;
    wo.customers = sc_.customers;
    wo.seed = seed_;
    auto world = SyntheticWorld::Generate(driver_->catalog(), wo);
    if (!world) return std::unexpected(world.error());
    world_.emplace(std::move(*world));
    o_.progress(fmt::format("scenario {}: {} customers, {} visits a day from {} (seed {}), {}",
                            sc_.name, sc_.customers, sc_.visits_per_day, sc_.start, seed_,
                            o_.url.empty() ? std::string("in process") : "through " + o_.url));
    return {};
  }

  std::string Day() const { return FormatRfc3339(driver_->Now()).substr(0, 10); }

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
    if (s.from_events) return TrainOnLog(s);
    TrainOptions t;
    t.clock = &clock_;
    t.customers = sc_.customers;
    t.seed = seed_;
    t.objective = s.target;
    const std::string out = fmt::format("{}/{}/{}", driver_->model_dir(), s.model, s.version);
    auto report = TrainSynthetic(driver_->catalog(), t, out, [](const std::string&) {});
    if (!report) return std::unexpected(report.error());
    if (auto ok = driver_->ReloadModels(); !ok) return std::unexpected(ok.error());
    o_.progress(fmt::format("  trained {}/{} (objective {}): click AUC {:.3f}, hit@1 {:.3f}",
                            s.model, s.version, s.target, report->click_auc, report->hit_at_1));
    return json{{"step", "train"},
                {"model", s.model},
                {"version", s.version},
                {"target", s.target},
                {"click_auc", report->click_auc}};
  }

  // Retrains on what the platform logged so far (abrec train --from-events).
  Result<json> TrainOnLog(const ScenarioStep& s) {
    EventTrainOptions t;
    t.clock = &clock_;
    t.objective = s.target;
    const std::string out = fmt::format("{}/{}/{}", driver_->model_dir(), s.model, s.version);
    auto report =
        TrainFromEvents(driver_->catalog(), driver_->database(), t, out, [](const std::string&) {});
    if (!report) return std::unexpected(report.error());
    if (auto ok = driver_->ReloadModels(); !ok) return std::unexpected(ok.error());
    o_.progress(fmt::format(
        "  trained {}/{} on the event log (objective {}): {} impressions ({} from exploration), "
        "held-out click AUC {:.3f}, bind AUC {:.3f}",
        s.model, s.version, s.target, report->rows, report->exploration_rows, report->click_auc,
        report->bind_auc));
    return json{{"step", "train"},
                {"model", s.model},
                {"version", s.version},
                {"target", s.target},
                {"from", "events"},
                {"impressions", report->rows},
                {"click_auc", report->click_auc},
                {"bind_auc", report->bind_auc}};
  }

  Result<json> PutDefinition(const ScenarioStep& s) {
    auto tree = ParseConfigText(s.text, sc_.file, ParseLimits{});
    const ConfigNode* key = tree ? tree->Find("experiment") : nullptr;
    if (!key || !key->IsScalar()) {
      return std::unexpected(
          Error::InvalidArgument("the experiment's text has no key", "experiment"));
    }
    auto phase = driver_->PutExperiment(key->value, s.text);
    if (!phase) return std::unexpected(phase.error());
    o_.progress(fmt::format("  experiment {} put (phase {})", key->value, *phase));
    return json{{"step", "experiment"}, {"experiment", key->value}, {"phase", *phase}};
  }

  Result<json> MovePhase(const ScenarioStep& s) {
    auto refusal =
        driver_->ChangePhase(s.experiment, s.to, fmt::format("scenario step line {}", s.line));
    if (!refusal) return std::unexpected(refusal.error());
    const bool refused = !refusal->empty();
    json out{{"step", "phase"},
             {"experiment", s.experiment},
             {"to", s.to},
             {"applied", !refused},
             {"ok", refused == s.expect_refused}};
    if (refused) out["reason"] = *refusal;
    o_.progress(fmt::format("  {} -> {}: {}{}", s.experiment, s.to,
                            refused ? "refused: " + *refusal : std::string("applied"),
                            refused == s.expect_refused ? "" : " (NOT AS EXPECTED)"));
    return out;
  }

  Result<json> Days(const ScenarioStep& s) {
    const auto& customers = world_->customers();
    const Catalog& catalog = driver_->catalog();
    std::uniform_real_distribution<double> unit(0, 1);
    std::int64_t exposures = 0, clicks = 0, binds = 0;
    for (int d = 0; d < s.days; ++d, ++day_index_) {
      const std::int64_t day_start = driver_->Now() - driver_->Now() % kDayUs;
      const int n = sc_.visits_per_day;
      std::vector<Visit> visits(static_cast<std::size_t>(n));
      std::vector<std::size_t> who(visits.size());
      for (std::size_t i = 0; i < visits.size(); ++i) {
        who[i] = static_cast<std::size_t>(rng_() % customers.size());
        visits[i] = Visit{customers[who[i]].id, ProfileOf(customers[who[i]]), sc_.k,
                          day_start + (kDayUs - 3'600'000'000) * static_cast<std::int64_t>(i) / n};
      }
      auto served = driver_->Serve(visits);
      if (!served) return std::unexpected(served.error());
      // Outcomes in visit order, each visit's draws from its own stream: the exploration
      // bucket's random lists (the service's randomness) change only that visit's outcomes.
      std::vector<Event> events;
      for (std::size_t i = 0; i < visits.size(); ++i) {
        if (!(*served)[i]) continue;
        const ServedVisit& o = *(*served)[i];
        ++exposures;
        std::mt19937_64 draw(seed_ ^ (0x9E3779B97F4A7C15ULL *
                                      static_cast<std::uint64_t>(day_index_ * 10'000'019LL +
                                                                 static_cast<std::int64_t>(i))));
        UserTruth& t = truth_[o.experiment][o.bucket][visits[i].user_id];
        for (std::size_t r = 0; r < o.products.size(); ++r) {
          const std::size_t p = o.products[r];
          const double pc = world_->ClickProbability(who[i], p);
          const double pb = world_->BindProbability(who[i], p);
          const Product& product_info = catalog.products[p];
          ++t.impressions;
          t.expected_clicks += pc;
          t.p_no_bind *= 1 - pc * pb;
          // A bind's revenue as the store prices it: premium × margin, rounded to the cent.
          t.expected_premium +=
              pc * pb * static_cast<double>(product_info.annual_premium_cents) / 100;
          t.expected_revenue +=
              pc * pb *
              static_cast<double>(std::llround(
                  static_cast<double>(product_info.annual_premium_cents) * product_info.margin)) /
              100;
          const std::string& product = catalog.products[p].id;
          if (unit(draw) >= pc) continue;
          Event c;
          c.event_id = fmt::format("{}-c-{}", o.request_id, product);
          c.type = EventType::kClick;
          c.user_id = visits[i].user_id;
          c.request_id = o.request_id;
          c.product_id = product;
          c.position = static_cast<int>(r) + 1;
          c.ts_us = visits[i].at_us + 60'000'000;
          c.payload_hash = c.event_id;
          events.push_back(c);
          ++clicks;
          if (unit(draw) >= pb) continue;
          Event b = c;
          b.event_id = fmt::format("{}-b-{}", o.request_id, product);
          b.type = EventType::kBind;
          b.premium_cents = catalog.products[p].annual_premium_cents;
          b.ts_us = visits[i].at_us + 600'000'000;
          b.payload_hash = b.event_id;
          events.push_back(std::move(b));
          ++binds;
        }
      }
      driver_->SetTime(day_start + kDayUs - 1'800'000'000);
      if (auto ok = driver_->Submit(std::move(events)); !ok) return std::unexpected(ok.error());
      driver_->SetTime(day_start + kDayUs);
      o_.progress(fmt::format("  day {} done: {} visits; {} exposures, {} clicks, {} binds so far",
                              FormatRfc3339(day_start).substr(0, 10), n, exposures, clicks, binds));
    }
    return json{{"step", "days"},
                {"days", s.days},
                {"exposures", exposures},
                {"clicks", clicks},
                {"binds", binds}};
  }

  Result<json> Check(const ScenarioStep& s) {
    auto report = driver_->Report(s.experiment);
    if (!report) return std::unexpected(report.error());
    const std::string primary = (*report)["definition"]["primary"].get<std::string>();
    const std::string decision = (*report)["decision"]["code"].get<std::string>();
    bool ok = s.decisions.empty() ||
              std::find(s.decisions.begin(), s.decisions.end(), decision) != s.decisions.end();
    json out{{"step", "check"},
             {"experiment", s.experiment},
             {"phase", (*report)["phase"]},
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
        // The latest look's interval of the sequence: it covers the effect so far, which
        // drifts in a closed loop (analysis/effect_figures.h); the running intersection is
        // for the decision.
        // An effect without data carries a `reason` and no interval.
        static const json kNone;
        const auto member = [](const json& o, const char* k) -> const json& {
          if (!o.is_object()) return kNone;
          const auto it = o.find(k);
          return it == o.end() ? kNone : *it;
        };
        const json& a = member(m, "absolute");
        const json& look = member(a, "ci_sequential_look");
        const json& ci = look.is_array() ? look : member(a, "ci");
        if (!tv || !cv || !ci.is_array() || ci.size() != 2) continue;
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
      if (u["arm"] == "all" && u["metric"] == primary) {
        out["uplift_vs_holdout"] = {
            {"metric", u["metric"]}, {"absolute", u["absolute"]}, {"relative", u["relative"]}};
      }
    }
    out["ok"] = ok;
    o_.progress(fmt::format("  check {}: decision {}{}; {} intervals checked against the truth",
                            s.experiment, decision, ok ? "" : " (NOT AS EXPECTED)",
                            out["truth"].size()));
    return out;
  }

  const Scenario& sc_;
  ScenarioOptions o_;
  std::uint64_t seed_;
  std::mt19937_64 rng_;  // who visits
  std::int64_t day_index_ = 0;
  std::unique_ptr<ScenarioDriver> driver_;
  DriverClock clock_{driver_};  // dates the models it trains
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
