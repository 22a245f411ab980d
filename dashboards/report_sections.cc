#include "dashboards/report_sections.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "eventstore/counter_keys.h"
#include "eventstore/latency_histogram.h"
#include "stats/drift.h"

namespace abrec {
namespace {

using json = nlohmann::ordered_json;
using Counts = std::map<std::string, std::int64_t>;

}  // namespace

json DriftSection(const ReportInputs& in) {
  json arms = json::object();
  std::vector<std::string> buckets;
  for (const Variant& v : in.experiment->variants) buckets.push_back(v.name);
  buckets.push_back("exploration");
  for (const std::string& bucket : buckets) {
    const auto it = in.counters.find(bucket);
    std::vector<const std::map<std::string, std::int64_t>*> days;
    std::vector<std::string> names;
    if (it != in.counters.end()) {
      for (const auto& [day, counts] : it->second) {
        days.push_back(&counts);
        names.push_back(day);
      }
    }
    if (days.size() < 2) {
      arms[bucket] = {{"reason", "drift needs exposures on two days at least"}};
      continue;
    }
    const std::size_t reference_days = std::min<std::size_t>(7, days.size() / 2);
    const std::size_t current_days = std::min<std::size_t>(7, days.size() - reference_days);
    std::set<std::string> products;
    for (const auto* d : days) {
      for (const auto& [name, n] : *d) {
        if (counter_keys::ProductOf(name)) products.insert(name);
      }
    }
    std::vector<std::int64_t> reference, current;
    for (const std::string& p : products) {
      std::int64_t r = 0, c = 0;
      for (std::size_t i = 0; i < reference_days; ++i) {
        if (auto f = days[i]->find(p); f != days[i]->end()) r += f->second;
      }
      for (std::size_t i = days.size() - current_days; i < days.size(); ++i) {
        if (auto f = days[i]->find(p); f != days[i]->end()) c += f->second;
      }
      reference.push_back(r);
      current.push_back(c);
    }
    const stats::DriftResult d = stats::Drift(reference, current);
    json a{{"reference", {names.front(), names[reference_days - 1]}},
           {"current", {names[days.size() - current_days], names.back()}},
           {"products", products.size()}};
    if (d.reason != stats::Reason::kOk) {
      a["reason"] = stats::ReasonName(d.reason);
    } else {
      a["psi"] = d.psi;
      a["p_value"] = d.p_value;
      a["status"] = d.psi > stats::kPsiAlert ? "alert" : d.psi > stats::kPsiWatch ? "watch" : "ok";
    }
    arms[bucket] = std::move(a);
  }
  return {{"measure",
           "the products shown: PSI of the latest days against the first (watch > "
           "0.1, alert > 0.25) and χ² of homogeneity"},
          {"arms", std::move(arms)}};
}

}  // namespace abrec

namespace abrec {

json ShadowSection(const ReportInputs& in, std::vector<VariantFindings>& findings) {
  json variants = json::object();
  for (const Variant& v : in.experiment->variants) {
    const auto it = in.counters.find(v.name);
    std::int64_t lists = 0, fallbacks = 0;
    Counts would_show, shown;
    std::map<std::pair<std::string, std::string>, std::int64_t> violations;  // (product, rule)
    LatencyHistogram latency;
    if (it != in.counters.end()) {
      for (const auto& [day, counts] : it->second) {
        const auto day_lists = counts.find(counter_keys::ShadowLists());
        if (day_lists == counts.end()) continue;  // only the days it ran in shadow
        lists += day_lists->second;
        for (const auto& [name, n] : counts) {
          if (const auto p = counter_keys::ShadowProductOf(name)) {
            would_show[std::string(*p)] += n;
          } else if (const auto q = counter_keys::ProductOf(name)) {
            shown[std::string(*q)] += n;
          } else if (const auto broken = counter_keys::ShadowViolationOf(name)) {
            violations[{std::string(broken->product), std::string(broken->rule)}] += n;
          } else if (const auto bin = counter_keys::ShadowLatencyBinOf(name)) {
            if (*bin >= 0 && *bin < LatencyHistogram::kBins) latency.Add(*bin, n, 0);
          } else if (counter_keys::IsShadowFallback(name)) {
            fallbacks += n;
          }
        }
      }
    }
    if (lists == 0) continue;
    std::set<std::string> products;
    for (const auto& [p, n] : would_show) products.insert(p);
    for (const auto& [p, n] : shown) products.insert(p);
    json distribution = json::array();
    for (const std::string& p : products) {
      const std::int64_t w = would_show.count(p) ? would_show.at(p) : 0;
      const std::int64_t s = shown.count(p) ? shown.at(p) : 0;
      distribution.push_back(
          {{"product", p},
           {"would_show", w},
           {"would_show_share", static_cast<double>(w) / static_cast<double>(lists)},
           {"shown", s},
           {"shown_share", static_cast<double>(s) / static_cast<double>(lists)}});
    }
    std::int64_t broken = 0;
    json violation_list = json::array();
    for (const auto& [key, n] : violations) {
      broken += n;
      violation_list.push_back({{"product", key.first}, {"rule", key.second}, {"count", n}});
    }
    auto ms = [&latency](double q) {
      const auto us = latency.QuantileUs(q);
      return us ? json(*us / 1000) : json(nullptr);
    };
    if (broken > 0) {
      FindingsOf(findings, v.name)
          .shadow_problems.push_back(fmt::format(
              "in shadow its lists would have shown {} ineligible product{} ({} of {} lists)",
              broken, broken == 1 ? "" : "s", broken, lists));
    }
    variants[v.name] = {{"lists", lists},
                        {"eligibility_violations", broken},
                        {"violations", std::move(violation_list)},
                        {"latency", {{"p50_ms", ms(0.5)}, {"p99_ms", ms(0.99)}}},
                        {"fallbacks", fallbacks},
                        {"products", std::move(distribution)}};
  }
  if (variants.empty()) {
    return {
        {"reason", in.experiment->phase == Phase::kShadow
                       ? "no shadow list logged yet: they come with /v1/recommend for users in a "
                         "variant whose policy is recommender"
                       : "the experiment has not run in shadow"}};
  }
  return {{"note",
           "what each variant would have shown while control's list was shown instead, on the "
           "days it ran in shadow; eligibility by the gate's invariants (config/gate.yaml)"},
          {"variants", std::move(variants)}};
}

}  // namespace abrec
