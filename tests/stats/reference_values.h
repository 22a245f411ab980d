// The reference values of tests/stats/reference.py (scipy, statsmodels), read from the file
// named by ABREC_STATS_REFERENCE (tests/stats/run_with_reference.py sets it).
#pragma once

#include <nlohmann/json.hpp>

namespace abrec::stats {

const nlohmann::json& Reference();

}  // namespace abrec::stats
