#include "analysis/error_budget.h"

#include <algorithm>

#include "experiments/vocabulary.h"

namespace abrec {

ErrorBudget BudgetOf(const Experiment& e) {
  ErrorBudget b;
  b.alpha = e.analysis.alpha;
  b.treatments = std::max(1, static_cast<int>(e.variants.size()) - 1);
  int statistical = 0;
  for (const Guardrail& g : e.metrics.guardrails) {
    statistical += IsStatisticalMetric(g.metric) ? 1 : 0;
  }
  b.harm_tests = statistical + 1 + (e.fairness.attributes.empty() ? 0 : 1);
  return b;
}

}  // namespace abrec
