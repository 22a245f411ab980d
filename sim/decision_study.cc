#include "sim/decision_study.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <thread>

#include <fmt/format.h>

#include "analysis/capped_amounts.h"
#include "analysis/error_budget.h"
#include "analysis/experiment_monitor.h"
#include "analysis/metric_analysis.h"
#include "eventstore/aggregates.h"
#include "stats/power.h"
#include "stats/sequential.h"

namespace abrec::sim {
namespace {

constexpr std::array<const char*, 5> kCodes = {"ship", "clickbait", "stop_guardrail",
                                               "untrustworthy_srm", "continue"};

// xoshiro256** (Blackman and Vigna), seeded per run through splitmix64: fast, and each run's
// stream depends only on (seed, run), so results do not depend on the number of threads.
class Random {
 public:
  Random(std::uint64_t seed, std::uint64_t run) {
    std::uint64_t s = seed ^ (0x9e3779b97f4a7c15ULL * (run + 1));
    for (auto& word : state_) word = SplitMix(s);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u = Uniform();
    while (u <= 0) u = Uniform();
    const double radius = std::sqrt(-2 * std::log(u)), angle = 2 * M_PI * Uniform();
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }
  // Knuth's product of uniforms: fine for the small means used here.
  int Poisson(double mean) {
    const double limit = std::exp(-mean);
    int k = 0;
    for (double p = Uniform(); p > limit; p *= Uniform()) ++k;
    return k;
  }
  std::int64_t Binomial(std::int64_t n, double p) {
    std::int64_t k = 0;
    for (std::int64_t i = 0; i < n; ++i) k += Uniform() < p ? 1 : 0;
    return k;
  }

