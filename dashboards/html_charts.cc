#include "dashboards/html_charts.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "dashboards/format.h"
#include "dashboards/html.h"

namespace abrec {
namespace {

using json = nlohmann::ordered_json;

struct Bar {
  std::string label;
  double value = 0;
  std::optional<double> low{}, high{};  // an interval drawn over the bar
  std::string text{};                   // the figure as written beside the bar
};

// Horizontal bars from 0 (or from the smallest value when some are negative), on a scale
// that reaches `min_high` at least (so that tiny values look tiny); `chart` names the chart
// in data-chart.
std::string BarChart(const std::string& chart, const std::vector<Bar>& bars, double min_high = 0) {
  if (bars.empty()) return "<div class=\"muted\">no data yet</div>";
  constexpr double kWidth = 620, kLabel = 150, kRow = 26, kRight = 190;
  double lo = 0, hi = min_high;
  for (const Bar& b : bars) {
    lo = std::min({lo, b.value, b.low.value_or(b.value)});
    hi = std::max({hi, b.value, b.high.value_or(b.value)});
  }
  if (hi - lo <= 0) hi = lo + 1;
  const double plot = kWidth - kLabel - kRight;
  auto x = [&](double v) { return kLabel + (v - lo) / (hi - lo) * plot; };
  const double height = kRow * static_cast<double>(bars.size()) + 8;
  std::string out =
      fmt::format("<svg data-chart=\"{}\" viewBox=\"0 0 {} {}\" width=\"100%\" role=\"img\">",
                  HtmlEscape(chart), kWidth, height);
  out += fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"0\" y2=\"{1}\" stroke=\"#9aa4b2\"/>",
                     x(0), height);
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const double y = 4 + kRow * static_cast<double>(i);
    const double x0 = std::min(x(0), x(b.value)), w = std::abs(x(b.value) - x(0));
    out += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>", kLabel - 6,
                       y + 15, HtmlEscape(b.label));
    out += fmt::format(
        "<rect class=\"mark\" data-label=\"{}\" data-value=\"{:.17g}\" x=\"{:.1f}\" y=\"{:.1f}\" "
        "width=\"{:.1f}\" height=\"18\" fill=\"#5b8fd6\"><title>{}: {}</title></rect>",
        HtmlEscape(b.label), b.value, x0, y, std::max(w, 0.5), HtmlEscape(b.label),
        HtmlEscape(b.text));
    if (b.low && b.high) {
      out += fmt::format(
          "<line class=\"interval\" data-label=\"{}\" data-low=\"{:.17g}\" data-high=\"{:.17g}\" "
          "x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#1d2430\" "
          "stroke-width=\"2\"/>",
          HtmlEscape(b.label), *b.low, *b.high, x(*b.low), x(*b.high), y + 9, y + 9);
    }
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>", kWidth - kRight + 6, y + 15,
                       HtmlEscape(b.text));
  }
  return out + "</svg>";
}

}  // namespace

