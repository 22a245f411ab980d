// abrec's own portfolio CSV, for portfolios that are neither Zimnat nor CoIL:
//
//   customer_id,age,sex,region,occupation,holdings
//   c-0001,34,F,harare,teacher,motor;funeral
//   c-0002,,M,bulawayo,,
//
// - The header is exactly that line. One customer per line after it; UTF-8 (or ASCII), LF or
//   CRLF line ends; blank lines are skipped. No quoting: a field cannot hold `,` or `"`.
// - customer_id: 1 to 64 characters of [A-Za-z0-9_.:-], unique in the file.
// - age: empty (unknown) or a whole number of years, 0 to 120.
// - sex, region, occupation: free text up to 64 characters, empty when unknown; they become
//   the customer's attributes of those names.
// - holdings: the products the customer holds, `;`-separated product ids (1 to 64
//   characters of [A-Za-z0-9_.-]), each at most once; empty when they hold nothing.
// The portfolio's products are the ids seen, sorted, unless the caller gives the list (a
// trained model's), in which case an id outside it is an error. Every error names
// FILE:LINE:COL (1-based, COL in bytes) and the column.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "recommender/portfolio/portfolio.h"

namespace abrec {

inline constexpr const char* kCsvPortfolioHeader = "customer_id,age,sex,region,occupation,holdings";

struct CsvImportOptions {
  ImportLimits limits;
  std::vector<std::string> products;  // empty: the ids the file holds
};

Result<Portfolio> ImportCsvPortfolio(const std::string& path, const CsvImportOptions& options = {});

}  // namespace abrec
