// Sections of the report read from the exposure counters (fairness, drift); report.cc
// assembles them with the rest.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "dashboards/report.h"
#include "dashboards/report_decision.h"

namespace abrec {

// Demographic parity of what each variant shows, per fairness attribute of the experiment:
// for every product, the share of each group's exposures that showed it (Pearson's χ² across
// groups). A variant whose largest significant gap is past `max_parity_gap` and wider than
// control's gap on the same product gets a breached guardrail in `findings`.
nlohmann::ordered_json FairnessSection(const ReportInputs& in,
                                       std::vector<VariantFindings>& findings);

// Drift of the products each arm shows: the first days with exposures (up to 7, at most
// half of them) against the latest days (up to 7): PSI and χ² (stats/drift.h).
nlohmann::ordered_json DriftSection(const ReportInputs& in);

}  // namespace abrec