std::string LiftHistoryChart(const json& r) {
  // One series per arm of the history's lifts (each variant against control, "all" against
  // the holdout): a line through the daily estimates and its always-valid band.
  // An end the data cannot bound yet is null in the JSON: ±inf here.
  auto end = [](const json& v, double unbounded) {
    return v.is_number() ? v.get<double>() : unbounded;
  };
  constexpr double kInf = std::numeric_limits<double>::infinity();
  struct Point {
    std::size_t day;
    double value, low, high, p;
  };
  std::map<std::string, std::vector<Point>> series;
  const json& days = r["history"];
  for (std::size_t d = 0; d < days.size(); ++d) {
    for (const auto& l : days[d]["lifts"]) {
      if (!l.contains("relative")) continue;
      series[l["arm"].get<std::string>()].push_back(
          {d, l["relative"].get<double>(), end(l["ci_sequential"][0], -kInf),
           end(l["ci_sequential"][1], kInf), l["p_value_sequential"].get<double>()});
    }
  }
  if (series.empty()) {
    return "<div class=\"muted\">no lift to draw yet: each arm needs users with outcomes</div>";
  }
  constexpr double kWidth = 900, kHeight = 260, kLeft = 60, kRight = 20, kTop = 10, kBottom = 30;
  double lo = 0, hi = 0;
  for (const auto& [arm, points] : series) {
    for (const Point& p : points) lo = std::min(lo, p.low), hi = std::max(hi, p.high);
  }
  // A band that runs off to ±inf early on would flatten the rest: clip at ±300%.
  lo = std::max(lo, -3.0), hi = std::min(hi, 3.0);
  if (hi - lo <= 0) hi = lo + 1;
  const double n = static_cast<double>(std::max<std::size_t>(days.size() - 1, 1));
  auto x = [&](std::size_t d) {
    return kLeft + static_cast<double>(d) / n * (kWidth - kLeft - kRight);
  };
  auto y = [&](double v) {
    v = std::clamp(v, lo, hi);
    return kTop + (hi - v) / (hi - lo) * (kHeight - kTop - kBottom);
  };
  std::string out = fmt::format(
      "<svg data-chart=\"lift-history\" viewBox=\"0 0 {} {}\" width=\"100%\" role=\"img\">", kWidth,
      kHeight);
  out += fmt::format(
      "<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#9aa4b2\"/>"
      "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">0%</text>",
      kLeft, kWidth - kRight, y(0), y(0), kLeft - 6, y(0) + 4);
  out += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>", kLeft - 6,
                     y(hi) + 10, FormatNumber(100 * hi, "{:+.0f}%"));
  out += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>", kLeft - 6, y(lo),
                     FormatNumber(100 * lo, "{:+.0f}%"));
  out += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>", kLeft, kHeight - 8,
                     HtmlEscape(days.front()["day"].get<std::string>()));
  out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", kWidth - kRight,
                     kHeight - 8, HtmlEscape(days.back()["day"].get<std::string>()));
  const char* colours[] = {"#1f5fbf", "#c2571a", "#2e8b57", "#7b3fa0"};
  std::size_t c = 0;
  for (const auto& [arm, points] : series) {
    const char* colour = colours[c++ % 4];
    std::string band_top, band_bottom, line;
    for (const Point& p : points) {
      band_top += fmt::format("{}{:.1f},{:.1f}", band_top.empty() ? "" : " ", x(p.day), y(p.high));
      band_bottom = fmt::format("{:.1f},{:.1f} ", x(p.day), y(p.low)) + band_bottom;
      line += fmt::format("{}{:.1f},{:.1f}", line.empty() ? "" : " ", x(p.day), y(p.value));
    }
    out += fmt::format("<polygon points=\"{} {}\" fill=\"{}\" fill-opacity=\"0.15\"/>", band_top,
                       band_bottom, colour);
    out += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>",
                       line, colour);
    for (const Point& p : points) {
      const std::string day = HtmlEscape(days[p.day]["day"].get<std::string>());
      out += fmt::format(
          "<circle class=\"mark\" data-label=\"{}\" data-day=\"{}\" data-value=\"{:.17g}\" "
          "data-low=\"{}\" data-high=\"{}\" data-p=\"{:.17g}\" cx=\"{:.1f}\" cy=\"{:.1f}\" "
          "r=\"3\" fill=\"{}\"><title>{} {}: {} ({} to {}, p {:.3g})</title></circle>",
          HtmlEscape(arm), day, p.value, AttributeNumber(p.low), AttributeNumber(p.high), p.p,
          x(p.day), y(p.value), colour, HtmlEscape(arm), day,
          FormatNumber(100 * p.value, "{:+.1f}%"), FormatBound(p.low, 1), FormatBound(p.high, 1),
          p.p);
    }
    out += fmt::format("<text x=\"{}\" y=\"{:.1f}\" style=\"fill:{}\">{}</text>",
                       kWidth - kRight - 150, kTop + 14 * static_cast<double>(c), colour,
                       HtmlEscape(arm == "all" ? "program vs holdout" : arm + " vs control"));
  }
  return out + "</svg>";
}

