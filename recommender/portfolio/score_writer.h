// `abrec recommend`: a trained portfolio model's scores for the customers of a file, in the
// layout of the file's format:
//   zimnat  `ID X PCODE,Label`: a row per customer and product they do not hold, Label the
//           probability that they take it (the Zindi challenge's submission layout);
//   coil    `customer,score`: a row per customer, customer the 1-based row of the input file,
//           score the probability of owning a caravan policy;
//   csv     `customer_id,product_id,score`: a row per customer and product not held.
// Written as FILE.partial and renamed when complete.
#pragma once

#include <string>

#include "base/error.h"
#include "recommender/portfolio/portfolio.h"
#include "recommender/portfolio/portfolio_formats.h"
#include "recommender/portfolio/portfolio_model.h"

namespace abrec {

// `portfolio` has the model's products (ImportForScoring). Returns the rows written.
// Errors: kIo, the model's errors.
Result<long> WriteScores(PortfolioFormat format, PortfolioModel& model, const Portfolio& portfolio,
                         const std::string& path);

}  // namespace abrec