 private:
  static std::uint64_t SplitMix(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  static std::uint64_t Rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t Next() {
    const std::uint64_t result = Rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = Rotl(state_[3], 45);
    return result;
  }
  std::array<std::uint64_t, 4> state_{};
  double spare_ = 0;
  bool has_spare_ = false;
};

// The treatment's effect on each outcome: the study's relative effect lands on the primary
// metric's outcome.
struct Lift {
  double bind = 1, click = 1, premium = 1, margin = 1;
};
Lift LiftOf(const std::string& metric, double effect) {
  Lift l;
  if (metric == "bind_rate" || metric == "binds_per_user") l.bind = 1 + effect;
  if (metric == "click_rate") l.click = 1 + effect;
  if (metric == "premium_per_user") l.premium = 1 + effect;
  if (metric == "revenue_per_user") l.margin = 1 + effect;
  return l;
}

// One customer of an arm. Products held z ~ Poisson(1.5) and premium held before x (for
// customers with products) are pre-experiment covariates: P(bind) grows with z, the premium
// of a bind with x, as a real portfolio's do.
UserTotals DrawUser(Random& rng, const StudyWorld& w, const Lift& lift) {
  UserTotals u;
  const int z = rng.Poisson(1.5);
  const double median_before = 100 * w.premium_median * (1 + 0.2 * z);
  const std::int64_t x =
      z > 0 ? std::llround(median_before * std::exp(0.6 * rng.Normal())) : std::int64_t{0};
  if (w.covariates) {
    u.has_covariates = true;
    u.premium_before_cents = x;
    u.products_held = z;
  }
  u.exposures = 1 + rng.Poisson(1.0);
  u.impressions = 3 * u.exposures;
  u.clicks = rng.Binomial(u.impressions, std::min(1.0, w.click_rate * lift.click));
  const double p_bind = std::min(1.0, w.bind_rate * (0.4 + 0.4 * z) * lift.bind);
  if (rng.Uniform() >= p_bind) return u;
  const int binds = 1 + rng.Poisson(0.15);
  constexpr std::array<double, 3> kMargins = {0.15, 0.25, 0.35};
  for (int b = 0; b < binds; ++b) {  // CountOutcome counts each bind into u
    const double premium = 100 * w.premium_median * (x > 0 ? 1.3 : 1.0) * lift.premium *
                           std::exp(w.premium_sigma * rng.Normal());
    const auto cents = std::llround(premium);
    const double margin = kMargins[static_cast<std::size_t>(rng.Uniform() * 3)] * lift.margin;
    CountOutcome(u, true, cents, std::llround(static_cast<double>(cents) * margin));
  }
  return u;
}

// What one run contributes to the study.
struct RunOutcome {
  std::vector<std::uint8_t> code_at;  // per look: index into kCodes
  std::vector<double> arm_users;      // per look
  int first_effect_ship = -1;         // the look at which the first treatment first shipped
  int dropped_clickbait = 0, dropped_guardrail = 0;  // treatments
  bool fixed_peeking = false, fixed_final = false, delta_relative = false;
};

std::size_t CodeIndex(DecisionCode decision) {
  const std::string_view code = DecisionCodeName(decision);
  for (std::size_t i = 0; i < kCodes.size(); ++i) {
    if (code == kCodes[i]) return i;
  }
  return kCodes.size() - 1;
}

RunOutcome OneRun(const DecisionStudyOptions& o, std::uint64_t run) {
  Random rng(o.seed, run);
  const Experiment& e = o.experiment;
  ExperimentMonitor monitor(e, o.population);
  std::vector<Lift> lifts;
  std::vector<double> weights{o.population.holdout, o.population.exploration};
  const double rest = 1 - o.population.holdout - o.population.exploration;
  for (std::size_t i = 0; i < e.variants.size(); ++i) {
    const bool has_effect = i == 1;  // the first treatment (variants[0] is control)
    lifts.push_back(LiftOf(e.metrics.primary, has_effect ? o.effect : 0));
    weights.push_back(rest * e.variants[i].weight);
  }
  std::vector<std::string> buckets{"holdout", "exploration"};
  for (const Variant& v : e.variants) buckets.push_back(v.name);
  BucketTotalsMap totals;
  for (const std::string& b : buckets) totals[b];
  std::vector<BucketTotals*> slots;
  for (const std::string& b : buckets) slots.push_back(&totals[b]);
  std::vector<double> cumulative(weights.size());
  std::partial_sum(weights.begin(), weights.end(), cumulative.begin());
  const double cap_q = e.analysis.premium_cap_quantile;
  std::vector<UserAmount> amounts;
  const auto primary = MetricByName(e.metrics.primary);
  const std::int64_t per_look = std::llround(o.users_per_look / rest);

  RunOutcome out;
  out.code_at.resize(static_cast<std::size_t>(o.looks));
  out.arm_users.resize(static_cast<std::size_t>(o.looks));
  std::vector<bool> clickbait(e.variants.size()), guardrail(e.variants.size());
  for (int look = 0; look < o.looks; ++look) {
    for (std::int64_t i = 0; i < per_look; ++i) {
      const double u = rng.Uniform() * cumulative.back();
      const auto b = static_cast<std::size_t>(
          std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin());
      const std::size_t bucket = std::min(b, weights.size() - 1);
      if (bucket < 2) {
        UserTotals seen;
        seen.exposures = 1;
        slots[bucket]->Apply(seen, +1);
        continue;
      }
      const UserTotals user = DrawUser(rng, o.world, lifts[bucket - 2]);
      slots[bucket]->Apply(user, +1);
      if (cap_q > 0 && (user.premium_cents > 0 || user.revenue_cents > 0)) {
        amounts.push_back({buckets[bucket], user.premium_cents, user.revenue_cents,
                           user.has_covariates, user.premium_before_cents, user.products_held});
      }
    }
    Decision decision;
    if (cap_q > 0) {
      BucketTotalsMap capped = totals;
      CapAmounts(capped, amounts, cap_q);
      decision = monitor.Look(capped);
    } else {
      decision = monitor.Look(totals);
    }
    const auto l = static_cast<std::size_t>(look);
    out.code_at[l] = static_cast<std::uint8_t>(CodeIndex(decision.code));
    out.arm_users[l] = static_cast<double>(monitor.ArmUsers());
    if (decision.code == DecisionCode::kShip && decision.winner == e.variants[1].name &&
        out.first_effect_ship < 0) {
      out.first_effect_ship = look;
    }
    const auto findings = monitor.Findings();
    for (std::size_t v = 0; v < findings.size(); ++v) {
      clickbait[v] = clickbait[v] || findings[v].clickbait;
      guardrail[v] = guardrail[v] || !findings[v].breached_guardrails.empty();
    }
    if (primary) {
      bool any = false;
      for (const Variant& v : e.variants) {
        if (v.name == "control") continue;
        const TrackedMetric* t = monitor.Find(v.name, *primary);
        const stats::Comparison& fixed = t->now.fixed;
        const bool ok = t->now.reason == stats::Reason::kOk && fixed.reason == stats::Reason::kOk;
        any = any || (ok && fixed.p_value <= e.analysis.alpha);
        if (ok && fixed.relative_reason == stats::Reason::kOk) {
          const stats::SequentialResult s =
              stats::SequentialTest(fixed.relative.estimate, fixed.relative.se, t->now.users,
                                    {e.analysis.alpha, 5'000, stats::Sided::kTwo});
          out.delta_relative = out.delta_relative ||
                               (s.reason == stats::Reason::kOk && s.p_value <= e.analysis.alpha);
        }
      }
      out.fixed_peeking = out.fixed_peeking || any;
      if (look + 1 == o.looks) out.fixed_final = any;
    }
  }
  for (std::size_t v = 0; v < clickbait.size(); ++v) {
    out.dropped_clickbait += clickbait[v] ? 1 : 0;
    out.dropped_guardrail += guardrail[v] ? 1 : 0;
  }
  return out;
}

Rate RateOf(std::int64_t hits, std::int64_t n) {
  const double r = n > 0 ? static_cast<double>(hits) / static_cast<double>(n) : 0;
  return {r, n > 0 ? std::sqrt(r * (1 - r) / static_cast<double>(n)) : 0};
}

}  // namespace

Experiment StudyExperiment(int treatments, const std::string& metric) {
  Experiment e;
  e.key = "study";
  e.phase = Phase::kAbTest;
  const double w = 1.0 / (treatments + 1);
  e.variants.push_back({"control", Policy::kLegacyRules, "", w});
  for (int i = 1; i <= treatments; ++i) {
    e.variants.push_back({treatments == 1 ? "treatment" : fmt::format("treatment_{}", i),
                          Policy::kRecommender, "hybrid", w});
  }
  e.metrics.primary = metric;
  for (const char* m : {"bind_rate", "click_rate", "premium_per_user"}) {
    if (m != metric) e.metrics.secondary.emplace_back(m);
  }
  Guardrail g;
  g.metric = "bind_rate";
  g.min_relative_change = -0.02;
  e.metrics.guardrails.push_back(g);
  return e;
}

DecisionStudyResult RunDecisionStudy(const DecisionStudyOptions& o) {
  std::vector<RunOutcome> runs(static_cast<std::size_t>(o.runs));
  const int threads = std::max(
      1, std::min(o.runs, o.threads > 0 ? o.threads
                                        : static_cast<int>(std::thread::hardware_concurrency())));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int r = t; r < o.runs; r += threads) {
        runs[static_cast<std::size_t>(r)] = OneRun(o, static_cast<std::uint64_t>(r));
      }
    });
  }
  for (auto& th : pool) th.join();

