// `abrec train --format zimnat|coil|csv`: a portfolio model trained on a seeded 80% of the
// file's customers, evaluated on the other 20% by the hidden-product protocol (overall, by
// sex and by age band; CoIL: by MGEMLEEF, the average age class), and written as a model
// folder (portfolio_model.h) with that evaluation in its metadata.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "recommender/portfolio/portfolio_evaluation.h"
#include "recommender/portfolio/portfolio_formats.h"
#include "recommender/portfolio/portfolio_model.h"

namespace abrec {

// The model's settings for a format. Zimnat keeps only customers with two or more products,
// so its training rows hide one held product (as the protocol does); CoIL and CSV portfolios
// are not filtered that way, so their rows are each product left out in turn (the
// conditional that, for CoIL, is the caravan propensity).
PortfolioModelOptions DefaultModelOptions(PortfolioFormat format, std::uint64_t seed);
// The attributes the evaluation is broken down by (besides the age band, when ages are known).
std::vector<std::string> GroupAttributes(PortfolioFormat format);

struct PortfolioTrainReport {
  std::string version;
  long customers = 0, train_customers = 0, test_cases = 0;
  std::size_t products = 0;
  HoldoutEvaluation evaluation;
  double seconds = 0;
};

// Imports `data_path`, trains, evaluates and writes the folder `out_dir` (which must not
// exist). Errors: the importer's (FILE:LINE:COL), kInvalidArgument for an existing folder or
// too little data, kIo.
Result<PortfolioTrainReport> TrainPortfolioFolder(PortfolioFormat format,
                                                  const std::string& data_path,
                                                  const std::string& out_dir, std::uint64_t seed,
                                                  const Progress& progress);

}  // namespace abrec
