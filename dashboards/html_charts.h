// The dashboards' charts: inline SVG from the report JSON. Every mark carries the figure it
// draws (data-value; an interval's data-low and data-high) and its label (data-label), so a
// browser test can compare what is drawn with the JSON.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace abrec {

std::string LiftHistoryChart(const nlohmann::ordered_json& report);
std::string PrimaryPerArmChart(const nlohmann::ordered_json& report);
std::string BucketChart(const nlohmann::ordered_json& report);
std::string FairnessChart(const nlohmann::ordered_json& report);
std::string DriftChart(const nlohmann::ordered_json& report);
std::string LatencyChart(const nlohmann::ordered_json& report);

}  // namespace abrec
