#include "analysis/decision.h"

#include <limits>
#include <string>

#include <doctest/doctest.h>

#include "tests/analysis/test_util.h"

namespace abrec {
namespace {

using testing::Mentions;

Experiment Arms(int treatments) {
  Experiment e;
  e.key = "exp";
  e.phase = Phase::kAbTest;
  e.metrics.primary = "bind_rate";
  e.variants.push_back({"control", Policy::kLegacyRules, "", 0.5});
  for (int i = 1; i <= treatments; ++i) {
    e.variants.push_back({"t" + std::to_string(i), Policy::kRecommender, "hybrid", 0.5});
  }
  return e;
}

LiftFinding Lift(const char* metric, double estimate, double low, double high, double p) {
  return {metric, stats::Reason::kOk, estimate, {low, high}, p};
}

VariantFindings Treatment(const char* name, LiftFinding primary) {
  VariantFindings v{.variant = name};
  v.primary = primary;
  v.click_rate = Lift("click_rate", 0.08, 0.05, std::numeric_limits<double>::infinity(), 1e-6);
  v.bind_rate = Lift("bind_rate", -0.01, -1, 0.04, 0.6);
  return v;
}

}  // namespace

TEST_CASE("click-bait needs bind rate shown down; clicks up alone is a reason to watch") {
  // The case: clicks significantly up, 225 vs 224 binders of 4,500 (p 0.96). The old
  // rule read the negative point estimate as click-bait.
  VariantFindings v = Treatment("t1", Lift("bind_rate", -0.004, -0.08, 0.08, 0.96));
  v.watch = true;
  Decision d = Decide(Arms(1), "", {v});
  CHECK(d.code == DecisionCode::kContinue);
  CHECK(Mentions(d, "watch: click rate is significantly up while bind rate is down"));
  CHECK(Mentions(d, "click_rate +8.0%"));
  v.clickbait = true;
  v.watch = false;
  d = Decide(Arms(1), "", {v});
  CHECK(d.code == DecisionCode::kClickbait);
  CHECK(Mentions(d, "click-bait"));
}

TEST_CASE("several treatments: the winner is named, a dropped one blocks nobody") {
  VariantFindings bait = Treatment("t1", Lift("bind_rate", 0.09, 0.02, 0.16, 0.001));
  bait.clickbait = true;
  VariantFindings good = Treatment("t2", Lift("bind_rate", 0.05, 0.01, 0.09, 0.01));
  VariantFindings better = Treatment("t3", Lift("bind_rate", 0.07, 0.02, 0.12, 0.004));
  Decision d = Decide(Arms(3), "", {bait, good, better});
  CHECK(d.code == DecisionCode::kShip);
  CHECK(d.winner == "t3");  // the larger estimate among the candidates; t1 is dropped
  CHECK(Mentions(d, "t2 is significantly up too"));
  CHECK(Mentions(d, "t1: click-bait"));

  // A breached guardrail drops a treatment while another is still running: continue, and
  // say to stop the dropped one's traffic.
  VariantFindings harmful = Treatment("t1", Lift("bind_rate", -0.1, -0.2, -0.01, 0.01));
  harmful.breached_guardrails.push_back("bind_rate changed -10%");
  VariantFindings running = Treatment("t2", Lift("bind_rate", 0.01, -0.03, 0.05, 0.7));
  d = Decide(Arms(2), "", {harmful, running});
  CHECK(d.code == DecisionCode::kContinue);
  CHECK(Mentions(d, "dropped from the candidates"));
  CHECK(Mentions(d, "t2: not significant yet"));

  // Every treatment dropped: the code says why.
  running.breached_guardrails.push_back("premium_per_user changed -8%");
  CHECK(Decide(Arms(2), "", {harmful, running}).code == DecisionCode::kStopGuardrail);
  running.clickbait = true;
  CHECK(Decide(Arms(2), "", {harmful, running}).code == DecisionCode::kClickbait);
}

TEST_CASE("non-inferiority holds a ship until shown; a failed one blocks it") {
  VariantFindings v = Treatment("t1", Lift("bind_rate", 0.06, 0.01, 0.11, 0.01));
  CHECK(Decide(Arms(1), "", {v}).code == DecisionCode::kShip);
  v.pending_guardrails.push_back("non-inferiority of premium_per_user");
  Decision d = Decide(Arms(1), "", {v});
  CHECK(d.code == DecisionCode::kContinue);
  CHECK(Mentions(d, "ship waits for non-inferiority of premium_per_user"));
  v.pending_guardrails.clear();
  v.failed_guardrails.push_back("non-inferiority of premium_per_user, not shown by 40000");
  d = Decide(Arms(1), "", {v});
  CHECK(d.code == DecisionCode::kContinue);
  CHECK(Mentions(d, "cannot ship"));
}

TEST_CASE("fixed horizon: nothing is decided before the horizon") {
  VariantFindings v = Treatment("t1", Lift("bind_rate", 0.06, 0.01, 0.11, 0.01));
  v.waiting_for_horizon = "a fixed-horizon analysis decides at 20000 users (the plan), 9000 so far";
  const Decision d = Decide(Arms(1), "", {v});
  CHECK(d.code == DecisionCode::kContinue);
  CHECK(Mentions(d, "decides at 20000 users"));
}

TEST_CASE("SRM overrides everything; shadow decides nothing") {
  VariantFindings v = Treatment("t1", Lift("bind_rate", 0.06, 0.01, 0.11, 0.01));
  CHECK(Decide(Arms(1), "sample ratio mismatch", {v}).code == DecisionCode::kUntrustworthySrm);
  Experiment shadow = Arms(1);
  shadow.phase = Phase::kShadow;
  CHECK(Decide(shadow, "", {v}).code == DecisionCode::kContinue);
}

}  // namespace abrec