std::string PrimaryPerArmChart(const json& r) {
  // The primary metric's value in each arm, from the uplift rows (holdout and every arm).
  const std::string primary = r["definition"]["primary"].get<std::string>();
  std::vector<Bar> bars;
  bool holdout = false;
  for (const auto& u : r["uplift_vs_holdout"]) {
    if (u["metric"] != primary || !u["value"].is_number()) continue;
    if (!holdout && u["holdout_value"].is_number()) {
      const double v = u["holdout_value"].get<double>();
      bars.push_back({"holdout", v, std::nullopt, std::nullopt, FormatNumber(v, "{:.4g}")});
      holdout = true;
    }
    const double v = u["value"].get<double>();
    bars.push_back(
        {u["arm"].get<std::string>(), v, std::nullopt, std::nullopt, FormatNumber(v, "{:.4g}")});
  }
  return BarChart("primary-per-arm", bars);
}

std::string BucketChart(const json& r) {
  std::vector<Bar> bars;
  for (const auto& [name, b] : r["buckets"].items()) {
    const auto users = b["users"].get<double>();
    bars.push_back({name, users, std::nullopt, std::nullopt, FormatNumber(users, "{:.0f}")});
  }
  const json& srm = r["srm"];
  return BarChart("buckets", bars) +
         (srm.contains("reason")
              ? "<div class=\"muted\">sample ratio: " +
                    HtmlEscape(srm["reason"].get<std::string>()) + "</div>"
              : fmt::format("<div class=\"{}\">sample ratio: χ² p = {} ({})</div>",
                            srm["ok"].get<bool>() ? "good" : "bad",
                            FormatNumber(srm["p_value"].get<double>(), "{:.3g}"),
                            srm["ok"].get<bool>() ? "as promised" : "MISMATCH"));
}

std::string FairnessChart(const json& r) {
  const json& fair = r["fairness"];
  std::vector<Bar> bars;
  for (const auto& [arm, attributes] : fair["arms"].items()) {
    for (const auto& [attribute, a] : attributes.items()) {
      if (!a.contains("worst")) continue;
      const double gap = a["worst"].is_null() ? 0 : a["worst"]["gap"].get<double>();
      std::string text =
          a["worst"].is_null() ? "no product shown" : a["worst"]["product"].get<std::string>();
      if (a.value("breached", false)) text += " BREACHED";
      bars.push_back({arm + " · " + attribute, gap, std::nullopt, std::nullopt,
                      FormatNumber(gap, "{:.3f}") + " " + text});
    }
  }
  std::string note = fmt::format(
      "share of each group's users shown the product; limit: a gap of {} between groups, "
      "breached only when also significantly wider than control's (always valid, level {})",
      FormatNumber(fair["max_parity_gap"].get<double>(), "{:.2f}"),
      FormatNumber(fair["level"], "{:.3g}", "-"));
  if (fair["since"].is_string())
    note += "; users counted since " + fair["since"].get<std::string>();
  if (fair.contains("counted_per_exposure")) {
    note += ". " + fair["counted_per_exposure"]["note"].get<std::string>();
  }
  return BarChart("fairness", bars, 1.5 * fair["max_parity_gap"].get<double>()) +
         "<div class=\"muted\">" + HtmlEscape(note) + "</div>";
}

std::string DriftChart(const json& r) {
  std::vector<Bar> bars;
  for (const auto& [arm, d] : r["drift"]["arms"].items()) {
    if (!d.contains("psi")) continue;
    const double psi = d["psi"].get<double>();
    bars.push_back({arm, psi, std::nullopt, std::nullopt,
                    FormatNumber(psi, "{:.3f}") + " " + d["status"].get<std::string>()});
  }
  return BarChart("drift", bars, 0.3) +
         "<div class=\"muted\">watch above 0.1, alert above 0.25; needs two days</div>";
}

std::string LatencyChart(const json& r) {
  std::vector<Bar> bars;
  for (const auto& [arm, a] : r["latency"]["arms"].items()) {
    if (!a["p99_ms"].is_number()) continue;
    const double p99 = a["p99_ms"].get<double>();
    bars.push_back({arm, p99, std::nullopt, std::nullopt,
                    FormatNumber(p99, "{:.3g}") + " ms, fallback " +
                        FormatNumber(100 * a["fallback_rate"].get<double>(), "{:.1f}%")});
  }
  return BarChart("latency", bars) +
         fmt::format("<div class=\"muted\">since {}</div>",
                     HtmlEscape(r["latency"]["since"].get<std::string>()));
}

}  // namespace abrec
