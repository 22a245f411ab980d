// A portfolio as the importers read it: the products, the customers' attributes (as text,
// by column name) and what each customer holds. Importers for the real formats:
//   - Zimnat (Zindi "Zimnat Insurance Recommendation Challenge", train.csv): ID, join_date,
//     sex, marital_status, birth_year, branch_code, occupation_code,
//     occupation_category_code, then one 0/1 column per product;
//   - CoIL 2000 (UCI "Insurance Company Benchmark"): tab-separated, 85 or 86 integer columns:
//     the 43 socio-demographic columns are the attributes, the 21 policy-count columns
//     (65..85) and, in the training file, CARAVAN (86) are the holdings (count > 0).
// Bad input is an Error naming FILE:LINE:COL and the column.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"

namespace abrec {

struct PortfolioCustomer {
  std::string id;
  std::optional<int> age;  // Zimnat: join year − birth year; CoIL: unknown (age bands only)
  std::map<std::string, std::string> attributes;
  std::vector<bool> holds;  // per product of the portfolio
};

struct Portfolio {
  std::vector<std::string> products;
  std::vector<PortfolioCustomer> customers;
};

struct ImportLimits {
  std::size_t max_bytes = std::size_t{1} << 30;  // 1 GiB
  std::size_t max_line = 1 << 16;
};

Result<Portfolio> ImportZimnat(const std::string& path, const ImportLimits& limits = {});
// `with_target`: the training file (86 columns, CARAVAN held or not); else 85 columns and
// the caravan product is not part of the portfolio.
Result<Portfolio> ImportCoil(const std::string& path, bool with_target,
                             const ImportLimits& limits = {});

}  // namespace abrec
