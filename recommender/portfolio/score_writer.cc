#include "recommender/portfolio/score_writer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

namespace abrec {

Result<long> WriteScores(PortfolioFormat format, PortfolioModel& model, const Portfolio& portfolio,
                         const std::string& path) {
  const std::string tmp = path + ".partial";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) {
    return std::unexpected(Error{ErrorCode::kIo, fmt::format("cannot write {}", tmp), "output"});
  }
  const auto& products = model.products();
  const auto target = static_cast<std::size_t>(
      std::find(products.begin(), products.end(), "CARAVAN") - products.begin());
  switch (format) {
    case PortfolioFormat::kZimnat: out << "ID X PCODE,Label\n"; break;
    case PortfolioFormat::kCoil: out << "customer,score\n"; break;
    case PortfolioFormat::kCsv: out << "customer_id,product_id,score\n"; break;
  }
  long rows = 0;
  for (std::size_t i = 0; i < portfolio.customers.size(); ++i) {
    const PortfolioCustomer& c = portfolio.customers[i];
    auto scores = model.Score(c);
    if (!scores) return std::unexpected(scores.error());
    if (format == PortfolioFormat::kCoil) {
      if (target < products.size()) {
        out << fmt::format("{},{:.6f}\n", i + 1, scores->probability[target]);
        ++rows;
      }
      continue;
    }
    for (std::size_t p = 0; p < products.size(); ++p) {
      if (c.holds[p]) continue;
      if (format == PortfolioFormat::kZimnat) {
        out << fmt::format("{} X {},{:.6f}\n", c.id, products[p], scores->probability[p]);
      } else {
        out << fmt::format("{},{},{:.6f}\n", c.id, products[p], scores->probability[p]);
      }
      ++rows;
    }
  }
  out.close();
  std::error_code ec;
  if (!out || (std::filesystem::rename(tmp, path, ec), ec)) {
    return std::unexpected(Error{ErrorCode::kIo, fmt::format("cannot write {}", path), "output"});
  }
  return rows;
}

}  // namespace abrec
