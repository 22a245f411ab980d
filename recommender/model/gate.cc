#include "recommender/model/gate.h"

#include <array>
#include <map>

#include <fmt/format.h>

#include "configtree/schema_reader.h"
#include "recommender/model/policies.h"
#include "recommender/data/synthetic_world.h"
#include "stats/fairness.h"

namespace abrec {
namespace {

constexpr std::string_view kAttributes[] = {"sex", "age_band", "region", "occupation"};

GateInvariant ReadInvariant(SchemaReader& r, const ConfigNode& n, const std::string& field) {
  GateInvariant inv;
  if (!r.CheckMap(n, field, {"category", "product", "min_age", "max_age"})) return inv;
  if (const auto* v = n.Find("category"))
    inv.category = r.String(*v, field + ".category").value_or("");
  if (const auto* v = n.Find("product"))
    inv.product = r.String(*v, field + ".product").value_or("");
  if (const auto* v = n.Find("min_age")) {
    if (auto x = r.Integer(*v, field + ".min_age", 0, 150)) inv.min_age = static_cast<int>(*x);
  }
  if (const auto* v = n.Find("max_age")) {
    if (auto x = r.Integer(*v, field + ".max_age", 0, 150)) inv.max_age = static_cast<int>(*x);
  }
  if (inv.category.empty() == inv.product.empty()) {
    r.Error(n, field, "give either category or product");
  }
  if (!inv.min_age && !inv.max_age) r.Error(n, field, "give min_age or max_age");
  return inv;
}

bool Breaks(const GateInvariant& inv, const Product& p, const std::optional<int>& age) {
  if (!inv.product.empty() ? p.id != inv.product : p.category != inv.category) return false;
  if (!age) return inv.min_age.has_value();  // an unknown age may be a minor
  return (inv.min_age && *age < *inv.min_age) || (inv.max_age && *age > *inv.max_age);
}

}  // namespace

ParseResult<GateRules> LoadGateRules(const std::string& path) {
  auto tree = ParseConfigFile(path, ParseLimits{});
  if (!tree) return std::unexpected(std::move(tree.error()));
  SchemaReader r(path);
  GateRules rules;
  const ConfigNode& root = *tree;
  if (!r.CheckMap(root, "",
                  {"k", "margin", "alpha", "min_group_customers", "attributes", "invariants"})) {
    return std::unexpected(r.TakeDiagnostics());
  }
  if (const auto* v = root.Find("k"))
    rules.k = static_cast<int>(r.Integer(*v, "k", 1, 20).value_or(3));
  if (const auto* v = root.Find("margin"))
    rules.margin = r.Number(*v, "margin", 0, 1).value_or(0.05);
  if (const auto* v = root.Find("alpha"))
    rules.alpha = r.Number(*v, "alpha", 1e-12, 1).value_or(0.05);
  if (const auto* v = root.Find("min_group_customers")) {
    rules.min_group_customers =
        static_cast<int>(r.Integer(*v, "min_group_customers", 1, 1'000'000).value_or(50));
  }
  if (const auto* v = root.Find("attributes")) {
    rules.attributes.clear();
    if (!v->IsSequence()) r.Error(*v, "attributes", "expected a list");
    for (std::size_t i = 0; i < v->items.size(); ++i) {
      const std::string field = fmt::format("attributes[{}]", i);
      auto name = r.String(v->items[i], field);
      if (!name) continue;
      if (std::find(std::begin(kAttributes), std::end(kAttributes), *name) ==
          std::end(kAttributes)) {
        r.Error(v->items[i], field,
                fmt::format("unknown attribute \"{}\"; known: sex, age_band, region, occupation",
                            *name));
      }
      rules.attributes.push_back(*name);
    }
  }
  if (const auto* v = root.Find("invariants")) {
    if (!v->IsSequence()) r.Error(*v, "invariants", "expected a list");
    for (std::size_t i = 0; i < v->items.size(); ++i) {
      rules.invariants.push_back(ReadInvariant(r, v->items[i], fmt::format("invariants[{}]", i)));
    }
  }
  if (!r.ok()) return std::unexpected(r.TakeDiagnostics());
  return rules;
}

const GateInvariant* BrokenBy(const GateRules& rules, const Product& product,
                              const std::optional<int>& age) {
  for (const GateInvariant& inv : rules.invariants) {
    if (Breaks(inv, product, age)) return &inv;
  }
  return nullptr;
}

std::string DescribeInvariant(const GateInvariant& inv) {
  std::string limits;
  if (inv.min_age) limits = fmt::format("min_age {}", *inv.min_age);
  if (inv.max_age) limits += fmt::format("{}max_age {}", limits.empty() ? "" : " ", *inv.max_age);
  return fmt::format("{} {}: {}", inv.product.empty() ? "category" : "product",
                     inv.product.empty() ? inv.category : inv.product, limits);
}

std::optional<std::string> BrokenInvariant(const GateRules& rules, const Product& p,
                                           const std::optional<int>& age) {
  const GateInvariant* inv = BrokenBy(rules, p, age);
  if (!inv) return std::nullopt;
  return fmt::format("{} shown to a customer aged {} ({})", p.id,
                     age ? std::to_string(*age) : std::string("unknown"), DescribeInvariant(*inv));
}

GateList PipelineGateList(const RecommenderModel& model, const RankingRules& ranking) {
  return [&model, &ranking](const CustomerProfile& c, int k) {
    return PipelineList(model, c, k, ranking, {});
  };
}

GateList LegacyRulesGateList(const RecommenderModel& model, const RankingRules& ranking) {
  return [&model, &ranking](const CustomerProfile& c, int k) -> Result<PolicyList> {
    return LegacyRulesList(model.catalog(), &model.segment_popularity(), c, k, ranking);
  };
}

Result<GateReport> RunGate(const RecommenderModel& candidate, const RecommenderModel& baseline,
                           std::span<const CustomerProfile> customers, const RankingRules& ranking,
                           const GateRules& rules) {
  return RunGate(candidate.catalog(), PipelineGateList(candidate, ranking),
                 PipelineGateList(baseline, ranking), customers, rules);
}

Result<GateReport> RunGate(const Catalog& catalog, const GateList& candidate,
                           const GateList& baseline, std::span<const CustomerProfile> customers,
                           const GateRules& rules) {
  const std::size_t n_products = catalog.products.size();
  GateReport report;
  report.customers = customers.size();
  // Per attribute and group: the customers who could be shown each product (eligible, not
  // holding it; the same for both models), and per model how many were shown it. Rates are
  // among the former: an age rule or a holding is not a disparity the model chose.
  struct Tally {
    std::vector<std::int64_t> could;
    std::array<std::vector<std::int64_t>, 2> shown;  // candidate, baseline
  };
  std::map<std::string, std::map<std::string, Tally>> tallies;  // attribute -> group
  std::map<std::string, int> broken;                            // invariant message -> customers
  const GateList* lists[2] = {&candidate, &baseline};
  std::vector<Tally*> groups_of_customer;
  for (const CustomerProfile& c : customers) {
    groups_of_customer.clear();
    for (const std::string& attribute : rules.attributes) {
      Tally& t = tallies[attribute][GroupOf(c, attribute)];
      t.could.resize(n_products, 0);
      for (auto& shown : t.shown) shown.resize(n_products, 0);
      for (std::size_t p = 0; p < n_products; ++p) {
        const bool held = p < c.holds.size() && c.holds[p];
        if (!held && Eligible(catalog.products[p], c.age)) ++t.could[p];
      }
      groups_of_customer.push_back(&t);
    }
    for (int m = 0; m < 2; ++m) {
      auto list = (*lists[m])(c, rules.k);
      if (!list) return std::unexpected(list.error());
      for (Tally* t : groups_of_customer) {
        for (const auto& item : list->items) ++t->shown[static_cast<std::size_t>(m)][item.product];
      }
      if (m != 0) continue;
      for (const auto& item : list->items) {
        if (auto broke = BrokenInvariant(rules, catalog.products[item.product], c.age)) {
          ++broken["eligibility: " + *broke];
        }
      }
    }
  }
  for (const auto& [message, count] : broken) {
    report.failures.push_back(fmt::format("{} (× {})", message, count));
  }
  for (const std::string& attribute : rules.attributes) {
    for (std::size_t p = 0; p < n_products; ++p) {
      ParityCheck check{.attribute = attribute, .product = catalog.products[p].id};
      stats::ParityResult results[2];
      for (int m = 0; m < 2; ++m) {
        std::vector<stats::GroupCount> groups;
        std::vector<std::string> names;
        for (const auto& [group, t] : tallies[attribute]) {
          if (group == "unknown" || t.could[p] < rules.min_group_customers) continue;
          groups.push_back({t.could[p], t.shown[static_cast<std::size_t>(m)][p]});
          names.push_back(group);
        }
        results[m] = stats::DemographicParity(groups);
        if (m == 0 && !groups.empty()) {
          std::size_t lo = 0, hi = 0;
          auto rate = [&groups](std::size_t i) {
            return static_cast<double>(groups[i].recommended) /
                   static_cast<double>(groups[i].users);
          };
          for (std::size_t i = 1; i < groups.size(); ++i) {
            if (rate(i) < rate(lo)) lo = i;
            if (rate(i) > rate(hi)) hi = i;
          }
          check.min_group = names[lo];
          check.max_group = names[hi];
          check.min_rate = rate(lo);
          check.max_rate = rate(hi);
        }
      }
      if (results[0].reason != stats::Reason::kOk) continue;
      check.candidate_gap = results[0].gap;
      check.baseline_gap = results[1].gap;
      check.candidate_p_value = results[0].p_value;
      check.failed = stats::FurtherFromParity(results[0], results[1], rules.margin);
      report.parity.push_back(std::move(check));
    }
  }
  // A gap past the margin fails only when it is not sampling noise: the candidate's χ² test
  // must reject parity at rules.alpha, Bonferroni-corrected over the checks compared (a
  // product few customers may be shown, e.g. one for the under-25s, has groups of a few
  // hundred, whose rates differ by 0.04 by chance alone).
  const double level =
      rules.alpha / static_cast<double>(std::max<std::size_t>(1, report.parity.size()));
  for (ParityCheck& check : report.parity) {
    check.failed = check.failed && check.candidate_p_value < level;
    if (!check.failed) continue;
    report.failures.push_back(fmt::format(
        "parity: {} is recommended to {} {:.1f}% of {} and {:.1f}% of {}: a gap of {:.3f} "
        "against the baseline's {:.3f} (margin {:.3f}, χ² p = {:.2g} < {:.2g})",
        check.product, check.attribute, 100 * check.max_rate, check.max_group, 100 * check.min_rate,
        check.min_group, check.candidate_gap, check.baseline_gap, rules.margin,
        check.candidate_p_value, level));
  }
  return report;
}

}  // namespace abrec
