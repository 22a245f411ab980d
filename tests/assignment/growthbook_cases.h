// Loads tests/assignment/data/growthbook_cases.json: the hash, getBucketRange,
// chooseVariation and inNamespace cases of GrowthBook's cross-SDK test file
// (growthbook/growthbook, packages/sdk-js/test/cases.json, MIT License), transcribed verbatim.
#pragma once

#include <fstream>

#include <nlohmann/json.hpp>

namespace abrec::testing {

inline const nlohmann::json& GrowthBookCases() {
  static const nlohmann::json cases = [] {
    std::ifstream f(ABREC_SOURCE_DIR "/tests/assignment/data/growthbook_cases.json");
    return nlohmann::json::parse(f);
  }();
  return cases;
}

}  // namespace abrec::testing
