// The importers on the real files of ../shared/data (never copied into the project):
// label "data", skipped when the folder is absent.
#include <algorithm>
#include <filesystem>

#include <doctest/doctest.h>

#include "recommender/portfolio/portfolio.h"

namespace abrec {

namespace fs = std::filesystem;

TEST_CASE("the real files import (data: ../shared/data, skipped when absent)") {
  const fs::path dir(ABREC_SHARED_DATA_DIR);
  if (!fs::exists(dir / "zimnat/train.csv") || !fs::exists(dir / "coil2000/ticdata2000.txt")) {
    MESSAGE("skipped: ", dir.string(), " is absent");
    return;
  }
  auto z = ImportZimnat((dir / "zimnat/train.csv").string());
  REQUIRE(z.has_value());
  CHECK(z->products.size() == 21);
  CHECK(z->customers.size() == 23'306);
  for (const auto& c : z->customers) {
    CHECK(std::count(c.holds.begin(), c.holds.end(), true) >= 2);  // per the data's README
  }
  auto coil = ImportCoil((dir / "coil2000/ticdata2000.txt").string(), true);
  REQUIRE(coil.has_value());
  CHECK(coil->customers.size() == 5'822);
  long caravan = 0;
  for (const auto& c : coil->customers) caravan += c.holds.back() ? 1 : 0;
  CHECK(caravan == 348);  // the CoIL training file's caravan owners (TicDataDescr.txt)
  auto eval = ImportCoil((dir / "coil2000/ticeval2000.txt").string(), false);
  REQUIRE(eval.has_value());
  CHECK(eval->customers.size() == 4'000);
}

}  // namespace abrec
