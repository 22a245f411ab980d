#include "recommender/portfolio/portfolio_training.h"

#include <chrono>
#include <filesystem>

#include <fmt/format.h>

namespace abrec {

PortfolioModelOptions DefaultModelOptions(PortfolioFormat format, std::uint64_t seed) {
  PortfolioModelOptions o;
  o.seed = seed;
  o.mf.seed = seed;
  o.gbm.seed = seed;
  o.rows = format == PortfolioFormat::kZimnat ? TrainingRows::kHideEachHeld
                                              : TrainingRows::kLeaveEachOut;
  if (format == PortfolioFormat::kCoil) {
    // CoIL's 6% of caravan owners are a noisy target: shallow, slowly learnt trees with
    // larger leaves (chosen on one repeat of the 5-fold cross-validation of ticdata2000).
    o.gbm.max_depth = 3;
    o.gbm.eta = 0.03;
    o.gbm.min_child_weight = 10;
  }
  return o;
}

std::vector<std::string> GroupAttributes(PortfolioFormat format) {
  if (format == PortfolioFormat::kCoil) return {"MGEMLEEF"};
  return {"sex"};
}

Result<PortfolioTrainReport> TrainPortfolioFolder(PortfolioFormat format,
                                                  const std::string& data_path,
                                                  const std::string& out_dir, std::uint64_t seed,
                                                  const Progress& progress) {
  const auto started = std::chrono::steady_clock::now();
  std::error_code ec;
  if (std::filesystem::exists(out_dir, ec)) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("{} exists: choose a new folder for the model", out_dir), "out"));
  }
  auto portfolio = ImportForTraining(format, data_path);
  if (!portfolio) return std::unexpected(portfolio.error());
  progress(fmt::format("{} portfolio {}: {} customers, {} products", PortfolioFormatName(format),
                       data_path, portfolio->customers.size(), portfolio->products.size()));
  PortfolioTrainReport report;
  report.customers = static_cast<long>(portfolio->customers.size());
  report.products = portfolio->products.size();
  const CustomerSplit split = SplitCustomers(portfolio->customers.size(), 0.2, seed);
  report.train_customers = static_cast<long>(split.train.size());
  auto model =
      PortfolioModel::Train(*portfolio, split.train, DefaultModelOptions(format, seed), progress);
  if (!model) return std::unexpected(model.error());
  const auto cases = HideOne(*portfolio, split.test, seed);
  report.test_cases = static_cast<long>(cases.size());
  const auto groups = GroupAttributes(format);
  auto scored = ScoreHiddenCases(*portfolio, cases, groups, ModelScorer(*model));
  if (!scored) return std::unexpected(scored.error());
  report.evaluation = ComputeHoldoutEvaluation(*scored);
  progress(
      fmt::format("evaluation: {} held-out customers with one held product hidden", cases.size()));
  report.version = model->version();
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const ModelRecord record{std::string(PortfolioFormatName(format)), data_path,
                           report.train_customers, report.seconds, report.evaluation};
  if (auto ok = model->Save(out_dir, record); !ok) return std::unexpected(ok.error());
  return report;
}

}  // namespace abrec