  DecisionStudyResult res;
  res.runs = o.runs;
  res.looks = o.looks;
  res.alpha = o.experiment.analysis.alpha;
  const auto n = static_cast<std::int64_t>(o.runs);
  std::array<std::int64_t, kCodes.size()> ever{}, final_code{};
  std::int64_t wrong = 0, shipped = 0, clickbait = 0, guardrail = 0, peeking = 0, final_only = 0,
               delta_relative = 0;
  std::vector<double> ship_fraction;
  res.by_look.resize(static_cast<std::size_t>(o.looks));
  std::vector<std::array<std::int64_t, kCodes.size()>> ever_by(res.by_look.size()),
      at_by(res.by_look.size());
  for (const RunOutcome& r : runs) {
    std::array<bool, kCodes.size()> seen{};
    for (std::size_t l = 0; l < r.code_at.size(); ++l) {
      seen[r.code_at[l]] = true;
      ++at_by[l][r.code_at[l]];
      for (std::size_t c = 0; c < kCodes.size(); ++c) ever_by[l][c] += seen[c] ? 1 : 0;
      res.by_look[l].arm_users += r.arm_users[l] / static_cast<double>(n);
    }
    for (std::size_t c = 0; c < kCodes.size(); ++c) ever[c] += seen[c] ? 1 : 0;
    if (!r.code_at.empty()) ++final_code[r.code_at.back()];
    wrong += seen[0] || seen[1] || seen[2] ? 1 : 0;
    if (r.first_effect_ship >= 0) {
      ++shipped;
      ship_fraction.push_back(r.arm_users[static_cast<std::size_t>(r.first_effect_ship)] /
                              r.arm_users.back());
    }
    clickbait += r.dropped_clickbait;
    guardrail += r.dropped_guardrail;
    peeking += r.fixed_peeking ? 1 : 0;
    final_only += r.fixed_final ? 1 : 0;
    delta_relative += r.delta_relative ? 1 : 0;
  }
  for (std::size_t c = 0; c < kCodes.size(); ++c) {
    res.ever[kCodes[c]] = RateOf(ever[c], n);
    res.final_code[kCodes[c]] = RateOf(final_code[c], n);
  }
  for (std::size_t l = 0; l < res.by_look.size(); ++l) {
    res.by_look[l].look = static_cast<int>(l) + 1;
    for (std::size_t c = 0; c < kCodes.size(); ++c) {
      res.by_look[l].ever[kCodes[c]] = static_cast<double>(ever_by[l][c]) / static_cast<double>(n);
      res.by_look[l].at[kCodes[c]] = static_cast<double>(at_by[l][c]) / static_cast<double>(n);
    }
  }
  res.wrong = RateOf(wrong, n);
  res.shipped_effect = RateOf(shipped, n);
  if (!ship_fraction.empty()) {
    auto mid = ship_fraction.begin() + static_cast<std::ptrdiff_t>(ship_fraction.size() / 2);
    std::nth_element(ship_fraction.begin(), mid, ship_fraction.end());
    res.median_users_fraction = *mid;
  }
  const std::int64_t treatments = n * static_cast<std::int64_t>(o.experiment.variants.size() - 1);
  res.dropped_clickbait = RateOf(clickbait, treatments);
  res.dropped_guardrail = RateOf(guardrail, treatments);
  res.fixed_peeking = static_cast<double>(peeking) / static_cast<double>(n);
  res.fixed_final = static_cast<double>(final_only) / static_cast<double>(n);
  res.delta_relative_sequential = static_cast<double>(delta_relative) / static_cast<double>(n);
  return res;
}

double PlannedUsersPerArm(const DecisionStudyOptions& o, double mde, double power, int pilot) {
  const auto metric = MetricByName(o.experiment.metrics.primary);
  if (!metric) return 0;
  Random rng(o.seed, ~std::uint64_t{0});
  BucketTotals control;
  for (int i = 0; i < pilot; ++i) control.Apply(DrawUser(rng, o.world, Lift{}), +1);
  const MetricComparison c = CompareMetric(*metric, control, control, o.experiment.analysis);
  if (c.reason != stats::Reason::kOk) return 0;
  stats::PowerInput in;
  in.baseline = c.control.mean;
  in.proportion = *metric == Metric::kBindRate;
  in.sd = std::sqrt(c.control.variance * pilot);
  in.mde = mde;
  in.power = power;
  in.alpha = BudgetOf(o.experiment).PrimaryLevel();
  in.n_star = o.experiment.analysis.tuning_n;
  const stats::PowerResult r = stats::UsersPerArm(in);
  if (r.reason != stats::Reason::kOk) return 0;
  return o.experiment.analysis.sequential ? r.sequential_per_arm : r.fixed_per_arm;
}

}  // namespace abrec::sim
