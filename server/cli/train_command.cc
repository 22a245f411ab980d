// abrec train --format synthetic --out DIR [--customers N] [--seed S] [--catalog FILE]
#include <fmt/format.h>

#include "recommender/trainer.h"
#include "server/cli/args.h"
#include "server/cli/commands.h"

namespace abrec {
namespace {

constexpr const char* kHelp =
    R"(usage: abrec train --format synthetic --out DIR [--customers N] [--seed S]
                   [--catalog FILE]

Trains the recommender's models and writes them to the new folder DIR: the hybrid matrix
factorisation (mf.bin), XGBoost models of P(click) and P(bind | click) (click.json,
bind.json), and metadata.json with the data, parameters and the evaluation on held-out
customers. --format synthetic draws a portfolio of N customers (default 20000) from the
seeded ground-truth world over the catalog (default config/catalog.yaml).
)";

}  // namespace

int TrainCommand(const CommandArgs& argv) {
  auto args =
      ParseCommandArgs("train", argv, {"format", "out", "customers", "seed", "catalog"}, kHelp);
  if (!args) return args.error();
  const auto format = args->Get("format");
  const auto out = args->Get("out");
  if (!format || !out || !args->positionals.empty()) {
    fmt::print(stderr, "abrec train: give --format and --out\n{}", kHelp);
    return 2;
  }
  if (*format != "synthetic") {
    fmt::print(stderr,
               "abrec train: --format {}: only synthetic is built so far (zimnat, coil and csv "
               "come with the rest of issue 5)\n",
               *format);
    return 2;
  }
  TrainOptions o;
  try {
    o.customers =
        static_cast<int>(NumberOption(*args, "customers", 100, 10'000'000).value_or(o.customers));
    o.seed = static_cast<std::uint64_t>(
        NumberOption(*args, "seed", 0, 9e15).value_or(static_cast<double>(o.seed)));
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "abrec train: {}\n", e.what());
    return 2;
  }
  const std::string catalog_path = args->Get("catalog").value_or("config/catalog.yaml");
  auto catalog = LoadCatalog(catalog_path);
  if (!catalog) {
    for (const auto& d : catalog.error()) fmt::print(stderr, "{}\n", d.ToString());
    return 1;
  }
  auto report = TrainSynthetic(*catalog, o, *out,
                               [](const std::string& line) { fmt::print(stderr, "{}\n", line); });
  if (!report) {
    fmt::print(stderr, "abrec train: {}: {}\n", report.error().field, report.error().message);
    return 1;
  }
  fmt::print("trained {} in {:.1f} s: {} training customers, {} held out\n", report->version,
             report->seconds, report->train_customers, report->test_customers);
  fmt::print(
      "  P(click):        AUC {:.3f} (the true probabilities: {:.3f}), log loss {:.4f}, "
      "click rate {:.3f}\n",
      report->click_auc, report->click_auc_truth, report->click_log_loss, report->base_click_rate);
  fmt::print("  P(bind | click): AUC {:.3f} (the true probabilities: {:.3f}), log loss {:.4f}\n",
             report->bind_auc, report->bind_auc_truth, report->bind_log_loss);
  fmt::print("  written to {}\n", *out);
  return 0;
}

}  // namespace abrec
