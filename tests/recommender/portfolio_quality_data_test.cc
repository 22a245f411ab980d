// The offline protocols on the real files of ../shared/data (never copied into the project),
// reduced to stay under a minute: the Zimnat protocol on a seeded sample of 3,000 customers,
// and one repeat of a 3-fold CoIL cross-validation, both with fewer boosting rounds. The floors sit
// a little under what these reduced runs measure (bench/README.md has the full figures); they catch
// a model that stops learning, not noise. Label "data", skipped when the folder is absent.
#include <filesystem>

#include <doctest/doctest.h>

#include "recommender/portfolio/portfolio_evaluation.h"
#include "recommender/portfolio/portfolio_training.h"

namespace abrec {

namespace fs = std::filesystem;

// abrec train's settings with fewer boosting rounds (at a larger step) and epochs.
PortfolioModelOptions Reduced(PortfolioFormat format, std::uint64_t seed, double eta) {
  PortfolioModelOptions o = DefaultModelOptions(format, seed);
  o.gbm.rounds = 80;
  o.gbm.eta = eta;
  o.gbm.threads = 1;  // ctest runs two tests at a time on the two cores
  o.mf.epochs = 10;
  return o;
}

TEST_CASE("the Zimnat protocol on a sample (data: ../shared/data, skipped when absent)") {
  const fs::path file = fs::path(ABREC_SHARED_DATA_DIR) / "zimnat/train.csv";
  if (!fs::exists(file)) {
    MESSAGE("skipped: ", file.string(), " is absent");
    return;
  }
  auto portfolio = ImportZimnat(file.string());
  REQUIRE(portfolio.has_value());
  ZimnatOptions o;
  o.max_customers = 3'000;
  o.model = Reduced(PortfolioFormat::kZimnat, o.seed, 0.1);
  auto report = RunZimnatProtocol(*portfolio, o);
  REQUIRE(report.has_value());
  for (const ProtocolRow& r : report->rows) {
    MESSAGE(r.name, ": hit@1 ", r.metrics.hit1, ", hit@3 ", r.metrics.hit3, ", NDCG@5 ",
            r.metrics.ndcg5);
  }
  const HideOneMetrics& popularity = report->rows[0].metrics;
  const HideOneMetrics& full = report->rows.back().metrics;
  CHECK(popularity.hit1 > 0.70);
  CHECK(full.hit1 > 0.82);
  CHECK(full.ndcg5 > 0.90);
  CHECK(full.hit1 > popularity.hit1 + 0.06);
  CHECK(full.log_loss < 0.045);
  CHECK(full.ece < 0.01);
}

TEST_CASE("the CoIL protocol, one repeat (data: ../shared/data, skipped when absent)") {
  const fs::path file = fs::path(ABREC_SHARED_DATA_DIR) / "coil2000/ticdata2000.txt";
  if (!fs::exists(file)) {
    MESSAGE("skipped: ", file.string(), " is absent");
    return;
  }
  auto portfolio = ImportCoil(file.string(), true);
  REQUIRE(portfolio.has_value());
  CoilOptions o;
  o.repeats = 1;
  o.folds = 3;
  o.model = Reduced(PortfolioFormat::kCoil, o.seed, 0.08);
  auto report = RunCoilProtocol(*portfolio, o);
  REQUIRE(report.has_value());
  MESSAGE("top 20%: model ", report->model_mean, ", logistic ", report->logistic_mean);
  CHECK(report->model_mean > 0.40);
  CHECK(report->logistic_mean > 0.40);
}

}  // namespace abrec
