#include "dashboards/alerts.h"

#include <fmt/format.h>

namespace abrec {

std::vector<Alert> AlertsOf(const nlohmann::ordered_json& r) {
  std::vector<Alert> out;
  const std::string key = r["experiment"].get<std::string>();
  auto raise = [&](std::string kind, std::string severity, std::string message) {
    out.push_back({key, std::move(kind), std::move(severity), std::move(message)});
  };
  // The sample ratio of the exposures abrec logged itself when the report has them apart:
  // anyone who may post events can post exposures, so those must not raise the alert that
  // auto_stop acts on. A report of a database without sources tests every exposure.
  const bool sourced = r.contains("exposure_sources") && r["exposure_sources"].contains("server");
  const auto& all = r["srm"];
  const auto& srm = sourced ? r["exposure_sources"]["server"]["srm"] : all;
  auto mismatch = [](const nlohmann::ordered_json& s) {
    return s["ok"] == false && s["p_value"].is_number();
  };
  if (mismatch(srm)) {
    raise("srm", "critical",
          fmt::format("sample ratio mismatch{}: anytime-valid p = {:.3g} below {}{}: the buckets "
                      "are not the sizes the assignment promises",
                      sourced ? " among the exposures abrec logged" : "",
                      srm["p_value"].get<double>(), srm["threshold"].get<double>(),
                      srm.contains("unexpected_bucket")
                          ? fmt::format(" (users in {}, which should get none)",
                                        srm["unexpected_bucket"].get<std::string>())
                          : ""));
  } else if (sourced && mismatch(all)) {
    raise("srm_posted", "warning",
          fmt::format("sample ratio mismatch among all exposures (anytime-valid p = {:.3g} below "
                      "{}) but not among those abrec logged itself: exposures posted through "
                      "POST /v1/events skew the split (auto_stop does not act on it)",
                      all["p_value"].get<double>(), all["threshold"].get<double>()));
  }
  if (sourced) {
    for (const auto& w : r["exposure_sources"]["warnings"]) {
      raise("client_exposures", "warning", w.get<std::string>());
    }
  }
  for (const auto& g : r["guardrails"]) {
    if (g["breached"] != true) continue;
    const std::string figure =
        g.contains("value") ? fmt::format("{:.4g}", g["value"].get<double>())
                            : fmt::format("{:+.1f}%", 100 * g["relative_change"].get<double>());
    raise("guardrail", "critical",
          fmt::format("{}: guardrail {} breached ({})", g["variant"].get<std::string>(),
                      g["metric"].get<std::string>(), figure));
  }
  for (const auto& [arm, attributes] : r["fairness"]["arms"].items()) {
    for (const auto& [attribute, a] : attributes.items()) {
      if (a.value("breached", false) != true) continue;
      raise("guardrail", "critical",
            fmt::format("{}: fairness limit breached on {}: {} shown at rates {:.3f} apart", arm,
                        attribute, a["worst"]["product"].get<std::string>(),
                        a["worst"]["gap"].get<double>()));
    }
  }
  for (const auto& [arm, d] : r["drift"]["arms"].items()) {
    if (d.value("status", "") != "alert") continue;
    raise("drift", "warning",
          fmt::format("{}: what is shown has drifted: PSI {:.3f} between {} and {}", arm,
                      d["psi"].get<double>(), d["reference"][0].get<std::string>(),
                      d["current"][1].get<std::string>()));
  }
  if (r["phase"] == "shadow" && r["shadow"].contains("variants")) {
    for (const auto& [arm, sh] : r["shadow"]["variants"].items()) {
      const auto broken = sh["eligibility_violations"].get<std::int64_t>();
      if (broken == 0) continue;
      raise("eligibility", "critical",
            fmt::format("{}: in shadow its lists would have shown {} ineligible product(s), "
                        "e.g. {} ({})",
                        arm, broken, sh["violations"][0]["product"].get<std::string>(),
                        sh["violations"][0]["rule"].get<std::string>()));
    }
  }
  for (const auto& [arm, a] : r["latency"]["arms"].items()) {
    const double rate = a["fallback_rate"].get<double>();
    if (rate <= kFallbackAlertRate) continue;
    raise("fallback_rate", "warning",
          fmt::format("{}: {:.1f}% of {} exposures since {} were served by the rule-based "
                      "fallback",
                      arm, 100 * rate, a["exposures"].get<std::int64_t>(),
                      r["latency"]["since"].get<std::string>()));
  }
  return out;
}

nlohmann::ordered_json AlertJson(const Alert& a) {
  return {{"experiment", a.experiment},
          {"kind", a.kind},
          {"severity", a.severity},
          {"message", a.message}};
}

}  // namespace abrec
