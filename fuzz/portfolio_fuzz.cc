// Fuzzes the portfolio file readers (recommender/portfolio/portfolio_formats.h): the first byte picks
// the format (abrec's CSV, Zimnat, CoIL with or without CARAVAN) and whether the products
// are the file's or a model's list; the rest is the file, written to a memfd that the reader
// opens by its /proc/self/fd path. An imported portfolio must be consistent.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "recommender/portfolio/csv_portfolio.h"
#include "recommender/portfolio/portfolio.h"
#include "recommender/portfolio/portfolio_formats.h"

namespace {

// One memfd per process, rewritten for each input.
const std::string& FilePath(const std::uint8_t* data, std::size_t size) {
  static const int fd = [] {
    const int f = ::memfd_create("abrec-portfolio-fuzz", 0);
    if (f < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    return f;
  }();
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (::ftruncate(fd, 0) != 0) std::abort();
  std::size_t done = 0;
  while (done < size) {
    const auto n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<std::size_t>(n);
  }
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace abrec;
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  const std::string& path = FilePath(data + 1, size - 1);
  const std::vector<std::string> csv_products = {"funeral", "life", "motor"};
  const std::vector<std::string> zimnat_products = {"K6QO", "P5DA", "RIBP"};
  const bool scoring = (selector & 4) != 0;
  Result<Portfolio> portfolio = std::unexpected(Error::InvalidArgument("unset", ""));
  switch (selector & 3) {
    case 0: {
      CsvImportOptions options;
      if (scoring) options.products = csv_products;
      portfolio = ImportCsvPortfolio(path, options);
      break;
    }
    case 1:
      portfolio = scoring ? ImportForScoring(PortfolioFormat::kZimnat, path, zimnat_products)
                          : ImportZimnat(path);
      break;
    case 2: portfolio = ImportCoil(path, true); break;
    case 3: portfolio = ImportCoil(path, false); break;
  }
  if (!portfolio) {
    if (portfolio.error().message.empty()) std::abort();
    return 0;
  }
  for (const auto& c : portfolio->customers) {
    if (c.id.empty() || c.holds.size() != portfolio->products.size()) std::abort();
  }
  return 0;
}
