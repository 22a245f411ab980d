// The decision path's error rates with known truth (issue 13): in A/A, the share of
// experiments ever decided ship, clickbait or stop_guardrail stays at or below α for the
// supported settings, including the first looks at small n, 1 to 5 treatments, rare binds
// and heavy-tailed premium. Each setting is its own CTest test (tests/sim/CMakeLists.txt).
// The sanitizer build runs a tenth of the runs: it checks the code, the release build the
// rates.
#include "sim/decision_study.h"

#include <cmath>
#include <string>

#include <doctest/doctest.h>

#include "stats/power.h"

namespace abrec::sim {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr int kRuns = 200;
#else
constexpr int kRuns = 2'000;
#endif

DecisionStudyResult Aa(DecisionStudyOptions o) {
  o.runs = kRuns;
  o.effect = 0;
  const DecisionStudyResult r = RunDecisionStudy(o);
  MESSAGE((o.experiment.variants.size() - 1), " treatment(s), ", o.experiment.metrics.primary,
          ", bind rate ", o.world.bind_rate, ", ", o.looks, " looks x ", o.users_per_look,
          " users: wrong ", r.wrong.rate, " (se ", r.wrong.se, "); ship ", r.ever.at("ship").rate,
          ", clickbait ", r.ever.at("clickbait").rate, ", stop_guardrail ",
          r.ever.at("stop_guardrail").rate, ", srm ", r.ever.at("untrustworthy_srm").rate,
          "; by look 5: ship ", r.by_look[4].ever.at("ship"), "; fixed-horizon peeking ",
          r.fixed_peeking);
  return r;
}

DecisionStudyOptions Setting(int treatments, const char* metric, double bind_rate) {
  DecisionStudyOptions o;
  o.experiment = StudyExperiment(treatments, metric);
  o.world.bind_rate = bind_rate;
  return o;
}

}  // namespace

TEST_CASE("A/A: bind rate 4% and one treatment over 100 looks of 400 users") {
  // The setting the issue measured at 6.28% false decisions on the old relative-lift path.
  const DecisionStudyResult r = Aa(Setting(1, "bind_rate", 0.04));
  CHECK(r.wrong.rate <= 0.05);
  // Peeking at a fixed-horizon test on the same data is far above: the study can see an
  // inflated rate when there is one.
  CHECK(r.fixed_peeking > 0.15);
  // The first looks (≤ 2,000 users) carry no special risk.
  CHECK(r.by_look[4].ever.at("ship") + r.by_look[4].ever.at("stop_guardrail") +
            r.by_look[4].ever.at("clickbait") <=
        0.02);
}

TEST_CASE("A/A: bind rate 1% and two treatments") {
  CHECK(Aa(Setting(2, "bind_rate", 0.01)).wrong.rate <= 0.05);
}

TEST_CASE("A/A: five treatments at bind rate 4%") {
  DecisionStudyOptions o = Setting(5, "bind_rate", 0.04);
  o.looks = 50;
  o.users_per_look = 900;
  CHECK(Aa(o).wrong.rate <= 0.05);
}

TEST_CASE("A/A: heavy-tailed premium (lognormal sigma 1.5) as the primary metric") {
  DecisionStudyOptions o = Setting(1, "premium_per_user", 0.04);
  o.world.premium_sigma = 1.5;
  CHECK(Aa(o).wrong.rate <= 0.05);
}

TEST_CASE("A/A: click rate as the primary metric at bind rate 10%") {
  CHECK(Aa(Setting(1, "click_rate", 0.10)).wrong.rate <= 0.05);
}

TEST_CASE("A/A: a fixed horizon with three treatments decides only at the horizon") {
  DecisionStudyOptions o = Setting(3, "bind_rate", 0.04);
  o.experiment.analysis.sequential = false;
  o.experiment.analysis.planned_users = 36'000;  // reached at about look 90 of 100
  const DecisionStudyResult r = Aa(o);
  CHECK(r.wrong.rate <= 0.05);
  // Before the horizon nothing ships (the arms' users per look are random: a margin); at it,
  // the fixed-horizon test at α/3 per treatment ships about α/2 of the time in all.
  for (const StudyLook& l : r.by_look) {
    if (l.arm_users < 35'000) CHECK(l.ever.at("ship") == 0);
  }
  CHECK(r.ever.at("ship").rate > 0);
}

TEST_CASE("power: the plan's users give the promised power on the decision path") {
  // abrec plan's sizing (stats::UsersPerArm at the treatment's α/k): with that many users per
  // arm, a true +10% in bind rate (4% → 4.4%) in one of two treatments is shipped, and named,
  // with probability 0.8 by a fixed-horizon analysis deciding at the horizon (the issue
  // measured 0.763–0.779 when the plan sized one test and the decision read another), and at
  // least 0.8 by the sequential one (the plan asks 80% at the last look; stopping earlier
  // only adds).
  stats::PowerInput in;
  in.baseline = 0.04;
  in.mde = 0.10;
  in.alpha = 0.05 / 2;
  const stats::PowerResult plan = stats::UsersPerArm(in);
  REQUIRE(plan.reason == stats::Reason::kOk);
  for (const bool sequential : {false, true}) {
    DecisionStudyOptions o = Setting(2, "bind_rate", 0.04);
    o.runs = kRuns / 4;
    o.effect = 0.10;
    o.world.covariates = false;  // the plan knows no covariates
    const double per_arm = sequential ? plan.sequential_per_arm : plan.fixed_per_arm;
    o.experiment.analysis.sequential = sequential;
    o.experiment.analysis.planned_users = static_cast<std::int64_t>(3 * per_arm);
    o.looks = 40;  // the horizon falls in the 38th look: every run reaches it
    o.users_per_look = static_cast<int>(std::ceil(3 * per_arm / (o.looks - 2)));
    const DecisionStudyResult r = RunDecisionStudy(o);
    MESSAGE(std::string(sequential ? "sequential" : "fixed horizon"), ": ", per_arm,
            " users per arm; shipped the effect ", r.shipped_effect.rate, " (se ",
            r.shipped_effect.se, ") at a median ", r.median_users_fraction,
            " of the users; wrong codes: ship of another ",
            r.ever.at("ship").rate - r.shipped_effect.rate, ", stop_guardrail ",
            r.ever.at("stop_guardrail").rate);
    if (sequential) {
      CHECK(r.shipped_effect.rate >= 0.8 - 3 * r.shipped_effect.se);
    } else {
      CHECK(std::fabs(r.shipped_effect.rate - 0.8) <= 3 * r.shipped_effect.se + 0.01);
    }
    CHECK(r.ever.at("stop_guardrail").rate <= 0.05);
  }
}

}  // namespace abrec::sim
