// The dashboards' pages: layout, tables and words. The charts are in html_charts.cc.
#include <limits>
#include <string>

#include <fmt/format.h>

#include "dashboards/alerts.h"
#include "dashboards/format.h"
#include "dashboards/html.h"
#include "dashboards/html_charts.h"

namespace abrec {
namespace {

using json = nlohmann::ordered_json;

constexpr const char* kStyle = R"(
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1.5em;
       color: #1d2430; background: #fafbfc; }
h1 { font-size: 1.6em; margin: 0 0 .2em; } h2 { font-size: 1.15em; margin: 1.6em 0 .5em; }
.muted { color: #5b6675; } a { color: #1f5fbf; }
.decision { border-radius: 8px; padding: 1em 1.2em; margin: 1em 0; border: 1px solid #d4dae3; }
.decision .code { font-size: 1.4em; font-weight: 700; letter-spacing: .02em; }
.ship { background: #e7f6ec; border-color: #7cc49a; } .continue { background: #eef3fb; }
.stop_guardrail, .clickbait, .untrustworthy_srm { background: #fdecec; border-color: #e39b9b; }
table { border-collapse: collapse; width: 100%; background: #fff; margin: .4em 0 1em; }
th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #e3e7ee; }
th { font-weight: 600; color: #3a4452; background: #f2f4f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 1em; }
.card { background: #fff; border: 1px solid #e3e7ee; border-radius: 8px; padding: .8em 1em; }
svg text { font: 12px system-ui, sans-serif; fill: #3a4452; }
.bad { color: #b3261e; font-weight: 600; } .good { color: #1e7b46; font-weight: 600; }
)";

// What each decision code means, for someone who has not read the JSON.
std::string_view Meaning(std::string_view code) {
  if (code == "ship") return "The treatment wins on the primary metric: roll it out.";
  if (code == "continue") return "No conclusion yet: keep the experiment running.";
  if (code == "stop_guardrail") return "A guardrail was breached: stop the treatment.";
  if (code == "clickbait") {
    return "The treatment gets more clicks but fewer sales: it recommends what attracts, not "
           "what customers buy. Do not ship it.";
  }
  if (code == "untrustworthy_srm") {
    return "The groups are not the sizes they should be: the data cannot be trusted until the "
           "cause is found.";
  }
  return "";
}

std::string Num(const json& v, const char* format = "{:.4g}") {
  return FormatNumber(v, format, "–");
}

std::string Pct(const json& v) { return FormatPercent(v, 1, "–"); }

std::string Str(const json& v) { return HtmlEscape(v.is_string() ? v.get<std::string>() : ""); }

// o[key], or null when `o` has no such member. For the members a report writes only in some
// states (a guardrail without data has a reason and no relative_change): nlohmann::json's
// const operator[] requires the key to exist (an assertion; undefined behaviour under NDEBUG).
const json& Member(const json& o, std::string_view key) {
  static const json kNull;
  const auto it = o.find(key);
  return it == o.end() ? kNull : *it;
}

std::string DecisionBox(const json& r) {
  const std::string code = r["decision"]["code"].get<std::string>();
  std::string out = fmt::format(
      "<div class=\"decision {0}\" data-decision=\"{0}\"><div class=\"code\">{1}</div>"
      "<div>{2}</div><ul>",
      HtmlEscape(code), HtmlEscape(code), HtmlEscape(Meaning(code)));
  for (const auto& reason : r["decision"]["reasons"]) out += "<li>" + Str(reason) + "</li>";
  return out + "</ul></div>";
}

std::string MetricsTable(const json& r) {
  std::string out =
      fmt::format("<table data-table=\"metrics\" data-alpha=\"{}\">",
                  AttributeNumber(r["definition"]["alpha"].get<double>())) +
      "<tr><th>metric</th><th>variant</th><th>value</th><th>control</th>"
      "<th>relative lift</th><th>interval (always valid)</th><th>p (always valid)</th>"
      "<th>adjusted p</th></tr>";
  for (const auto& m : r["metrics"]) {
    const json& rel = m["relative"];
    const bool has = !rel.contains("reason");
    const bool interval = has && rel["ci_sequential"].is_array();
    // The always-valid interval and p-value of the relative lift (the p-value is the
    // absolute effect's too; Bonferroni-adjusted over the treatments on the primary metric):
    // the row carries them for checks (p < alpha exactly when the interval excludes 0).
    std::string data;
    if (interval && rel["p_value_sequential"].is_number()) {
      auto end = [](const json& v, double unbounded) {
        return AttributeNumber(v.is_number() ? v.get<double>() : unbounded);
      };
      constexpr double kInf = std::numeric_limits<double>::infinity();
      data = fmt::format(" class=\"effect\" data-low=\"{}\" data-high=\"{}\" data-p=\"{}\"",
                         end(rel["ci_sequential"][0], -kInf), end(rel["ci_sequential"][1], kInf),
                         AttributeNumber(rel["p_value_sequential"].get<double>()));
    }
    out += fmt::format(
        "<tr{}><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
        "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
        "<td class=\"num\">{}</td></tr>",
        data, Str(m["metric"]), Str(m["variant"]), Num(m["value"]), Num(m["baseline_value"]),
        has ? Pct(rel["estimate"]) : Str(rel["reason"]),
        interval ? fmt::format("{} to {}", FormatBound(rel["ci_sequential"][0], 1),
                               FormatBound(rel["ci_sequential"][1], 1))
                 : "–",
        has && rel["p_value_sequential"].is_number() ? Num(rel["p_value_sequential"], "{:.3g}")
                                                     : "–",
        Num(m["p_value_adjusted"], "{:.3g}"));
  }
  out += "</table>";
  for (const auto& m : r["metrics"]) {
    if (const auto u = m.find("unpriced_binds"); u != m.end() && u->contains("note")) {
      out +=
          fmt::format("<div class=\"muted\">{}: {} unpriced binds in {}, {} in control: {}.</div>",
                      Str(m["metric"]), Num((*u)["variant"]), Str(m["variant"]),
                      Num((*u)["baseline"]), Str((*u)["note"]));
    }
  }
  return out;
}

std::string GuardrailTable(const json& r) {
  std::string out =
      "<table><tr><th>guardrail</th><th>variant</th><th>figure</th><th>limit</th><th>state</th>"
      "</tr>";
  for (const auto& g : r["guardrails"]) {
    const bool op = g["kind"] == "operational";
    const std::string figure =
        op ? Num(Member(g, "value")) : Pct(Member(g, "relative_change"));
    const std::string limit =
        op ? (g.contains("max") ? "max " + Num(g["max"]) : "min " + Num(Member(g, "min")))
           : Pct(Member(g, "limit"));
    const json& breached = Member(g, "breached");
    const std::string status = g.contains("status") ? g["status"].get<std::string>()
                               : breached.is_boolean() ? (breached.get<bool>() ? "breached" : "ok")
                                                       : "";
    const std::string state = status.empty()
                                  ? Str(Member(g, "reason"))
                                  : fmt::format("<span class=\"{}\">{}</span>",
                                                status == "breached" || status == "failed" ? "bad"
                                                : status == "pending"                      ? "muted"
                                                                                           : "good",
                                                HtmlEscape(status));
    out += fmt::format(
        "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}"
        "</td><td>{}</td></tr>",
        Str(g["metric"]), Str(g["variant"]), figure, limit, state);
  }
  return out + "</table>";
}

// The shadow phase's sanity checks: per variant, eligibility violations, the time its list
// took, and what it would have shown against what control showed instead.
std::string ShadowTables(const json& r) {
  const json& sh = r["shadow"];
  if (!sh.contains("variants")) return "<p class=\"muted\">" + Str(sh["reason"]) + "</p>";
  std::string out = "<p class=\"muted\">" + Str(sh["note"]) + "</p>";
  for (const auto& [variant, v] : sh["variants"].items()) {
    const auto broken = v["eligibility_violations"].get<std::int64_t>();
    out += fmt::format(
        "<h3>{}: {} lists</h3><p data-shadow-violations=\"{}\">{}; computed in {} ms (p50), {} "
        "ms (p99); {} fell back to the rules.</p>",
        HtmlEscape(variant), v["lists"].get<std::int64_t>(), broken,
        broken == 0 ? std::string("<span class=\"good\">no eligibility violation</span>")
                    : fmt::format("<span class=\"bad\">{} ineligible products would have been "
                                  "shown</span>",
                                  broken),
        Num(v["latency"]["p50_ms"], "{:.3g}"), Num(v["latency"]["p99_ms"], "{:.3g}"),
        v["fallbacks"].get<std::int64_t>());
    if (broken > 0) {
      out += "<table><tr><th>product</th><th>rule broken</th><th>lists</th></tr>";
      for (const auto& x : v["violations"]) {
        out += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                           Str(x["product"]), Str(x["rule"]), x["count"].get<std::int64_t>());
      }
      out += "</table>";
    }
    out +=
        "<table><tr><th>product</th><th>would have been shown (share of lists)</th>"
        "<th>was shown (control)</th></tr>";
    for (const auto& p : v["products"]) {
      out += fmt::format(
          "<tr><td>{}</td><td class=\"num\">{:.1f}%</td><td class=\"num\">{:.1f}%</td></tr>",
          Str(p["product"]), 100 * p["would_show_share"].get<double>(),
          100 * p["shown_share"].get<double>());
    }
    out += "</table>";
  }
  return out;
}

// The exploration bucket's estimate of each variant's policy, beside the arm's own figure:
// IPS with its interval, then SNIPS and DR (intervals clustered by user).
std::string OffPolicyTable(const json& r) {
  const json& off = r["exploration"]["off_policy"];
  std::string out = "<p class=\"muted\">" + Str(off["method"]) + ".</p>";
  out +=
      "<table><tr><th>policy of</th><th>exploration lists</th><th>users</th><th>clicks per "
      "list (IPS, interval; SNIPS; DR)</th><th>measured in its arm</th><th>binds per list</th>"
      "<th>premium per list</th></tr>";
  for (const auto& [variant, t] : off["targets"].items()) {
    if (t.contains("reason")) {
      out += fmt::format(
          "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td "
          "colspan=\"4\">{}</td></tr>",
          HtmlEscape(variant), t["lists"].get<std::int64_t>(), t["users"].get<std::int64_t>(),
          Str(t["reason"]));
      continue;
    }
    auto interval = [](const json& e) {
      return e.contains("ci") && e["ci"].is_array()
                 ? fmt::format("{} ({} to {})", Num(e["estimate"], "{:.3g}"),
                               Num(e["ci"][0], "{:.3g}"), Num(e["ci"][1], "{:.3g}"))
                 : std::string("–");
    };
    auto cell = [&interval](const json& m) {
      return fmt::format("{}<br><span class=\"muted\">SNIPS {}; DR {}</span>", interval(m),
                         interval(m["snips"]), interval(m["dr"]));
    };
    out += fmt::format(
        "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\" "
        "data-ope=\"{}\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td "
        "class=\"num\">{}</td></tr>",
        HtmlEscape(variant), t["lists"].get<std::int64_t>(), t["users"].get<std::int64_t>(),
        HtmlEscape(variant), cell(t["clicks_per_list"]),
        Num(t["clicks_per_list"]["on_policy"], "{:.3g}"), cell(t["binds_per_list"]),
        cell(t["premium_per_list"]));
  }
  return out + "</table>";
}

// The alerts of an experiment, critical ones marked.
std::string AlertList(const std::vector<Alert>& alerts) {
  if (alerts.empty()) return "<span class=\"good\">none</span>";
  std::string out;
  for (const Alert& a : alerts) {
    out += fmt::format("<div data-alert=\"{}\"><span class=\"{}\">{}</span> {}</div>",
                       HtmlEscape(a.kind), a.severity == "critical" ? "bad" : "muted",
                       HtmlEscape(a.kind), HtmlEscape(a.message));
  }
  return out;
}

std::string Page(const std::string& title, const std::string& body) {
  return fmt::format(
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
      "content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{}</style>"
      "</head><body>{}</body></html>\n",
      HtmlEscape(title), kStyle, body);
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string RenderReportHtml(const json& r) {
  std::string body = fmt::format(
      "<p class=\"muted\"><a href=\"/dashboards/\">all experiments</a></p><h1>{}</h1>"
      "<div class=\"muted\">phase <b data-phase=\"{}\">{}</b> · {} · generated {} · primary "
      "metric <b>{}</b></div>",
      Str(r["experiment"]), Str(r["phase"]), Str(r["phase"]), Str(r["definition"]["description"]),
      Str(r["generated_at"]), Str(r["definition"]["primary"]));
  body += DecisionBox(r);
  if (r["phase"] != "stopped") {
    body += "<h2>Alerts</h2><div class=\"card\">" + AlertList(AlertsOf(r)) + "</div>";
  }
  const bool shadow = r["phase"] == "shadow";
  if (shadow) body += "<h2>Shadow checks</h2>" + ShadowTables(r);
  body += "<h2>Cumulative lift over time</h2><div class=\"card\">" + LiftHistoryChart(r) +
          "<div class=\"muted\">Relative lift of the primary metric, day by day, with its "
          "always-valid confidence band: safe to read at any time. Zero means no effect.</div>"
          "</div>";
  body += "<div class=\"grid\">";
  body += "<div class=\"card\"><h2>Primary metric per arm</h2>" + PrimaryPerArmChart(r) + "</div>";
  body += "<div class=\"card\"><h2>Users per bucket</h2>" + BucketChart(r) + "</div>";
  body += "<div class=\"card\"><h2>Fairness: widest gap between groups</h2>" + FairnessChart(r) +
          "</div>";
  body += "<div class=\"card\"><h2>Drift of what is shown (PSI)</h2>" + DriftChart(r) + "</div>";
  body += "<div class=\"card\"><h2>Serving latency p99 (ms)</h2>" + LatencyChart(r) + "</div>";
  body += "</div>";
  body += "<h2>Every metric against control</h2>" + MetricsTable(r);
  body += "<h2>Guardrails</h2>" + GuardrailTable(r);
  body += "<h2>Off-policy estimate from the exploration bucket</h2>" + OffPolicyTable(r);
  if (!shadow && r["shadow"].contains("variants")) {
    body += "<h2>Shadow checks (before the A/B test)</h2>" + ShadowTables(r);
  }
  return Page(r["experiment"].get<std::string>() + " · abrec", body);
}

std::string RenderIndexHtml(const std::vector<const json*>& reports) {
  std::string body =
      "<h1>Experiments</h1><table><tr><th>experiment</th><th>phase</th><th>decision</th>"
      "<th>why</th><th>alerts</th></tr>";
  for (const json* report : reports) {
    const json& r = *report;
    const std::string key = r["experiment"].get<std::string>();
    std::string why;
    for (const auto& reason : r["decision"]["reasons"]) why += Str(reason) + "<br>";
    // A stopped experiment raises no alerts (GET /v1/alerts leaves it out too).
    const std::vector<Alert> alerts = r["phase"] == "stopped" ? std::vector<Alert>{} : AlertsOf(r);
    body += fmt::format(
        "<tr data-experiment=\"{0}\"><td><a href=\"/dashboards/{0}\">{0}</a></td><td>{1}</td>"
        "<td class=\"{2}\" data-decision=\"{2}\"><b>{2}</b></td><td>{3}</td>"
        "<td data-alerts=\"{4}\">{5}</td></tr>",
        HtmlEscape(key), Str(r["phase"]), Str(r["decision"]["code"]), why, alerts.size(),
        AlertList(alerts));
  }
  body += "</table>";
  if (reports.empty()) body += "<p>No experiment is defined.</p>";
  return Page("experiments · abrec", body);
}

}  // namespace abrec
