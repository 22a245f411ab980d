#include "analysis/error_budget.h"

#include <doctest/doctest.h>

namespace abrec {

TEST_CASE("the budget: α/2 for ships split over treatments, α/2 for stops over every harm test") {
  Experiment e;
  e.analysis.alpha = 0.05;
  e.variants = {{"control", Policy::kLegacyRules, "", 0.25},
                {"a", Policy::kRecommender, "m", 0.25},
                {"b", Policy::kRecommender, "m", 0.25},
                {"c", Policy::kRecommender, "m", 0.25}};
  Guardrail g;
  g.metric = "bind_rate";
  g.min_relative_change = -0.02;
  Guardrail latency;
  latency.metric = "latency_p99_ms";
  latency.max = 200;
  e.metrics.guardrails = {g, latency};
  e.fairness.attributes = {"sex"};
  const ErrorBudget b = BudgetOf(e);
  CHECK(b.treatments == 3);
  CHECK(b.harm_tests == 3);  // the bind guardrail, click-bait, fairness; latency is no test
  CHECK(b.PrimaryLevel() == doctest::Approx(0.05 / 3));
  CHECK(b.HarmLevel() == doctest::Approx(0.05 / 18));
  CHECK(b.NonInferiorityLevel() == doctest::Approx(0.05 / 6));
  // Ships (one side of each two-sided primary test) and stops add up to α at most.
  CHECK(b.treatments * b.PrimaryLevel() / 2 + b.treatments * b.harm_tests * b.HarmLevel() ==
        doctest::Approx(0.05));
}

}  // namespace abrec
