// The HTML dashboards, rendered on the server from the report JSON (report.h) so that the
// page and the API cannot disagree: charts are inline SVG whose marks carry their figures in
// data-* attributes (data-value, data-low, data-high), and the page needs no script, font or
// style from anywhere else.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace abrec {

// One experiment's page: the decision and its reasons first, then the charts (cumulative
// lift with its confidence sequence, the primary metric per arm, bucket sizes, fairness,
// drift, latency) and the tables behind them.
std::string RenderReportHtml(const nlohmann::ordered_json& report);

// The index: every experiment with its phase, decision and reasons, linking to its page.
// `reports` are not null.
std::string RenderIndexHtml(const std::vector<const nlohmann::ordered_json*>& reports);

// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string HtmlEscape(std::string_view text);

}  // namespace abrec
