#include "tests/stats/reference_values.h"

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace abrec::stats {

const nlohmann::json& Reference() {
  static const nlohmann::json kReference = [] {
    const char* path = std::getenv("ABREC_STATS_REFERENCE");
    if (!path) {
      throw std::runtime_error(
          "ABREC_STATS_REFERENCE is not set: run through tests/stats/run_with_reference.py "
          "(ctest does)");
    }
    std::ifstream in(path);
    return nlohmann::json::parse(in);
  }();
  return kReference;
}

}  // namespace abrec::stats
