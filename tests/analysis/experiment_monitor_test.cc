#include "analysis/experiment_monitor.h"

#include <random>
#include <string>

#include <doctest/doctest.h>

#include "tests/analysis/test_util.h"

namespace abrec {
namespace {

using testing::Mentions;

// `users` users exposed once to one item; the first `clickers` click, the first `binders`
// bind (100.00 of premium).
BucketTotals Bucket(int users, int clickers, int binders) {
  BucketTotals t;
  for (int i = 0; i < users; ++i) {
    UserTotals u{.exposures = 1, .impressions = 1};
    if (i < clickers) u.clicks = 1;
    if (i < binders) CountOutcome(u, true, 10'000, 2'000);
    t.Apply(u, +1);
  }
  return t;
}

Experiment Arms(int treatments) {
  Experiment e;
  e.key = "exp";
  e.phase = Phase::kAbTest;
  const double w = 1.0 / (treatments + 1);
  e.variants.push_back({"control", Policy::kLegacyRules, "", w});
  for (int i = 1; i <= treatments; ++i) {
    e.variants.push_back({treatments == 1 ? "treatment" : "t" + std::to_string(i),
                          Policy::kRecommender, "hybrid", w});
  }
  e.metrics.primary = "bind_rate";
  e.metrics.secondary = {"click_rate"};
  return e;
}

// Holdout and exploration at their 5% each against arms of `arm_users`.
BucketTotalsMap Totals(const Experiment& e, int arm_users, const std::vector<int>& binders,
                       const std::vector<int>& clickers) {
  BucketTotalsMap m;
  const int side = arm_users * static_cast<int>(e.variants.size()) / 18;
  m["holdout"] = Bucket(side, 0, 0);
  m["exploration"] = Bucket(side, 0, 0);
  for (std::size_t i = 0; i < e.variants.size(); ++i) {
    m[e.variants[i].name] = Bucket(arm_users, clickers[i], binders[i]);
  }
  return m;
}

}  // namespace

TEST_CASE("clicks up with binds level is not click-bait: continue, and watch") {
  // The example: 225 vs 224 binders of 4,500 (p 0.96) while clicks rise from 400
  // to 900. The old rule called it click-bait on the bind rate's point estimate.
  const Experiment e = Arms(1);
  ExperimentMonitor m(e, {});
  const Decision& d = m.Look(Totals(e, 4'500, {225, 224}, {400, 900}));
  CHECK(d.code == DecisionCode::kContinue);
  CHECK(Mentions(d, "watch"));
  // Binds shown down as well: click-bait.
  ExperimentMonitor bait(e, {});
  CHECK(bait.Look(Totals(e, 4'500, {225, 120}, {400, 900})).code == DecisionCode::kClickbait);
}

TEST_CASE("k treatments: each primary sequence at α/k, its p-value multiplied by k") {
  const Experiment e = Arms(3);
  ExperimentMonitor m(e, {});
  m.Look(Totals(e, 6'000, {300, 310, 390, 300}, {500, 500, 500, 500}));
  CHECK(m.budget().PrimaryLevel() == doctest::Approx(0.05 / 3));
  const TrackedMetric* t2 = m.Find("t2", Metric::kBindRate);
  REQUIRE(t2 != nullptr);
  CHECK(t2->level == doctest::Approx(0.05 / 3));
  const ComparisonLook alone = SequentialLook(t2->now, 0.05 / 3, 5'000);
  CHECK(t2->Relative().p_value == doctest::Approx(std::min(1.0, 3 * alone.relative.p_value)));
  // Secondary metrics stay at α per comparison.
  CHECK(m.Find("t2", Metric::kClickRate)->level == doctest::Approx(0.05));
  CHECK(m.decision().code == DecisionCode::kShip);
  CHECK(m.decision().winner == "t2");
}

TEST_CASE("fixed horizon: decided once, at the first look that reaches the planned users") {
  Experiment e = Arms(1);
  e.analysis.sequential = false;
  e.analysis.planned_users = 18'000;
  ExperimentMonitor m(e, {});
  // Half-way, with a clear effect: a fixed-horizon analysis does not look yet.
  const Decision& early = m.Look(Totals(e, 4'500, {225, 330}, {400, 400}));
  CHECK(early.code == DecisionCode::kContinue);
  CHECK(Mentions(early, "decides at 18000 users (analysis.planned_users), 9000 so far"));
  CHECK_FALSE(m.Decided("treatment").has_value());
  CHECK(m.Look(Totals(e, 9'000, {450, 560}, {800, 800})).code == DecisionCode::kShip);
  REQUIRE(m.Decided("treatment").has_value());
  const double decided_p = m.Decided("treatment")->p_value;
  // Later data do not reopen the decision (that would be peeking again).
  CHECK(m.Look(Totals(e, 12'000, {600, 600}, {800, 800})).code == DecisionCode::kShip);
  CHECK(m.Decided("treatment")->p_value == decided_p);
}

TEST_CASE("a non-inferiority guardrail holds a ship until shown, and fails at the horizon") {
  Experiment e = Arms(1);
  e.metrics.primary = "click_rate";
  e.metrics.secondary = {};
  Guardrail g;
  g.metric = "bind_rate";
  g.type = GuardrailType::kNonInferiority;
  g.min_relative_change = -0.10;
  e.metrics.guardrails = {g};
  e.analysis.planned_users = 60'000;
  {
    ExperimentMonitor m(e, {});
    // Clicks clearly up; binds equal but too few users to rule out a 10% decrease.
    const Decision& d = m.Look(Totals(e, 3'000, {300, 300}, {300, 420}));
    CHECK(d.code == DecisionCode::kContinue);
    CHECK(Mentions(d, "ship waits for non-inferiority of bind_rate"));
    REQUIRE(m.Guardrails().size() == 1);
    CHECK(m.Guardrails()[0].status == TrackedGuardrail::Status::kPending);
    // Enough users: the sequence's lower bound passes −10%, the ship goes through.
    CHECK(m.Look(Totals(e, 30'000, {3'000, 3'000}, {3'000, 4'200})).code == DecisionCode::kShip);
    CHECK(m.Guardrails()[0].status == TrackedGuardrail::Status::kPassed);
  }
  {
    e.analysis.planned_users = 6'000;
    ExperimentMonitor m(e, {});
    const Decision& d = m.Look(Totals(e, 3'000, {300, 300}, {300, 420}));
    CHECK(m.Guardrails()[0].status == TrackedGuardrail::Status::kFailed);
    CHECK(d.code == DecisionCode::kContinue);
    CHECK(Mentions(d, "cannot ship: non-inferiority of bind_rate"));
  }
}

TEST_CASE("CUPED reaches the decision: the adjusted sequence is narrower") {
  // Products held (z) predict binding, through the premium held before (x = 100.00·z²);
  // with the covariates the same data give a tighter interval.
  std::mt19937_64 rng(17);
  auto arm = [&rng](int users, double lift, bool covariates) {
    BucketTotals t;
    std::poisson_distribution<int> held(1.5);
    std::uniform_real_distribution<double> u01;
    for (int i = 0; i < users; ++i) {
      UserTotals u{.exposures = 1, .impressions = 3};
      const int z = held(rng);
      const double p = std::min(0.9, (0.004 + 0.04 * z * z) * (1 + lift));
      if (u01(rng) < p) CountOutcome(u, true, 30'000, 6'000);
      u.has_covariates = covariates;
      u.products_held = z;
      u.premium_before_cents = 10'000 * z * z;
      t.Apply(u, +1);
    }
    return t;
  };
  const Experiment e = Arms(1);
  std::mt19937_64 again = rng;
  BucketTotalsMap with{{"control", arm(20'000, 0, true)}, {"treatment", arm(20'000, 0.1, true)}};
  rng = again;
  BucketTotalsMap without{{"control", arm(20'000, 0, false)},
                          {"treatment", arm(20'000, 0.1, false)}};
  ExperimentMonitor a(e, {}), b(e, {});
  a.Look(with);
  b.Look(without);
  const TrackedMetric& adjusted = *a.Find("treatment", Metric::kBindRate);
  const TrackedMetric& plain = *b.Find("treatment", Metric::kBindRate);
  REQUIRE(adjusted.now.adjusted.has_value());
  CHECK(adjusted.now.adjusted->variance_reduction > 0.2);
  CHECK_FALSE(plain.now.adjusted.has_value());
  const EffectLook ra = adjusted.Relative(), rp = plain.Relative();
  CHECK(ra.ci.high - ra.ci.low < rp.ci.high - rp.ci.low);
  MESSAGE("bind rate, relative: adjusted ", ra.estimate, " [", ra.ci.low, ", ", ra.ci.high,
          "], plain ", rp.estimate, " [", rp.ci.low, ", ", rp.ci.high, "], variance reduction ",
          adjusted.now.adjusted->variance_reduction);
}

TEST_CASE("no users yet: reasons, not numbers, and continue") {
  const Experiment e = Arms(1);
  ExperimentMonitor m(e, {});
  const Decision& d = m.Look({});
  CHECK(d.code == DecisionCode::kContinue);
  const TrackedMetric* t = m.Find("treatment", Metric::kBindRate);
  REQUIRE(t != nullptr);
  CHECK(t->Relative().reason == stats::Reason::kTooFewUnits);
}

}  // namespace abrec

namespace abrec {

TEST_CASE("a harm guardrail is breached only when its one-sided sequence lies beyond the limit") {
  Experiment e = Arms(1);
  e.metrics.primary = "click_rate";
  e.metrics.secondary = {};
  Guardrail down;
  down.metric = "bind_rate";
  down.min_relative_change = -0.02;
  e.metrics.guardrails = {down};
  {
    // Binds fall from 5% to 3.5% (−30%) on 6,000 users per arm: breached, the treatment
    // dropped, and with no other treatment the code is stop_guardrail.
    ExperimentMonitor m(e, {});
    const Decision& d = m.Look(Totals(e, 6'000, {300, 210}, {600, 600}));
    REQUIRE(m.Guardrails().size() == 1);
    const TrackedGuardrail& g = m.Guardrails()[0];
    CHECK(g.status == TrackedGuardrail::Status::kBreached);
    const EffectLook b = g.breach.Current();
    CHECK(b.ci.high < -0.02);
    CHECK(b.p_value < g.level);
    CHECK(g.level == doctest::Approx(0.05 / 4));  // α/(2·k·h): one guardrail and click-bait
    CHECK(d.code == DecisionCode::kStopGuardrail);
  }
  {
    ExperimentMonitor m(e, {});
    m.Look(Totals(e, 6'000, {300, 300}, {600, 600}));
    CHECK(m.Guardrails()[0].status == TrackedGuardrail::Status::kOk);
  }
  // The other direction: a rise past +10% (from 2.5% to 5%).
  Guardrail up;
  up.metric = "bind_rate";
  up.max_relative_change = 0.10;
  e.metrics.guardrails = {up};
  ExperimentMonitor m(e, {});
  m.Look(Totals(e, 6'000, {150, 300}, {600, 600}));
  CHECK(m.Guardrails()[0].status == TrackedGuardrail::Status::kBreached);
  CHECK(m.Guardrails()[0].breach.Current().ci.low > 0.10);
}

}  // namespace abrec
