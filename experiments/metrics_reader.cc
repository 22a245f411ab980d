// The metrics section (reader_sections.h): the primary metric, the secondary ones and the
// guardrails, operational thresholds or statistical tests against control.
#include <algorithm>
#include <array>
#include <initializer_list>

#include <fmt/format.h>

#include "experiments/reader_sections.h"

namespace abrec {
namespace {

bool Listed(const MetricsSpec& m, const std::string& metric) {
  return metric == m.primary ||
         std::find(m.secondary.begin(), m.secondary.end(), metric) != m.secondary.end();
}

// The seed form: a list; the first is the primary metric.
void ReadMetricList(SchemaReader& r, const ConfigNode& n, MetricsSpec& m) {
  for (std::size_t i = 0; i < n.items.size(); ++i) {
    const std::string field = fmt::format("metrics[{}]", i);
    auto s = r.String(n.items[i], field);
    if (!s) continue;
    if (*s == "premium_lift") *s = "premium_per_user";
    if (!IsStatisticalMetric(*s)) {
      std::string msg = fmt::format("\"{}\" is not a known metric; allowed: {}, premium_lift", *s,
                                    JoinNames(kStatisticalMetrics));
      if (const auto sug = SuggestName(*s, kStatisticalMetrics)) {
        msg += fmt::format(" (did you mean \"{}\"?)", *sug);
      }
      r.Error(n.items[i], field, std::move(msg));
      continue;
    }
    if (m.primary.empty()) {
      m.primary = *s;
    } else if (Listed(m, *s)) {
      r.Error(n.items[i], field, fmt::format("\"{}\" is listed twice", *s));
    } else {
      m.secondary.push_back(*s);
    }
  }
  if (n.items.empty()) r.Error(n, "metrics", "list at least one metric");
}

void ReadSecondary(SchemaReader& r, const ConfigNode& n, MetricsSpec& m) {
  if (!n.IsSequence()) {
    r.Error(n, "metrics.secondary",
            fmt::format("expected a list of metrics, got {}", n.KindName()));
    return;
  }
  for (std::size_t i = 0; i < n.items.size(); ++i) {
    const std::string field = fmt::format("metrics.secondary[{}]", i);
    auto s = r.OneOf(n.items[i], field, kStatisticalMetrics, "statistical metric");
    if (!s) continue;
    if (Listed(m, *s)) {
      r.Error(n.items[i], field, fmt::format("\"{}\" is already listed", *s));
      continue;
    }
    m.secondary.push_back(*s);
  }
}

std::optional<double> GuardrailNumber(SchemaReader& r, const ConfigNode& g,
                                      const std::string& field, std::string_view key, double lo,
                                      double up) {
  const auto* v = g.Find(key);
  if (!v) return std::nullopt;
  return r.Number(*v, JoinField(field, key), lo, up);
}

void RefuseKeys(SchemaReader& r, const ConfigNode& g, const std::string& field,
                std::initializer_list<std::string_view> keys, const std::string& why) {
  for (std::string_view k : keys) {
    if (const auto* v = g.Find(k)) r.Error(*v, JoinField(field, k), why);
  }
}

void ReadOperationalGuardrail(SchemaReader& r, const ConfigNode& g, const std::string& field,
                              Guardrail& gr) {
  const double hi = gr.metric == "fallback_rate" ? 1.0 : 1e9;
  gr.max = GuardrailNumber(r, g, field, "max", 0, hi);
  gr.min = GuardrailNumber(r, g, field, "min", 0, hi);
  RefuseKeys(r, g, field, {"min_relative_change", "max_relative_change", "max_decrease", "type"},
             fmt::format("{} is an operational threshold; use max or min", gr.metric));
  if (!gr.max && !gr.min && !g.Find("max") && !g.Find("min")) {
    r.Missing(g, JoinField(field, "max"), fmt::format("a threshold for {}", gr.metric));
  }
}

void ReadStatisticalGuardrail(SchemaReader& r, const ConfigNode& g, const std::string& field,
                              Guardrail& gr) {
  RefuseKeys(r, g, field, {"max", "min"},
             fmt::format("{} is tested against control; use min_relative_change, "
                         "max_relative_change or max_decrease",
                         gr.metric));
  if (const auto* t = g.Find("type")) {
    constexpr std::array<std::string_view, 2> kTypes = {"harm", "non_inferiority"};
    if (auto type = r.OneOf(*t, JoinField(field, "type"), kTypes, "guardrail type")) {
      if (*type == "non_inferiority") gr.type = GuardrailType::kNonInferiority;
    }
  }
  const auto decrease = GuardrailNumber(r, g, field, "max_decrease", 1e-6, 1.0);
  if (gr.type == GuardrailType::kNonInferiority) {
    RefuseKeys(r, g, field, {"min_relative_change", "max_relative_change"},
               "a non-inferiority guardrail takes its margin as max_decrease");
    if (decrease) gr.min_relative_change = -*decrease;
    if (!g.Find("max_decrease")) {
      r.Missing(g, JoinField(field, "max_decrease"),
                "the non-inferiority margin: the largest relative decrease tolerated, e.g. "
                "0.02");
    }
    return;
  }
  gr.min_relative_change = GuardrailNumber(r, g, field, "min_relative_change", -1.0, 0.0);
  gr.max_relative_change = GuardrailNumber(r, g, field, "max_relative_change", 0.0, 1e9);
  if (decrease) {
    if (const auto* v = g.Find("min_relative_change")) {
      r.Error(*v, JoinField(field, "min_relative_change"),
              "give either min_relative_change or max_decrease, not both");
    }
    gr.min_relative_change = -*decrease;
  }
  if (!g.Find("min_relative_change") && !g.Find("max_relative_change") && !g.Find("max_decrease")) {
    r.Missing(g, JoinField(field, "min_relative_change"),
              "the smallest relative change tolerated, e.g. -0.02 (or max_decrease: 0.02)");
  }
}

void ReadGuardrails(SchemaReader& r, const ConfigNode& n, MetricsSpec& m) {
  if (!n.IsSequence()) {
    r.Error(n, "metrics.guardrails",
            fmt::format("expected a list of {{metric, max|min|min_relative_change|"
                        "max_relative_change|max_decrease, type}}, got {}",
                        n.KindName()));
    return;
  }
  for (std::size_t i = 0; i < n.items.size(); ++i) {
    const std::string field = fmt::format("metrics.guardrails[{}]", i);
    const ConfigNode& g = n.items[i];
    if (!r.CheckMap(g, field,
                    {"metric", "max", "min", "min_relative_change", "max_relative_change",
                     "max_decrease", "type"})) {
      continue;
    }
    Guardrail gr;
    const auto* metric = g.Find("metric");
    if (!metric) {
      r.Missing(g, JoinField(field, "metric"), fmt::format("one of {}", JoinNames(kAllMetrics)));
      continue;
    }
    auto name = r.OneOf(*metric, JoinField(field, "metric"), kAllMetrics, "metric");
    if (!name) continue;
    gr.metric = *name;
    if (IsStatisticalMetric(gr.metric)) {
      ReadStatisticalGuardrail(r, g, field, gr);
    } else {
      ReadOperationalGuardrail(r, g, field, gr);
    }
    m.guardrails.push_back(std::move(gr));
  }
}

}  // namespace

void ReadMetrics(SchemaReader& r, const ConfigNode& n, MetricsSpec& m) {
  if (n.IsSequence()) {
    ReadMetricList(r, n, m);
    return;
  }
  if (!r.CheckMap(n, "metrics", {"primary", "secondary", "guardrails"})) return;
  if (const auto* p = n.Find("primary")) {
    if (auto s = r.OneOf(*p, "metrics.primary", kStatisticalMetrics, "statistical metric")) {
      m.primary = *s;
    }
  } else {
    r.Missing(n, "metrics.primary", "the metric that decides the experiment, e.g. bind_rate");
  }
  if (const auto* s = n.Find("secondary")) ReadSecondary(r, *s, m);
  if (const auto* g = n.Find("guardrails")) ReadGuardrails(r, *g, m);
}

}  // namespace abrec
