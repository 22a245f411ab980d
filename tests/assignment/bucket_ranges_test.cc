#include "assignment/bucket_ranges.h"

#include <doctest/doctest.h>

#include "growthbook_cases.h"

namespace abrec {

TEST_CASE("every getBucketRange case of GrowthBook's cross-SDK test file") {
  const auto& cases = testing::GrowthBookCases().at("getBucketRange");
  REQUIRE(cases.size() == 13);
  for (const auto& c : cases) {
    CAPTURE(c[0].get<std::string>());
    const auto& args = c[1];
    std::vector<double> weights;
    if (!args[2].is_null()) weights = args[2].get<std::vector<double>>();
    const auto ranges = GetBucketRanges(args[0].get<int>(), args[1].get<double>(), weights);
    const auto& expected = c[2];
    REQUIRE(ranges.size() == expected.size());
    for (std::size_t i = 0; i < ranges.size(); ++i) {
      // GrowthBook's own test rounds to 6 decimals before comparing.
      CHECK(ranges[i].start == doctest::Approx(expected[i][0].get<double>()).epsilon(1e-6));
      CHECK(ranges[i].end == doctest::Approx(expected[i][1].get<double>()).epsilon(1e-6));
    }
  }
}

TEST_CASE("every chooseVariation case of GrowthBook's cross-SDK test file") {
  const auto& cases = testing::GrowthBookCases().at("chooseVariation");
  REQUIRE(cases.size() == 13);
  for (const auto& c : cases) {
    CAPTURE(c[0].get<std::string>());
    std::vector<BucketRange> ranges;
    for (const auto& r : c[2]) ranges.push_back({r[0].get<double>(), r[1].get<double>()});
    CHECK(ChooseVariation(c[1].get<double>(), ranges) == c[3].get<int>());
  }
}

TEST_CASE("every inNamespace case of GrowthBook's cross-SDK test file") {
  const auto& cases = testing::GrowthBookCases().at("inNamespace");
  REQUIRE(cases.size() == 16);
  for (const auto& c : cases) {
    CAPTURE(c[0].get<std::string>());
    const NamespaceRange ns{c[2][0].get<std::string>(), c[2][1].get<double>(),
                            c[2][2].get<double>()};
    CHECK(InNamespace(c[1].get<std::string>(), ns) == c[3].get<bool>());
  }
}

TEST_CASE("range starts stay fixed when coverage ramps") {
  const std::vector<double> w = {0.2, 0.3, 0.5};
  const auto low = GetBucketRanges(3, 0.1, w);
  const auto high = GetBucketRanges(3, 0.5, w);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(low[i].start == high[i].start);
    CHECK(low[i].end <= high[i].end);
  }
}

}  // namespace abrec
