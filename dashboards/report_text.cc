// The report's text form: what a product manager reads in a terminal. It renders the JSON
// of BuildReport, so the text and the API cannot disagree.
#include <string>

#include <fmt/format.h>

#include "dashboards/format.h"
#include "dashboards/report.h"

namespace abrec {
namespace {

using json = nlohmann::ordered_json;

// Terminal text: an ASCII "-" for a figure not computed.
std::string Number(const json& v, const char* format = "{:.4g}") {
  return FormatNumber(v, format, "-");
}

std::string Percent(const json& v) { return FormatPercent(v, 2, "-"); }

// An interval; an end the data cannot bound yet (null) is "unbounded".
std::string Interval(const json& v, bool percent) {
  if (!v.is_array() || v.size() != 2) return "-";
  auto end = [percent](const json& x) {
    return !x.is_number() ? std::string("unbounded") : percent ? Percent(x) : Number(x);
  };
  return fmt::format("[{}, {}]", end(v[0]), end(v[1]));
}

// One EFFECT: "estimate [fixed interval] p …; sequential [interval] p …", or its reason.
std::string Effect(const json& e, bool percent) {
  if (e.contains("reason")) return fmt::format("({})", e["reason"].get<std::string>());
  return fmt::format(
      "{} {} p {}; always valid {} p {}", percent ? Percent(e["estimate"]) : Number(e["estimate"]),
      Interval(e["ci"], percent), Number(e["p_value"], "{:.3g}"),
      Interval(e["ci_sequential"], percent), Number(e["p_value_sequential"], "{:.3g}"));
}

}  // namespace

std::string RenderReportText(const json& r) {
  std::string out =
      fmt::format("experiment {} (phase {}), generated {}\n\n", r["experiment"].get<std::string>(),
                  r["phase"].get<std::string>(), r["generated_at"].get<std::string>());
  const json& d = r["decision"];
  out += fmt::format("DECISION: {}\n", d["code"].get<std::string>());
  for (const auto& reason : d["reasons"]) out += fmt::format("  - {}\n", reason.get<std::string>());

  out += "\nbuckets (users):";
  for (const auto& [name, b] : r["buckets"].items()) {
    out += fmt::format(" {} {}", name, b["users"].get<std::int64_t>());
  }
  const json& srm = r["srm"];
  out +=
      srm.contains("reason")
          ? fmt::format("\nsample ratio: {}\n", srm["reason"].get<std::string>())
          : fmt::format("\nsample ratio: anytime-valid p {} (threshold {}; today's χ² p {}): {}\n",
                        Number(srm["p_value"], "{:.3g}"), Number(srm["threshold"]),
                        Number(srm["p_value_chi_squared"], "{:.3g}"),
                        srm["ok"].get<bool>() ? "ok" : "MISMATCH");

  out +=
      "\nagainst control (relative lift; fixed-horizon interval and p; confidence sequence "
      "and always-valid p):\n";
  for (const auto& m : r["metrics"]) {
    out +=
        fmt::format("  {:<18} {:<10} {} vs {} ({} / {} users)\n    relative {}\n",
                    m["metric"].get<std::string>(), m["variant"].get<std::string>(),
                    Number(m["value"]), Number(m["baseline_value"]), m["users"].get<std::int64_t>(),
                    m["baseline_users"].get<std::int64_t>(), Effect(m["relative"], true));
    if (m["role"] == "secondary") {
      out += fmt::format("    adjusted p (Holm, secondary metrics) {}\n",
                         Number(m["p_value_adjusted"], "{:.3g}"));
    } else if (const auto h = m.find("decided_at_horizon"); h != m.end()) {
      out += fmt::format("    decided at the horizon ({} users): {} {} p {}\n",
                         (*h)["users"].get<std::int64_t>(), Percent((*h)["relative"]),
                         Interval((*h)["ci"], true), Number((*h)["p_value"], "{:.3g}"));
    }
    if (const auto u = m.find("unpriced_binds"); u != m.end() && u->contains("note")) {
      out += fmt::format("    unpriced binds {} vs {}: {}\n", (*u)["variant"].get<std::int64_t>(),
                         (*u)["baseline"].get<std::int64_t>(), (*u)["note"].get<std::string>());
    }
  }
  if (!r["guardrails"].empty()) out += "\nguardrails:\n";
  for (const auto& g : r["guardrails"]) {
    if (g["kind"] == "operational" && !g.contains("reason")) {
      out += fmt::format("  {} ({}): {} (limit {}{}): {}\n", g["metric"].get<std::string>(),
                         g["variant"].get<std::string>(), Number(g["value"]),
                         g.contains("max") ? "max " : "min ",
                         Number(g.contains("max") ? g["max"] : g["min"]),
                         g["breached"].get<bool>() ? "BREACHED" : "ok");
    } else if (g.contains("reason")) {
      out += fmt::format("  {} ({}): {}\n", g["metric"].get<std::string>(),
                         g["variant"].get<std::string>(), g["reason"].get<std::string>());
    } else {
      out += fmt::format("  {} ({}, {}): change {}, bound {} (level {}), limit {}: {}\n",
                         g["metric"].get<std::string>(), g["variant"].get<std::string>(),
                         g["kind"].get<std::string>(), Percent(g["relative_change"]),
                         Percent(g["bound"]), Number(g["level"], "{:.3g}"), Percent(g["limit"]),
                         g["status"].get<std::string>());
      if (g["kind"] == "non_inferiority") {
        out += fmt::format("    non-inferiority: lower bound {} (level {}), horizon {} users\n",
                           Percent(g["pass_bound"]), Number(g["pass_level"], "{:.3g}"),
                           Number(g["horizon_users"], "{:.0f}"));
      }
    }
  }
  out += "\nuplift against the holdout (relative):\n";
  for (const auto& u : r["uplift_vs_holdout"]) {
    out += fmt::format("  {:<18} {:<12} {}\n", u["metric"].get<std::string>(),
                       u["arm"].get<std::string>(), Effect(u["relative"], true));
  }
  const json& lat = r["latency"];
  out += fmt::format("\nserved latency since {} (ms):\n", lat["since"].get<std::string>());
  if (lat["arms"].empty()) out += "  (no exposure served by /v1/recommend)\n";
  for (const auto& [bucket, a] : lat["arms"].items()) {
    out += fmt::format("  {:<12} p50 {} p99 {} over {} exposures; fallback {}\n", bucket,
                       Number(a["p50_ms"], "{:.3g}"), Number(a["p99_ms"], "{:.3g}"),
                       a["exposures"].get<std::int64_t>(), Percent(a["fallback_rate"]));
  }
  const json& fair = r["fairness"];
  out += fmt::format(
      "\nfairness (share of each group's users shown a product; per attribute the widest gap, "
      "and whether it is wider than control's: always valid, level {} per variant){}:\n",
      Number(fair["level"], "{:.3g}"),
      fair["since"].is_string() ? " since " + fair["since"].get<std::string>() : "");
  if (fair.contains("counted_per_exposure")) {
    out += "  " + fair["counted_per_exposure"]["note"].get<std::string>() + "\n";
  }
  for (const auto& [arm, attributes] : fair["arms"].items()) {
    for (const auto& [attribute, a] : attributes.items()) {
      if (a.contains("reason")) {
        out += fmt::format("  {:<12} {}: {}\n", arm, attribute, a["reason"].get<std::string>());
        continue;
      }
      if (a["worst"].is_null()) {
        out += fmt::format("  {:<12} {}: no product shown\n", arm, attribute);
        continue;
      }
      const json& w = a["worst"];
      std::string wider;
      if (const auto t = w.find("wider_than_control"); t != w.end()) {
        wider = t->contains("reason")
                    ? fmt::format("; wider than control: {}", (*t)["reason"].get<std::string>())
                    : fmt::format("; wider than control ({}/{}): by {}, bound {}, p {} of {} tests",
                                  (*t)["groups"][0].get<std::string>(),
                                  (*t)["groups"][1].get<std::string>(), Number((*t)["estimate"]),
                                  Number((*t)["bound"]), Number((*t)["p_value_adjusted"], "{:.3g}"),
                                  Number(a["tests"], "{}"));
      }
      const std::string control =
          a.contains("tests") ? fmt::format(" (control {})", Number(a["control_gap"])) : "";
      out += fmt::format("  {:<12} {}: {} gap {}{}, χ² p {}{}: {}\n", arm, attribute,
                         w["product"].get<std::string>(), Number(w["gap"]), control,
                         Number(w["p_value"], "{:.3g}"), wider,
                         a["breached"].get<bool>() ? "BREACHED" : "ok");
    }
  }
  out += "\ndrift of the products shown (PSI, latest days against the first):\n";
  for (const auto& [arm, drift] : r["drift"]["arms"].items()) {
    out +=
        drift.contains("reason")
            ? fmt::format("  {:<12} {}\n", arm, drift["reason"].get<std::string>())
            : fmt::format("  {:<12} PSI {} ({}), χ² p {}\n", arm, Number(drift["psi"], "{:.3f}"),
                          drift["status"].get<std::string>(), Number(drift["p_value"], "{:.3g}"));
  }
  out += "\noff-policy estimate from the exploration bucket (per list; measured in the arm):\n";
  for (const auto& [arm, t] : r["exploration"]["off_policy"]["targets"].items()) {
    if (t.contains("reason")) {
      out += fmt::format("  {:<12} {}\n", arm, t["reason"].get<std::string>());
      continue;
    }
    out += fmt::format("  {:<12} {} lists of {} users (intervals clustered by user)\n", arm,
                       t["lists"].get<std::int64_t>(), t["users"].get<std::int64_t>());
    for (const char* metric : {"clicks", "binds", "premium"}) {
      const json& m = t[std::string(metric) + "_per_list"];
      out += fmt::format("  {:<12} {:<8}", "", metric);
      for (const char* estimator : {"ips", "snips", "dr"}) {
        const json& e = m[estimator];
        out += e.contains("reason")
                   ? fmt::format(" {} -", estimator)
                   : fmt::format(" {} {} {}", estimator, Number(e["estimate"], "{:.4g}"),
                                 Interval(e["ci"], false));
      }
      out += fmt::format("; arm {}\n", Number(m["on_policy"], "{:.4g}"));
    }
  }
  if (r["shadow"].contains("variants")) {
    out += "\nshadow checks (what the variant would have shown while control's list was):\n";
    for (const auto& [arm, v] : r["shadow"]["variants"].items()) {
      out += fmt::format(
          "  {:<12} {} lists, {} eligibility violations, p50 {} ms, p99 {} ms, {} "
          "fallbacks\n",
          arm, v["lists"].get<std::int64_t>(), v["eligibility_violations"].get<std::int64_t>(),
          Number(v["latency"]["p50_ms"], "{:.3g}"), Number(v["latency"]["p99_ms"], "{:.3g}"),
          v["fallbacks"].get<std::int64_t>());
      for (const auto& x : v["violations"]) {
        out += fmt::format("    {} × {} ({})\n", x["count"].get<std::int64_t>(),
                           x["product"].get<std::string>(), x["rule"].get<std::string>());
      }
    }
  }
  const json& h = r["history"];
  if (!h.empty()) {
    out += fmt::format("\nhistory of {} (relative lift, confidence sequence):\n",
                       h.back()["metric"].get<std::string>());
    for (const auto& day : h) {
      out += fmt::format("  {}", day["day"].get<std::string>());
      for (const auto& l : day["lifts"]) {
        out += l.contains("reason")
                   ? fmt::format("  {}: ({})", l["arm"].get<std::string>(),
                                 l["reason"].get<std::string>())
                   : fmt::format("  {}: {} {}", l["arm"].get<std::string>(), Percent(l["relative"]),
                                 Interval(l["ci_sequential"], true));
      }
      out += "\n";
    }
  }
  return out;
}

}  // namespace abrec
