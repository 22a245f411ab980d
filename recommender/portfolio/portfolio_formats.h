// The portfolio file formats the training and scoring commands read, by name: "zimnat"
// (ImportZimnat), "coil" (ImportCoil: ticdata2000 with its CARAVAN column, or ticeval2000
// without) and "csv" (abrec's own, ImportCsvPortfolio).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "recommender/portfolio/portfolio.h"

namespace abrec {

enum class PortfolioFormat { kZimnat, kCoil, kCsv };

std::optional<PortfolioFormat> ParsePortfolioFormat(std::string_view name);
std::string_view PortfolioFormatName(PortfolioFormat format);

// A training file: every customer's full holdings. CoIL: the 86-column training file.
Result<Portfolio> ImportForTraining(PortfolioFormat format, const std::string& path);

// A file to score with a model trained on `products`: the result has exactly those products,
// in that order. A product of the file the model does not know is an error (its name and the
// file); a model product the file lacks counts as not held. CoIL: 85 columns (ticeval2000) or
// 86 (ticdata2000, whose CARAVAN column, the value to predict, is then ignored).
Result<Portfolio> ImportForScoring(PortfolioFormat format, const std::string& path,
                                   const std::vector<std::string>& products);

}  // namespace abrec
