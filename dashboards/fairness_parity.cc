// Reading the looks from the counters, the parity of each product, and the wider-gap tests
// (fairness_parity.h).
#include "dashboards/fairness_parity.h"

#include <algorithm>
#include <set>
#include <string_view>
#include <tuple>

#include "eventstore/counter_keys.h"

namespace abrec::fairness {
namespace {

// Groups that are not compared: the attribute was missing from the request.
constexpr std::string_view kUnknownGroup = "unknown";

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

// Every (attribute, product, ordered pair of groups) of the variant that has a look with
// kMinGroupUsers users in each of its four cells: the family the correction counts.
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

// The variant's gap between the pair's groups, where it has one, is past `max_gap`.
bool PastLimit(const GapTest& t, double max_gap) {
  return t.result.reason == stats::Reason::kOk && t.result.variant_gap > max_gap;
}

}  // namespace

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

const AttributeCounts& AtClose(const std::vector<ArmCounts>& looks, const std::string& attribute) {
  static const AttributeCounts kNone;
  if (looks.empty()) return kNone;
  const auto it = looks.back().find(attribute);
  return it == looks.back().end() ? kNone : it->second;
}

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

ArmTests TestsOf(const Experiment& e, const std::string& arm, const Looks& looks, double level) {
  ArmTests out{.is_control = arm == kControlVariant, .level = level, .per_test = level};
  if (out.is_control) return out;
  out.tests = GapTestsOf(e, looks.arms.at(arm), looks.arms.at(std::string(kControlVariant)));
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

bool Breached(const GapTest& t, double max_gap, double per_test_level) {
  return PastLimit(t, max_gap) && t.result.p_value <= per_test_level;
}

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

}  // namespace abrec::fairness
