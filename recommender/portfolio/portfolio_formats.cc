#include "recommender/portfolio/portfolio_formats.h"

#include <algorithm>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "recommender/portfolio/csv_portfolio.h"

namespace abrec {
namespace {

constexpr std::string_view kCoilTarget = "CARAVAN";

// Re-indexes `p`'s holdings onto `products`.
Result<Portfolio> Align(Portfolio p, const std::vector<std::string>& products,
                        const std::string& path) {
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < products.size(); ++i) index[products[i]] = i;
  std::vector<std::size_t> to(p.products.size());
  for (std::size_t i = 0; i < p.products.size(); ++i) {
    const auto it = index.find(p.products[i]);
    if (it == index.end()) {
      return std::unexpected(Error::InvalidArgument(
          fmt::format("{}:1:1: product \"{}\" is not one of the model's {} products", path,
                      p.products[i], products.size()),
          "products"));
    }
    to[i] = it->second;
  }
  for (PortfolioCustomer& c : p.customers) {
    std::vector<bool> holds(products.size(), false);
    for (std::size_t i = 0; i < to.size(); ++i) holds[to[i]] = c.holds[i];
    c.holds = std::move(holds);
  }
  p.products = products;
  return p;
}

// How many tab-separated fields the first line has (0 for an unreadable or empty file).
std::size_t FirstLineFields(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  if (!std::getline(in, line) || line.empty()) return 0;
  return static_cast<std::size_t>(std::count(line.begin(), line.end(), '\t')) + 1;
}

}  // namespace

std::optional<PortfolioFormat> ParsePortfolioFormat(std::string_view name) {
  if (name == "zimnat") return PortfolioFormat::kZimnat;
  if (name == "coil") return PortfolioFormat::kCoil;
  if (name == "csv") return PortfolioFormat::kCsv;
  return std::nullopt;
}

std::string_view PortfolioFormatName(PortfolioFormat format) {
  switch (format) {
    case PortfolioFormat::kZimnat: return "zimnat";
    case PortfolioFormat::kCoil: return "coil";
    case PortfolioFormat::kCsv: return "csv";
  }
  return "?";
}

Result<Portfolio> ImportForTraining(PortfolioFormat format, const std::string& path) {
  switch (format) {
    case PortfolioFormat::kZimnat: return ImportZimnat(path);
    case PortfolioFormat::kCoil: return ImportCoil(path, true);
    case PortfolioFormat::kCsv: return ImportCsvPortfolio(path);
  }
  return std::unexpected(Error::InvalidArgument("unknown format", "format"));
}

Result<Portfolio> ImportForScoring(PortfolioFormat format, const std::string& path,
                                   const std::vector<std::string>& products) {
  Result<Portfolio> p;
  switch (format) {
    case PortfolioFormat::kZimnat: p = ImportZimnat(path); break;
    case PortfolioFormat::kCsv:
      return ImportCsvPortfolio(path, {.limits = {}, .products = products});
    case PortfolioFormat::kCoil: {
      const bool with_target = FirstLineFields(path) == 86;
      p = ImportCoil(path, with_target);
      if (!p) return p;
      // The target is what the model predicts: whatever the file says of it is not input.
      if (with_target) {
        for (PortfolioCustomer& c : p->customers) c.holds.pop_back();
        p->products.pop_back();
      }
      break;
    }
  }
  if (!p) return p;
  if (format == PortfolioFormat::kCoil &&
      std::find(products.begin(), products.end(), kCoilTarget) == products.end()) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("the model has no {} product: it was not trained on CoIL data", kCoilTarget),
        "model"));
  }
  return Align(*std::move(p), products, path);
}

}  // namespace abrec
