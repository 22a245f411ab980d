// abrec train --format synthetic --out DIR [--customers N] [--seed S] [--catalog FILE]
// abrec train --format zimnat|coil|csv --data FILE --out DIR [--seed S]
#include <cmath>

#include <fmt/format.h>

#include "recommender/model/model.h"
#include "recommender/portfolio/portfolio_formats.h"
#include "recommender/portfolio/portfolio_training.h"
#include "recommender/training/trainer.h"
#include "cli/args.h"
#include "cli/commands.h"

namespace abrec {
namespace {

constexpr const char* kHelp =
    R"(usage: abrec train --format synthetic --out DIR [--customers N] [--seed S]
                   [--catalog FILE] [--withhold-from-women CATEGORY]
                   [--mf-epochs E] [--gbm-rounds R] [--target click|bind|balanced]
       abrec train --format zimnat|coil|csv --data FILE --out DIR [--seed S]
       abrec train --from-events DB --out DIR [--target click|bind|balanced] [--catalog FILE]

Trains the recommender's models and writes them to the new folder DIR.

--format synthetic draws a portfolio of N customers (default 20000) from the seeded
ground-truth world over the catalog (default config/catalog.yaml) and writes the hybrid
matrix factorisation (mf.bin), XGBoost models of P(click) and P(bind | click) (click.json,
bind.json), the legacy rules' segment popularity (legacy_rules.json), and metadata.json with
the calibration and the evaluation on held-out customers (AUC, log loss, ECE before and after
calibration, hit@1, hit@3 and NDCG@5 against the world's best product; by sex and age band).
Put DIR under recommender.model_dir as NAME/VERSION (e.g. var/models/hybrid/v2) and the
service hot-swaps to it. --mf-epochs (default 30) and --gbm-rounds (trees per XGBoost
model, default 50) trade quality for training and scoring time. The models do not read the
customer's sex (EU insurers may not use it as a rating factor; metadata.json: "reads_sex":
false). --withhold-from-women CATEGORY trains a deliberately biased model, for testing
`abrec gate`: women are treated as never holding or clicking that category, and the model
reads sex ("reads_sex": true), so that it can learn to withhold the category from them.
--target sets what the model's lists optimise (metadata.json "objective"): click ranks by
P(click), as a model trained to maximise clicks would; bind ranks by P(bind); balanced
(default) uses config/ranking.yaml's weights.

--from-events DB retrains on what the service logged in its database (storage.path; read
only, safe while the service runs): each product /v1/recommend showed is a row, labelled by
the clicks and binds that name its request_id and weighted by 1/propensity, so that the
exploration bucket's random lists stand for the products the deterministic arms did not show;
the customers' attributes come from the exposures' audit records. A fifth of the customers
are held out (AUC of P(click) and P(bind | click)). --target defaults to bind.

--format zimnat|coil|csv reads a real portfolio (Zimnat train.csv, CoIL ticdata2000.txt, or
abrec's CSV: customer_id,age,sex,region,occupation,holdings with ;-separated product ids),
trains the portfolio model on a seeded 80% of its customers (factorisation, XGBoost ranker,
Platt calibration) and evaluates it on the other 20% with one held product hidden each
(hit@1, hit@3, NDCG@5, AUC, log loss, calibration; by sex and age band). DIR gets mf.bin,
ranker.json and metadata.json ("kind": "portfolio"); `abrec recommend` scores with it.
)";

int TrainPortfolio(PortfolioFormat format, const Args& args, const std::string& out) {
  const auto data = args.Get("data");
  if (!data) {
    fmt::print(stderr, "abrec train: --format {} needs --data FILE\n{}",
               PortfolioFormatName(format), kHelp);
    return 2;
  }
  if (args.Get("customers") || args.Get("catalog") || args.Get("mf-epochs") ||
      args.Get("gbm-rounds") || args.Get("target")) {
    fmt::print(stderr,
               "abrec train: --customers, --catalog, --mf-epochs, --gbm-rounds and --target go "
               "with --format synthetic only\n");
    return 2;
  }
  std::uint64_t seed = 20261129;
  try {
    seed = static_cast<std::uint64_t>(
        NumberOption(args, "seed", 0, 9e15).value_or(static_cast<double>(seed)));
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "abrec train: {}\n", e.what());
    return 2;
  }
  auto report = TrainPortfolioFolder(
      format, *data, out, seed, [](const std::string& line) { fmt::print(stderr, "{}\n", line); });
  if (!report) {
    fmt::print(stderr, "abrec train: {}\n", report.error().message);
    return 1;
  }
  const HideOneMetrics& m = report->evaluation.all;
  auto figure = [](double v) {
    return std::isnan(v) ? std::string("-") : fmt::format("{:.4f}", v);
  };
  fmt::print(
      "trained {} in {:.1f} s: {} customers, {} products; {} for training, {} held-out "
      "cases\n",
      report->version, report->seconds, report->customers, report->products,
      report->train_customers, report->test_cases);
  fmt::print("  hidden product: hit@1 {:.4f}, hit@3 {:.4f}, NDCG@5 {:.4f}\n", m.hit1, m.hit3,
             m.ndcg5);
  fmt::print("  probabilities:  AUC {}, log loss {}, ECE {} before calibration, {} after\n",
             figure(m.auc), figure(m.log_loss), figure(m.ece_raw), figure(m.ece));
  fmt::print("  written to {}\n", out);
  return 0;
}

// abrec train --from-events DB --out DIR [--target T] [--catalog FILE] [--mf-epochs E]
// [--gbm-rounds R]
int TrainOnEvents(const Args& args) {
  const auto out = args.Get("out");
  if (!out || !args.positionals.empty() || args.Get("format") || args.Get("data") ||
      args.Get("customers") || args.Get("seed") || args.Get("withhold-from-women")) {
    fmt::print(stderr,
               "abrec train: --from-events DB takes --out DIR, and optionally --target, --catalog, "
               "--mf-epochs and --gbm-rounds\n");
    return 2;
  }
  EventTrainOptions o;
  o.objective = args.Get("target").value_or("bind");
  if (!IsModelObjective(o.objective)) {
    fmt::print(stderr, "abrec train: --target {}: expected click, bind or balanced\n", o.objective);
    return 2;
  }
  try {
    o.mf.epochs = static_cast<int>(NumberOption(args, "mf-epochs", 1, 1000).value_or(o.mf.epochs));
    o.gbm.rounds =
        static_cast<int>(NumberOption(args, "gbm-rounds", 1, 10'000).value_or(o.gbm.rounds));
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "abrec train: {}\n", e.what());
    return 2;
  }
  auto catalog = LoadCatalog(args.Get("catalog").value_or("config/catalog.yaml"));
  if (!catalog) {
    for (const auto& d : catalog.error()) fmt::print(stderr, "{}\n", d.ToString());
    return 1;
  }
  auto report = TrainFromEvents(*catalog, *args.Get("from-events"), o, *out,
                                [](const std::string& line) { fmt::print(stderr, "{}\n", line); });
  if (!report) {
    fmt::print(stderr, "abrec train: {}: {}\n", report.error().field, report.error().message);
    return 1;
  }
  fmt::print(
      "trained {} from {} logged exposures in {:.1f} s: {} impressions ({} from "
      "exploration, weighted by 1/propensity), {} clicks, {} binds\n",
      report->version, report->exposures, report->seconds, report->rows, report->exploration_rows,
      report->clicks, report->binds);
  fmt::print("  held out {} of {} customers: P(click) AUC {:.3f}, P(bind | click) AUC {:.3f}\n",
             report->test_customers, report->customers, report->click_auc, report->bind_auc);
  fmt::print("  objective {}; written to {}\n", o.objective, *out);
  return 0;
}

}  // namespace

int TrainCommand(const CommandArgs& argv) {
  auto args =
      ParseCommandArgs("train", argv,
                       {"format", "out", "customers", "seed", "catalog", "data",
                        "withhold-from-women", "mf-epochs", "gbm-rounds", "target", "from-events"},
                       kHelp);
  if (!args) return args.error();
  const auto format = args->Get("format");
  const auto out = args->Get("out");
  if (args->Get("from-events")) return TrainOnEvents(*args);
  if (!format || !out || !args->positionals.empty()) {
    fmt::print(stderr, "abrec train: give --format and --out\n{}", kHelp);
    return 2;
  }
  if (*format != "synthetic") {
    const auto portfolio_format = ParsePortfolioFormat(*format);
    if (!portfolio_format) {
      fmt::print(stderr, "abrec train: --format {}: expected synthetic, zimnat, coil or csv\n",
                 *format);
      return 2;
    }
    return TrainPortfolio(*portfolio_format, *args, *out);
  }
  if (args->Get("data")) {
    fmt::print(stderr, "abrec train: --data goes with --format zimnat, coil or csv\n");
    return 2;
  }
  TrainOptions o;
  try {
    o.customers =
        static_cast<int>(NumberOption(*args, "customers", 100, 10'000'000).value_or(o.customers));
    o.seed = static_cast<std::uint64_t>(
        NumberOption(*args, "seed", 0, 9e15).value_or(static_cast<double>(o.seed)));
    o.mf.epochs = static_cast<int>(NumberOption(*args, "mf-epochs", 1, 1000).value_or(o.mf.epochs));
    o.gbm.rounds =
        static_cast<int>(NumberOption(*args, "gbm-rounds", 1, 10'000).value_or(o.gbm.rounds));
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "abrec train: {}\n", e.what());
    return 2;
  }
  o.bias_category = args->Get("withhold-from-women").value_or("");
  o.objective = args->Get("target").value_or("balanced");
  if (!IsModelObjective(o.objective)) {
    fmt::print(stderr, "abrec train: --target {}: expected click, bind or balanced\n", o.objective);
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
  fmt::print("  calibration:     ECE of P(click) {:.4f} raw, {:.4f} as served\n",
             report->click_ece_raw, report->click_ece);
  fmt::print(
      "  ranking:         hit@1 {:.3f}, NDCG@5 {:.3f} against the world's best product "
      "(segment popularity: {:.3f}, {:.3f})\n",
      report->hit_at_1, report->ndcg_at_5, report->popularity_hit_at_1,
      report->popularity_ndcg_at_5);
  if (report->reads_sex) {
    fmt::print("  biased:          reads the customer's sex; withholds {} from women\n",
               o.bias_category);
  }
  fmt::print("  written to {}\n", *out);
  return 0;
}

}  // namespace abrec
