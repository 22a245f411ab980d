#include "stats/winsorize.h"

#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/stats/reference_values.h"

namespace abrec::stats {

TEST_CASE("quantiles equal numpy's (linear interpolation), and winsorising caps at them") {
  // numpy.quantile(values, q) with its default method (tests/stats/reference.py).
  for (const auto& c : Reference()["quantiles"]) {
    const auto v = c["values"].get<std::vector<double>>();
    for (const auto& [q, expected] : c["q"].items()) {
      CAPTURE(q);
      CHECK(Quantile(v, std::stod(q)) == doctest::Approx(expected.get<double>()).epsilon(1e-12));
    }
    double cap = 0;
    const auto w = Winsorize(v, 0.99, &cap);
    CHECK(cap == doctest::Approx(c["q"]["0.99"].get<double>()).epsilon(1e-12));
    for (std::size_t i = 0; i < v.size(); ++i) CHECK(w[i] == std::min(v[i], cap));
  }
  CHECK(Quantile(std::vector<double>{}, 0.5) == 0);
}

}  // namespace abrec::stats
