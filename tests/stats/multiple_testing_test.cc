#include "stats/multiple_testing.h"

#include <vector>

#include <doctest/doctest.h>

#include "tests/stats/reference_values.h"

namespace abrec::stats {

TEST_CASE("Holm and Benjamini-Hochberg equal statsmodels' multipletests") {
  // statsmodels.stats.multitest.multipletests(p, method="holm" / "fdr_bh").
  for (const auto& c : Reference()["adjusted"]) {
    CAPTURE(c.dump());
    const auto p = c["p"].get<std::vector<double>>();
    const auto holm = HolmAdjusted(p);
    const auto bh = BenjaminiHochbergAdjusted(p);
    REQUIRE(holm.size() == p.size());
    for (std::size_t i = 0; i < p.size(); ++i) {
      CHECK(holm[i] == doctest::Approx(c["holm"][i].get<double>()).epsilon(1e-12));
      CHECK(bh[i] == doctest::Approx(c["bh"][i].get<double>()).epsilon(1e-12));
    }
  }
  CHECK(HolmAdjusted(std::vector<double>{}).empty());
}

}  // namespace abrec::stats
