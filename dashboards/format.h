// The report's figures as text, one definition for the text report (ASCII "-" for a missing
// figure, percentages to 2 decimals) and the HTML pages ("–", 1 decimal in tables, whole
// percents on chart axes).
#pragma once

#include <cmath>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace abrec {

// `v` with a fmt format, e.g. "{:.4g}".
inline std::string FormatNumber(double v, const char* format) {
  return fmt::format(fmt::runtime(format), v);
}

// A JSON figure with `format`, or `missing` when it is not a number (null: not computed).
inline std::string FormatNumber(const nlohmann::ordered_json& v, const char* format,
                                std::string_view missing) {
  return v.is_number() ? FormatNumber(v.get<double>(), format) : std::string(missing);
}

// A JSON fraction as a signed percentage with `decimals` decimals ("+12.5%"), or `missing`.
inline std::string FormatPercent(const nlohmann::ordered_json& v, int decimals,
                                 std::string_view missing) {
  return v.is_number() ? fmt::format("{:+.{}f}%", 100 * v.get<double>(), decimals)
                       : std::string(missing);
}

// An interval's end as a signed percentage, or "unbounded" for ±inf (an end the data cannot
// bound yet; null in the JSON).
inline std::string FormatBound(double v, int decimals) {
  return std::isfinite(v) ? fmt::format("{:+.{}f}%", 100 * v, decimals) : "unbounded";
}
inline std::string FormatBound(const nlohmann::ordered_json& v, int decimals) {
  return v.is_number() ? FormatBound(v.get<double>(), decimals) : "unbounded";
}

// A number for a data-* attribute, exactly; ±inf as JavaScript's parseFloat reads it.
inline std::string AttributeNumber(double v) {
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return fmt::format("{:.17g}", v);
}

}  // namespace abrec
