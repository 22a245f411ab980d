// abrec gate --candidate DIR --baseline DIR [--data FILE | --customers N] [--seed S]
//            [--rules FILE] [--catalog FILE] [--ranking FILE] [--format text|json]
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "platform/views.h"
#include "recommender/data/synthetic_world.h"
#include "recommender/model/gate.h"
#include "recommender/portfolio/csv_portfolio.h"

namespace abrec {
namespace {

constexpr const char* kHelp =
    R"(usage: abrec gate --candidate DIR --baseline DIR|legacy_rules [--data FILE | --customers N]
                  [--seed S] [--rules FILE] [--catalog FILE] [--ranking FILE]
                  [--format text|json]

The deployment gate. Runs the candidate model's and the baseline model's pipelines over the
same customers and refuses the candidate (exit status 1, with the reasons) when
  - for a product and a protected attribute (config/gate.yaml: sex, age_band, ...) its
    recommendation rates across the groups are further from parity than the baseline's by
    more than the configured margin, or
  - a list breaks an eligibility invariant (no life cover under 18, no student discount
    past 25).
`--baseline legacy_rules` compares with the rule-based recommender (what an experiment's
control arm shows, and what a phase change to ab_test compares with).
Exit status 0: the candidate may be deployed. The customers come from --data (abrec's
portfolio CSV: customer_id,age,sex,region,occupation,holdings) or are drawn from the
synthetic world (--customers N, default 5000; --seed S).
)";

Result<std::vector<CustomerProfile>> FromCsv(const std::string& path, const Catalog& catalog) {
  CsvImportOptions options;
  for (const Product& p : catalog.products) options.products.push_back(p.id);
  auto portfolio = ImportCsvPortfolio(path, options);
  if (!portfolio) return std::unexpected(portfolio.error());
  std::vector<CustomerProfile> out;
  for (const PortfolioCustomer& c : portfolio->customers) {
    CustomerProfile p;
    p.age = c.age;
    auto attribute = [&c](const char* name) {
      const auto it = c.attributes.find(name);
      return it == c.attributes.end() ? std::string() : it->second;
    };
    const std::string sex = attribute("sex");
    p.sex = sex == "F" || sex == "female" ? 'F' : (sex == "M" || sex == "male" ? 'M' : '?');
    p.region = VocabularyCode(attribute("region"), kRegions);
    p.occupation = VocabularyCode(attribute("occupation"), kOccupations);
    p.holds.assign(catalog.products.size(), false);
    for (std::size_t i = 0; i < portfolio->products.size(); ++i) {
      if (i < c.holds.size() && c.holds[i]) {
        if (auto index = catalog.IndexOf(portfolio->products[i])) p.holds[*index] = true;
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

template <typename T>
bool PrintDiagnostics(const T& result) {
  if (result) return false;
  for (const auto& d : result.error()) fmt::print(stderr, "{}\n", d.ToString());
  return true;
}

}  // namespace

int GateCommand(const CommandArgs& argv) {
  auto args = ParseCommandArgs("gate", argv,
                               {"candidate", "baseline", "data", "customers", "seed", "rules",
                                "catalog", "ranking", "format"},
                               kHelp);
  if (!args) return args.error();
  const auto candidate_dir = args->Get("candidate"), baseline_dir = args->Get("baseline");
  const std::string format = args->Get("format").value_or("text");
  if (!candidate_dir || !baseline_dir || !args->positionals.empty() ||
      (format != "text" && format != "json") || (args->Get("data") && args->Get("customers"))) {
    fmt::print(stderr,
               "abrec gate: give --candidate and --baseline, at most one of --data and "
               "--customers, and --format text|json\n{}",
               kHelp);
    return 2;
  }
  WorldOptions world;
  world.customers = 5'000;
  try {
    world.customers =
        static_cast<int>(NumberOption(*args, "customers", 10, 10'000'000).value_or(5'000));
    world.seed = static_cast<std::uint64_t>(
        NumberOption(*args, "seed", 0, 9e15).value_or(static_cast<double>(world.seed)));
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "abrec gate: {}\n", e.what());
    return 2;
  }
  auto catalog = LoadCatalog(args->Get("catalog").value_or("config/catalog.yaml"));
  auto ranking = LoadRankingRules(args->Get("ranking").value_or("config/ranking.yaml"));
  auto rules = LoadGateRules(args->Get("rules").value_or("config/gate.yaml"));
  if (PrintDiagnostics(catalog) || PrintDiagnostics(ranking) || PrintDiagnostics(rules)) return 1;
  // "--baseline legacy_rules": the rule-based control arm, as a phase change compares.
  const bool legacy = *baseline_dir == PolicyName(Policy::kLegacyRules);
  auto candidate = RecommenderModel::Load(*candidate_dir, *catalog, {.scorer_copies = 1});
  auto baseline = RecommenderModel::Load(legacy ? *candidate_dir : *baseline_dir, *catalog,
                                         {.scorer_copies = 1});
  for (const auto* m : {&candidate, &baseline}) {
    if (!*m) {
      fmt::print(stderr, "abrec gate: {}\n", (*m).error().message);
      return 1;
    }
  }
  const std::string baseline_name =
      legacy ? std::string(PolicyName(Policy::kLegacyRules)) : (*baseline)->version();
  std::vector<CustomerProfile> customers;
  if (const auto data = args->Get("data")) {
    auto read = FromCsv(*data, *catalog);
    if (!read) {
      fmt::print(stderr, "abrec gate: {}\n", read.error().message);
      return 1;
    }
    customers = std::move(*read);
  } else {
    auto w = SyntheticWorld::Generate(*catalog, world);
    if (!w) {
      fmt::print(stderr, "abrec gate: {}\n", w.error().message);
      return 1;
    }
    for (const Customer& c : w->customers()) {
      customers.push_back(ProfileOf(c));
    }
  }
  fmt::print(stderr, "gate: {} against {} on {} customers\n", (*candidate)->version(),
             baseline_name, customers.size());
  const RecommenderModel& base = **baseline;
  const RankingRules& rank = *ranking;
  auto report = legacy ? RunGate(*catalog, PipelineGateList(**candidate, rank),
                                 LegacyRulesGateList(base, rank), customers, *rules)
                       : RunGate(**candidate, base, customers, rank, *rules);
  if (!report) {
    fmt::print(stderr, "abrec gate: {}\n", report.error().message);
    return 1;
  }
  if (format == "json") {
    nlohmann::ordered_json j{{"candidate", (*candidate)->version()}, {"baseline", baseline_name}};
    j.update(GateReportView(*report));
    fmt::print("{}\n", j.dump(2));
  } else if (report->passed()) {
    double worst = 0;
    for (const auto& c : report->parity) worst = std::max(worst, c.candidate_gap - c.baseline_gap);
    fmt::print(
        "PASS: {} may replace {}: {} parity checks within the margin of {} (largest "
        "excess over the baseline {:.3f}), no eligibility invariant broken\n",
        (*candidate)->version(), baseline_name, report->parity.size(), rules->margin, worst);
  } else {
    fmt::print("REFUSED: {} may not replace {} ({} reasons):\n", (*candidate)->version(),
               baseline_name, report->failures.size());
    for (const auto& f : report->failures) fmt::print("  - {}\n", f);
  }
  return report->passed() ? 0 : 1;
}

}  // namespace abrec
