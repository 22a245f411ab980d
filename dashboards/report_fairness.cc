// The report's fairness section (report_sections.h): what share of each group's users each
// arm showed each product, and whether a variant's gap is wider than control's. The counts and
// the tests are fairness_parity.h's; this file renders them and the breaches in words.
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "dashboards/fairness_parity.h"
#include "dashboards/report_sections.h"
#include "eventstore/counter_keys.h"

namespace abrec {
namespace {

using json = nlohmann::ordered_json;
using fairness::ArmTests;
using fairness::AtClose;
using fairness::AttributeCounts;
using fairness::Breached;
using fairness::GapTest;
using fairness::kMinGroupUsers;
using fairness::Looks;
using fairness::LooksOf;
using fairness::ParityOf;
using fairness::ProductParity;
using fairness::StrongestOn;
using fairness::TestsOf;

json ParityJson(const ProductParity& p) {
  json out{{"product", p.product},    {"gap", p.result.gap},
           {"ratio", p.result.ratio}, {"rates", p.rates},
           {"users_shown", p.shown},  {"chi_squared", p.result.chi_squared},
           {"df", p.result.df},       {"p_value", p.result.p_value}};
  if (p.result.reason != stats::Reason::kOk) out["reason"] = stats::ReasonName(p.result.reason);
  return out;
}

json WiderJson(const GapTest& t, std::size_t tests) {
  const stats::WiderGapResult& r = t.result;
  json out{{"groups", {t.g, t.h}}};
  if (r.reason != stats::Reason::kOk) {
    out["reason"] = stats::ReasonName(r.reason);
    return out;
  }
  out["variant_gap"] = r.variant_gap;
  out["control_gap"] = r.control_gap;
  out["estimate"] = r.estimate;
  out["bound"] = r.bound;
  out["p_value"] = r.p_value;
  out["p_value_adjusted"] = std::min(1.0, static_cast<double>(tests) * r.p_value);
  return out;
}

double RateOf(const std::map<std::string, double>& rates, const std::string& group) {
  const auto it = rates.find(group);
  return it == rates.end() ? 0.0 : it->second;
}

// Since when users are counted, and the days an abrec before schema v11 counted exposures
// instead (those exposures are in no per-user figure).
json CoverageOf(const ReportInputs& in) {
  std::string since, old_from, old_to;
  for (const Variant& v : in.experiment->variants) {
    const auto it = in.counters.find(v.name);
    if (it == in.counters.end()) continue;
    for (const auto& [day, names] : it->second) {
      for (const auto& [name, n] : names) {
        if (counter_keys::IsPerUser(name)) {
          if (since.empty() || day < since) since = day;
        } else if (counter_keys::IsLegacyFairness(name)) {
          if (old_from.empty() || day < old_from) old_from = day;
          if (day > old_to) old_to = day;
        }
      }
    }
  }
  json out{{"since", since.empty() ? json(nullptr) : json(since)}};
  if (!old_from.empty()) {
    out["counted_per_exposure"] = {
        {"from", old_from},
        {"to", old_to},
        {"note",
         fmt::format("exposures served from {} to {} were counted per exposure by an abrec before "
                     "schema v11 and cannot be split into users: the per-user figures count the "
                     "users served since {}",
                     old_from, old_to, since.empty() ? "the upgrade" : since)}};
  }
  return out;
}

// The breach of `t` on `p`, in words, for the decision.
std::string BreachInWords(const ProductParity& p, const GapTest& t, const ArmTests& arm,
                          double max_gap) {
  return fmt::format(
      "fairness: {} is shown to {:.1f}% of the {}={} users and {:.1f}% of the {}={} users, a "
      "gap of {:.3f} past the limit {:.2f}, and wider than control's {:.3f} there by at least "
      "{:.3f} (always-valid p {:.3g} ≤ {:.3g}, Bonferroni over {} comparisons)",
      p.product, 100 * RateOf(p.rates, t.g), t.attribute, t.g, 100 * RateOf(p.rates, t.h),
      t.attribute, t.h, t.result.variant_gap, max_gap, std::abs(t.result.control_gap),
      t.result.bound, std::min(1.0, t.result.p_value * static_cast<double>(arm.tests.size())),
      arm.level, arm.tests.size());
}

// One arm's object for one attribute: its groups, a row per product it showed, the worst
// product (the widest breached gap, else the widest gap) and whether it breached, which goes
// to `findings` in words.
json AttributeJson(const Experiment& e, const Variant& v, const std::string& attribute,
                   const Looks& looks, const ArmTests& arm,
                   std::vector<VariantFindings>& findings) {
  const double max_gap = e.fairness.max_parity_gap;
  const AttributeCounts& now = AtClose(looks.arms.at(v.name), attribute);
  const AttributeCounts& control_now =
      AtClose(looks.arms.at(std::string(kControlVariant)), attribute);
  json a{{"groups", now.users}, {"products_compared", now.shown.size()}};
  if (now.users.size() < 2) {
    a["reason"] = "fewer than two known groups among the users served";
    return a;
  }
  json products = json::array();
  std::optional<std::size_t> worst;
  bool worst_breached = false;
  double worst_gap = 0;
  const GapTest* worst_test = nullptr;
  ProductParity worst_parity;
  for (const auto& [product, by_group] : now.shown) {
    const ProductParity p = ParityOf(now, product);
    json row = ParityJson(p);
    bool breached = false;
    const GapTest* t = nullptr;
    if (!arm.is_control) {
      const ProductParity c = ParityOf(control_now, product);
      row["control"] = {{"rates", c.rates}, {"gap", c.result.gap}, {"p_value", c.result.p_value}};
      t = StrongestOn(arm.tests, attribute, product, max_gap);
      if (t) {
        row["wider_than_control"] = WiderJson(*t, arm.tests.size());
        breached = Breached(*t, max_gap, arm.per_test);
      } else {
        row["wider_than_control"] = {
            {"reason", fmt::format("fewer than {} users in a group of the variant or control",
                                   kMinGroupUsers)}};
      }
    }
    row["breached"] = breached;
    if (p.result.reason == stats::Reason::kOk &&
        (!worst || (breached && !worst_breached) ||
         (breached == worst_breached && p.result.gap > worst_gap))) {
      worst = products.size();
      worst_breached = breached;
      worst_gap = p.result.gap;
      worst_test = t;
      worst_parity = p;
    }
    products.push_back(std::move(row));
  }
  a["breached"] = worst_breached;
  if (!worst) {
    a["worst"] = nullptr;
  } else {
    a["worst"] = products[*worst];
    a["control_gap"] = ParityOf(control_now, worst_parity.product).result.gap;
    if (worst_breached) {
      FindingsOf(findings, v.name)
          .breached_guardrails.push_back(BreachInWords(worst_parity, *worst_test, arm, max_gap));
    }
  }
  a["products"] = std::move(products);
  if (!arm.is_control) a["tests"] = arm.tests.size();
  return a;
}

}  // namespace

json FairnessSection(const ReportInputs& in, double level, std::vector<VariantFindings>& findings) {
  const Experiment& e = *in.experiment;
  std::vector<std::string> buckets;
  for (const Variant& v : e.variants) buckets.push_back(v.name);
  if (std::find(buckets.begin(), buckets.end(), kControlVariant) == buckets.end()) {
    buckets.emplace_back(kControlVariant);
  }
  const Looks looks = LooksOf(in.counters, buckets, e.fairness.attributes);
  json arms = json::object();
  json corrections = json::object();
  for (const Variant& v : e.variants) {
    const ArmTests arm = TestsOf(e, v.name, looks, level);
    if (!arm.is_control) {
      corrections[v.name] = {
          {"tests", arm.tests.size()}, {"level", level}, {"per_test_level", arm.per_test}};
    }
    json by_attribute = json::object();
    for (const std::string& attribute : e.fairness.attributes) {
      by_attribute[attribute] = AttributeJson(e, v, attribute, looks, arm, findings);
    }
    arms[v.name] = std::move(by_attribute);
  }
  json out{{"attributes", e.fairness.attributes},
           {"max_parity_gap", e.fairness.max_parity_gap},
           {"unit", "users"},
           {"measure",
            "per product, the share of each group's users served by /v1/recommend who were shown "
            "it at least once (a user counts once per group and bucket); Pearson's χ² across "
            "groups of those users, for display"},
           {"test",
            "a variant breaches when its gap on a product is past max_parity_gap and, for a pair "
            "of groups (g, h), its gap d_v = share(g) − share(h) is wider than control's: d_v > "
            "|d_c|, an intersection-union test of d_v − d_c > 0 and d_v + d_c > 0, each "
            "one-sided and always valid (normal mixture), Bonferroni over every product, "
            "ordered pair of groups and attribute of the variant; p-values are running minima "
            "over the daily looks"},
           {"level", level},
           {"looks", looks.days.size()},
           {"min_group_users", kMinGroupUsers}};
  const json coverage = CoverageOf(in);
  for (const auto& [key, value] : coverage.items()) out[key] = value;
  out["corrections"] = std::move(corrections);
  out["arms"] = std::move(arms);
  if (e.fairness.attributes.empty()) out["reason"] = "the experiment names no fairness attributes";
  return out;
}

}  // namespace abrec
