// The report's fairness section (report_sections.h): what share of each group's users each
// arm showed each product, and whether a variant's gap is wider than control's.
//
// The counts are users, from the distinct-user counters the service logs with each served
// list ("users|exposed|ATTRIBUTE|GROUP", "users|shown|ATTRIBUTE|GROUP|PRODUCT";
// eventstore/sqlite/distinct_user_counters.h): a day's rows are the users first counted that day,
// so the sums up to a day are the counts at its close, the report's daily looks.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "dashboards/report_sections.h"
#include "eventstore/counter_keys.h"
#include "stats/fairness.h"

namespace abrec {
namespace {

using json = nlohmann::ordered_json;

// A look's cells need this many users each before the normal approximation is trusted.
constexpr std::int64_t kMinGroupUsers = 30;
// Groups that are not compared: the attribute was missing from the request.
constexpr std::string_view kUnknownGroup = "unknown";

// One arm's users by group, and by product and group those shown the product, for one
// attribute.
struct AttributeCounts {
  std::map<std::string, std::int64_t> users;
  std::map<std::string, std::map<std::string, std::int64_t>> shown;
};
using ArmCounts = std::map<std::string, AttributeCounts>;  // by attribute

std::int64_t At(const std::map<std::string, std::int64_t>& m, const std::string& key) {
  const auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

// The users of `group` in `counts`, and those of them shown `product`.
stats::GroupCount CountOf(const AttributeCounts& counts, const std::string& product,
                          const std::string& group) {
  const auto shown = counts.shown.find(product);
  return {At(counts.users, group), shown == counts.shown.end() ? 0 : At(shown->second, group)};
}

// Adds one day's distinct-user counters of the experiment's `attributes` into `into`. The
// attribute is the name's first field and the product its last, so that a group may contain
// '|'.
void AddDay(const std::map<std::string, std::int64_t>& names,
            const std::vector<std::string>& attributes, ArmCounts& into) {
  for (auto it = names.lower_bound(std::string(counter_keys::kUserPrefix)); it != names.end();
       ++it) {
    if (!counter_keys::IsPerUser(it->first)) break;
    const auto key = counter_keys::FairnessOf(it->first);
    if (!key) continue;
    const std::string attribute(key->attribute);
    if (std::find(attributes.begin(), attributes.end(), attribute) == attributes.end()) continue;
    if (key->group == kUnknownGroup) continue;
    AttributeCounts& a = into[attribute];
    if (key->shown) {
      a.shown[std::string(key->product)][std::string(key->group)] += it->second;
    } else {
      a.users[std::string(key->group)] += it->second;
    }
  }
}

// The arms' counts at each day's close (the looks), oldest first, over the days on which any
// of `buckets` counted users; a bucket quiet on a day carries its counts forward.
struct Looks {
  std::vector<std::string> days;
  std::map<std::string, std::vector<ArmCounts>> arms;  // bucket -> one per day
};

Looks LooksOf(const ExposureCounters& counters, const std::vector<std::string>& buckets,
              const std::vector<std::string>& attributes) {
  Looks out;
  std::set<std::string> days;
  for (const std::string& b : buckets) {
    const auto it = counters.find(b);
    if (it == counters.end()) continue;
    for (const auto& [day, names] : it->second) {
      const auto first = names.lower_bound(std::string(counter_keys::kUserPrefix));
      if (first != names.end() && counter_keys::IsPerUser(first->first)) days.insert(day);
    }
  }
  out.days.assign(days.begin(), days.end());
  for (const std::string& b : buckets) {
    std::vector<ArmCounts>& arm = out.arms[b];
    const auto it = counters.find(b);
    ArmCounts running;
    for (const std::string& day : out.days) {
      if (it != counters.end()) {
        if (const auto d = it->second.find(day); d != it->second.end()) {
          AddDay(d->second, attributes, running);
        }
      }
      arm.push_back(running);
    }
  }
  return out;
}

// The per-user parity of each product an arm or control showed, at the last look.
struct ProductParity {
  std::string product;
  stats::ParityResult result{};
  std::map<std::string, double> rates{};
  std::map<std::string, std::int64_t> shown{};
};

ProductParity ParityOf(const AttributeCounts& counts, const std::string& product) {
  ProductParity p{.product = product};
  std::vector<stats::GroupCount> groups;
  for (const auto& [group, users] : counts.users) {
    const stats::GroupCount g = CountOf(counts, product, group);
    groups.push_back(g);
    p.shown[group] = g.recommended;
    p.rates[group] =
        users > 0 ? static_cast<double>(g.recommended) / static_cast<double>(users) : 0.0;
  }
  p.result = stats::DemographicParity(groups);
  return p;
}

json ParityJson(const ProductParity& p) {
  json out{{"product", p.product},    {"gap", p.result.gap},
           {"ratio", p.result.ratio}, {"rates", p.rates},
           {"users_shown", p.shown},  {"chi_squared", p.result.chi_squared},
           {"df", p.result.df},       {"p_value", p.result.p_value}};
  if (p.result.reason != stats::Reason::kOk) out["reason"] = stats::ReasonName(p.result.reason);
  return out;
}

// One comparison of a variant's gap with control's: a product, an ordered pair of groups.
struct GapTest {
  std::string attribute, product, g, h;
  std::vector<stats::PairCounts> looks;
  stats::WiderGapResult result{};
};

// Every (attribute, product, ordered pair of groups) of the variant that has a look with
// kMinGroupUsers users in each of its four cells: the family the correction counts.
// One arm's counts of one attribute over the looks, indexed: users[look][group] and
// shown[look][product][group], for the groups and products given.
struct IndexedLooks {
  std::vector<std::vector<std::int64_t>> users;
  std::vector<std::vector<std::vector<std::int64_t>>> shown;
};

IndexedLooks Index(const std::vector<ArmCounts>& looks, const std::string& attribute,
                   const std::vector<std::string>& groups,
                   const std::vector<std::string>& products) {
  IndexedLooks out;
  for (const ArmCounts& look : looks) {
    std::vector<std::int64_t> users(groups.size(), 0);
    std::vector<std::vector<std::int64_t>> shown(products.size(), users);
    if (const auto a = look.find(attribute); a != look.end()) {
      for (std::size_t g = 0; g < groups.size(); ++g) users[g] = At(a->second.users, groups[g]);
      for (std::size_t p = 0; p < products.size(); ++p) {
        const auto by_group = a->second.shown.find(products[p]);
        if (by_group == a->second.shown.end()) continue;
        for (std::size_t g = 0; g < groups.size(); ++g) {
          shown[p][g] = At(by_group->second, groups[g]);
        }
      }
    }
    out.users.push_back(std::move(users));
    out.shown.push_back(std::move(shown));
  }
  return out;
}

std::vector<GapTest> GapTestsOf(const Experiment& e, const std::vector<ArmCounts>& variant,
                                const std::vector<ArmCounts>& control) {
  std::vector<GapTest> out;
  if (variant.empty()) return out;
  for (const std::string& attribute : e.fairness.attributes) {
    std::set<std::string> group_set, product_set;
    for (const auto* arm : {&variant.back(), &control.back()}) {
      const auto a = arm->find(attribute);
      if (a == arm->end()) continue;
      for (const auto& [group, n] : a->second.users) group_set.insert(group);
      for (const auto& [product, by_group] : a->second.shown) product_set.insert(product);
    }
    const std::vector<std::string> groups(group_set.begin(), group_set.end());
    const std::vector<std::string> products(product_set.begin(), product_set.end());
    const IndexedLooks v = Index(variant, attribute, groups, products);
    const IndexedLooks c = Index(control, attribute, groups, products);
    for (std::size_t p = 0; p < products.size(); ++p) {
      for (std::size_t g = 0; g < groups.size(); ++g) {
        for (std::size_t h = 0; h < groups.size(); ++h) {
          if (g == h) continue;
          GapTest t{attribute, products[p], groups[g], groups[h], {}};
          bool testable = false;
          for (std::size_t d = 0; d < variant.size(); ++d) {
            const stats::PairCounts look{{v.users[d][g], v.shown[d][p][g]},
                                         {v.users[d][h], v.shown[d][p][h]},
                                         {c.users[d][g], c.shown[d][p][g]},
                                         {c.users[d][h], c.shown[d][p][h]}};
            testable = testable ||
                       std::min({look.variant_g.users, look.variant_h.users, look.control_g.users,
                                 look.control_h.users}) >= kMinGroupUsers;
            t.looks.push_back(look);
          }
          if (testable) out.push_back(std::move(t));
        }
      }
    }
  }
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

// A pair breaches when the variant's gap between its groups is past the limit and
// significantly wider than control's gap between the same groups.
bool PastLimit(const GapTest& t, double max_gap) {
  return t.result.reason == stats::Reason::kOk && t.result.variant_gap > max_gap;
}
bool Breached(const GapTest& t, double max_gap, double per_test_level) {
  return PastLimit(t, max_gap) && t.result.p_value <= per_test_level;
}

// The comparison to show for (attribute, product): the most significant pair past the limit,
// else the most significant pair; nullptr when none was testable.
const GapTest* StrongestOn(const std::vector<GapTest>& tests, const std::string& attribute,
                           const std::string& product, double max_gap) {
  const GapTest* best = nullptr;
  auto rank = [max_gap](const GapTest& t) {
    return std::tuple(t.result.reason == stats::Reason::kOk, PastLimit(t, max_gap),
                      -t.result.p_value, t.result.estimate);
  };
  for (const GapTest& t : tests) {
    if (t.attribute != attribute || t.product != product) continue;
    if (!best || rank(t) > rank(*best)) best = &t;
  }
  return best;
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

// One arm's comparisons with control, corrected: each of the m tests at level / m.
struct ArmTests {
  bool is_control = false;
  std::vector<GapTest> tests{};
  double level = 0;
  double per_test = 0;
};

ArmTests TestsOf(const Experiment& e, const std::string& arm, const Looks& looks, double level) {
  ArmTests out{.is_control = arm == "control", .level = level, .per_test = level};
  if (out.is_control) return out;
  out.tests = GapTestsOf(e, looks.arms.at(arm), looks.arms.at("control"));
  // Bonferroni over the variant's family. The mixture is tuned for the per-test level, so
  // that the reported bound and p-value agree (stats/sequential.h).
  if (!out.tests.empty()) out.per_test = level / static_cast<double>(out.tests.size());
  for (GapTest& t : out.tests) {
    t.result = stats::WiderGapThanControl(
        t.looks,
        {.alpha = out.per_test, .n_star = e.analysis.tuning_n, .sided = stats::Sided::kGreater},
        kMinGroupUsers);
  }
  return out;
}

// The counts of `attribute` at the last look of `looks` (none when there is no look).
const AttributeCounts& AtClose(const std::vector<ArmCounts>& looks, const std::string& attribute) {
  static const AttributeCounts kNone;
  if (looks.empty()) return kNone;
  const auto it = looks.back().find(attribute);
  return it == looks.back().end() ? kNone : it->second;
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
  const AttributeCounts& control_now = AtClose(looks.arms.at("control"), attribute);
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
  if (std::find(buckets.begin(), buckets.end(), "control") == buckets.end()) {
    buckets.emplace_back("control");
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
