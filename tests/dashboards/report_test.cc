#include "dashboards/report.h"

#include <doctest/doctest.h>

#include "analysis/decision.h"
#include "dashboards/alerts.h"
#include "dashboards/html.h"

namespace abrec {
namespace {

// A bucket of `users` users, each exposed once to one item; the first `clickers` click and
// the first `binders` bind at 100.00 of premium, 20.00 of it revenue, except every tenth
// bind, of a product the catalog does not price.
BucketTotals Bucket(int users, int clickers, int binders) {
  BucketTotals t;
  for (int i = 0; i < users; ++i) {
    UserTotals u{.exposures = 1, .impressions = 1};
    if (i < clickers) u.clicks = 1;
    if (i < binders) {
      CountOutcome(u, true, 10'000,
                   i % 10 == 9 ? std::nullopt : std::optional<std::int64_t>(2'000));
    }
    t.Apply(u, +1);
  }
  return t;
}

Experiment TwoArms(Phase phase = Phase::kAbTest) {
  Experiment e;
  e.key = "exp";
  e.phase = phase;
  e.variants = {{"control", Policy::kLegacyRules, "", 0.5},
                {"treatment", Policy::kRecommender, "hybrid", 0.5}};
  e.metrics.primary = "bind_rate";
  e.metrics.secondary = {"click_rate", "revenue_per_user"};
  Guardrail g;
  g.metric = "bind_rate";
  g.min_relative_change = -0.02;
  e.metrics.guardrails = {g};
  return e;
}

BucketTotalsMap Totals(int control_binders, int treatment_binders, int treatment_clickers = 400,
                       int control_users = 4'500, int treatment_users = 4'500) {
  return {{"holdout", Bucket(500, 100, 20)},
          {"exploration", Bucket(500, 150, 25)},
          {"control", Bucket(control_users, 400, control_binders)},
          {"treatment", Bucket(treatment_users, treatment_clickers, treatment_binders)}};
}

nlohmann::ordered_json Report(const Experiment& e, BucketTotalsMap totals,
                              std::vector<DailyTotals> history = {}) {
  return BuildReport({.experiment = &e,
                      .totals = std::move(totals),
                      .history = std::move(history),
                      .now_us = 1'795'910'400'000'000});
}

}  // namespace

TEST_CASE("a treatment whose bind rate is clearly up ships") {
  const auto r = Report(TwoArms(), Totals(225, 360));
  CHECK(r["decision"]["code"] == "ship");
  CHECK(r["generated_at"] == "2026-11-29T00:00:00.000000Z");
  CHECK(r["srm"]["ok"] == true);
}

TEST_CASE("no difference continues, and says why") {
  const auto r = Report(TwoArms(), Totals(225, 230));
  CHECK(r["decision"]["code"] == "continue");
  CHECK(r["decision"]["reasons"][0].get<std::string>().find("not significant yet") !=
        std::string::npos);
}

TEST_CASE("clicks up and binds down is click-bait; the bind guardrail is breached too") {
  const auto r = Report(TwoArms(), Totals(360, 150, 900));
  CHECK(r["decision"]["code"] == "clickbait");
  bool breached = false;
  for (const auto& g : r["guardrails"]) breached |= g["breached"] == true;
  CHECK(breached);
}

TEST_CASE("binds down without more clicks stops on the guardrail") {
  const auto r = Report(TwoArms(), Totals(360, 150, 400));
  CHECK(r["decision"]["code"] == "stop_guardrail");
}

TEST_CASE("a sample ratio mismatch overrides everything") {
  const auto r = Report(TwoArms(), Totals(225, 360, 400, 4'500, 3'900));
  CHECK(r["srm"]["ok"] == false);
  CHECK(r["decision"]["code"] == "untrustworthy_srm");
}

TEST_CASE("in shadow nothing is shipped") {
  CHECK(Report(TwoArms(Phase::kShadow), Totals(225, 360))["decision"]["code"] == "continue");
}

TEST_CASE("revenue per user: premium × margin per exposed user, unpriced binds counted") {
  const auto r = Report(TwoArms(), Totals(225, 360));
  int seen = 0;
  for (const auto& m : r["metrics"]) {
    if (m["metric"] != "revenue_per_user") continue;
    ++seen;
    // Treatment: 360 binders, 36 of them unpriced, 324 × 20.00 over 4,500 users.
    CHECK(m["value"].get<double>() == doctest::Approx(324 * 20.0 / 4'500));
    CHECK(m["baseline_value"].get<double>() == doctest::Approx(203 * 20.0 / 4'500));
    CHECK(m["absolute"]["estimate"].get<double>() == doctest::Approx((324 - 203) * 20.0 / 4'500));
    CHECK(m["unpriced_binds"]["variant"] == 36);
    CHECK(m["unpriced_binds"]["baseline"] == 22);
    CHECK(m["unpriced_binds"].contains("note"));
  }
  CHECK(seen == 1);
  bool uplift = false;
  for (const auto& u : r["uplift_vs_holdout"]) {
    uplift |= u["metric"] == "revenue_per_user" && u["arm"] == "all" && u["value"].is_number();
  }
  CHECK(uplift);
}

TEST_CASE("history: the always-valid p-value is a running minimum across the days") {
  // Day 1 strong, day 2 weaker (more users, the same binders): p rises, the report holds it.
  std::vector<DailyTotals> days = {{"2026-11-27", Totals(100, 180, 400, 2'000, 2'000)},
                                   {"2026-11-28", Totals(225, 280, 400, 4'500, 4'500)}};
  const auto r = Report(TwoArms(), days.back().buckets, days);
  REQUIRE(r["history"].size() == 2);
  const auto& d1 = r["history"][0]["lifts"][0];
  const auto& d2 = r["history"][1]["lifts"][0];
  CHECK(d1["arm"] == "treatment");
  CHECK(d2["p_value_sequential"].get<double>() <= d1["p_value_sequential"].get<double>());
  CHECK(d2["p_value_sequential"].get<double>() == d1["p_value_sequential"].get<double>());
  // The running minimum also reaches today's figure in the metrics table.
  double today = 1;
  for (const auto& m : r["metrics"]) {
    if (m["metric"] == "bind_rate") today = m["relative"]["p_value_sequential"].get<double>();
  }
  CHECK(today == d1["p_value_sequential"].get<double>());
}

TEST_CASE("operational guardrails read the served latency: a slow treatment stops") {
  Experiment e = TwoArms();
  Guardrail latency;
  latency.metric = "latency_p99_ms";
  latency.max = 200;
  e.metrics.guardrails.push_back(latency);
  LatencyByBucket served;
  for (int i = 0; i < 1000; ++i) {
    served["control"].Add(LatencyHistogram::BinOf(2'000), 1, 0);
    // 2% of treatment requests take 300 ms: p99 is 300 ms.
    served["treatment"].Add(LatencyHistogram::BinOf(i < 20 ? 300'000 : 5'000), 1, 0);
  }
  auto r = BuildReport({.experiment = &e,
                        .totals = Totals(225, 360),
                        .latency = served,
                        .latency_since = "2026-11-23",
                        .now_us = 1'795'910'400'000'000});
  CHECK(r["decision"]["code"] == "stop_guardrail");
  CHECK(r["latency"]["arms"]["treatment"]["p99_ms"].get<double>() ==
        doctest::Approx(300).epsilon(0.09));
  CHECK(r["latency"]["arms"]["control"]["p50_ms"].get<double>() ==
        doctest::Approx(2).epsilon(0.09));
  bool breached = false;
  for (const auto& g : r["guardrails"]) {
    if (g["metric"] == "latency_p99_ms") breached = g["breached"] == true;
  }
  CHECK(breached);
  // Fast enough: the same report ships.
  served["treatment"] = served["control"];
  r = BuildReport({.experiment = &e,
                   .totals = Totals(225, 360),
                   .latency = served,
                   .latency_since = "2026-11-23",
                   .now_us = 1'795'910'400'000'000});
  CHECK(r["decision"]["code"] == "ship");
  CHECK(LatencySince(1'795'910'400'000'000) == "2026-11-23");
}

// Counters as the service writes them for `users` new users of a group of sex, each exposed
// once: `shown` of them shown product "auto_bundle", and every one "pet" (distinct-user
// counters of the fairness section, and per exposure the products shown for drift).
void AddGroup(ExposureCounters& c, const std::string& bucket, const std::string& day,
              const std::string& group, std::int64_t users, std::int64_t shown) {
  auto& names = c[bucket][day];
  names["users|exposed|sex|" + group] += users;
  names["users|shown|sex|" + group + "|auto_bundle"] += shown;
  names["users|shown|sex|" + group + "|pet"] += users;
  names["product|auto_bundle"] += shown;
  names["product|pet"] += users;
}

TEST_CASE(
    "fairness: a treatment that withholds a product from women stops; control's gap is "
    "the baseline") {
  Experiment e = TwoArms();
  e.fairness.attributes = {"sex"};
  e.fairness.max_parity_gap = 0.10;
  ExposureCounters c;
  AddGroup(c, "control", "2026-11-28", "F", 2'000, 300);
  AddGroup(c, "control", "2026-11-28", "M", 2'000, 320);
  AddGroup(c, "treatment", "2026-11-28", "F", 2'000, 100);  // 5% of women
  AddGroup(c, "treatment", "2026-11-28", "M", 2'000, 600);  // 30% of men
  auto r = BuildReport({.experiment = &e,
                        .totals = Totals(225, 360),
                        .counters = c,
                        .now_us = 1'795'910'400'000'000});
  CHECK(r["decision"]["code"] == "stop_guardrail");
  const auto& t = r["fairness"]["arms"]["treatment"]["sex"];
  CHECK(t["breached"] == true);
  CHECK(t["worst"]["product"] == "auto_bundle");
  CHECK(t["worst"]["gap"].get<double>() == doctest::Approx(0.25));
  CHECK(t["control_gap"].get<double>() == doctest::Approx(0.01));
  CHECK(t["groups"]["F"] == 2'000);
  const auto& wider = t["worst"]["wider_than_control"];
  CHECK(wider["groups"] == nlohmann::ordered_json::array({"M", "F"}));
  CHECK(wider["variant_gap"].get<double>() == doctest::Approx(0.25));
  CHECK(wider["control_gap"].get<double>() == doctest::Approx(0.01));
  CHECK(wider["bound"].get<double>() > 0);
  CHECK(wider["p_value_adjusted"].get<double>() <= r["fairness"]["level"].get<double>());
  CHECK(r["fairness"]["arms"]["control"]["sex"]["breached"] == false);
  CHECK(r["fairness"]["unit"] == "users");
  // Equal rates: no breach, the report ships.
  c["treatment"].clear();
  AddGroup(c, "treatment", "2026-11-28", "F", 2'000, 300);
  AddGroup(c, "treatment", "2026-11-28", "M", 2'000, 310);
  r = BuildReport({.experiment = &e,
                   .totals = Totals(225, 360),
                   .counters = c,
                   .now_us = 1'795'910'400'000'000});
  CHECK(r["decision"]["code"] == "ship");
}

TEST_CASE("drift: the products shown, the latest days against the first") {
  Experiment e = TwoArms();
  ExposureCounters c;
  for (const std::string day : {"2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"}) {
    AddGroup(c, "control", day, "F", 1'000, 500);  // the same mix every day
    const bool late = day >= "2026-11-22";
    AddGroup(c, "treatment", day, "F", 1'000, late ? 50 : 500);  // auto_bundle falls away
  }
  const auto r = BuildReport({.experiment = &e,
                              .totals = Totals(225, 360),
                              .counters = c,
                              .now_us = 1'795'910'400'000'000});
  const auto& d = r["drift"]["arms"];
  CHECK(d["control"]["status"] == "ok");
  CHECK(d["control"]["psi"].get<double>() == doctest::Approx(0).epsilon(1e-9));
  CHECK(d["treatment"]["status"] == "alert");
  CHECK(d["treatment"]["reference"] == nlohmann::ordered_json::array({"2026-11-20", "2026-11-21"}));
  CHECK(d["treatment"]["current"] == nlohmann::ordered_json::array({"2026-11-22", "2026-11-23"}));
  CHECK(d["exploration"].contains("reason"));
}

TEST_CASE("the text form leads with the decision") {
  const std::string text = RenderReportText(Report(TwoArms(), Totals(225, 360)));
  CHECK(text.find("DECISION: ship") != std::string::npos);
  CHECK(text.find("buckets (users): holdout 500 exploration 500 control 4500 treatment 4500") !=
        std::string::npos);
}

TEST_CASE("alerts: SRM, breached guardrails, drift and fallbacks; none for a healthy test") {
  CHECK(AlertsOf(Report(TwoArms(), Totals(225, 360))).empty());
  const auto srm = AlertsOf(Report(TwoArms(), Totals(225, 360, 400, 4'500, 3'900)));
  REQUIRE(srm.size() == 1);
  CHECK(srm[0].kind == "srm");
  CHECK(srm[0].severity == "critical");
  CHECK(srm[0].experiment == "exp");
  const auto breach = AlertsOf(Report(TwoArms(), Totals(360, 150, 400)));
  REQUIRE(breach.size() == 1);
  CHECK(breach[0].kind == "guardrail");
  CHECK(breach[0].message.find("bind_rate") != std::string::npos);
  // Fallbacks above 1% on an arm, and drift: warnings.
  LatencyByBucket served;
  served["treatment"].Add(LatencyHistogram::BinOf(5'000), 100, 3);
  served["control"].Add(LatencyHistogram::BinOf(5'000), 100, 1);
  ExposureCounters c;
  for (const std::string day : {"2026-11-20", "2026-11-21"}) {
    AddGroup(c, "treatment", day, "F", 1'000, day == "2026-11-20" ? 500 : 20);
  }
  Experiment e = TwoArms();
  const auto warnings = AlertsOf(BuildReport({.experiment = &e,
                                              .totals = Totals(225, 360),
                                              .latency = served,
                                              .latency_since = "2026-11-23",
                                              .counters = c,
                                              .now_us = 1'795'910'400'000'000}));
  REQUIRE(warnings.size() == 2);
  CHECK(warnings[0].kind == "drift");
  CHECK(warnings[1].kind == "fallback_rate");
  CHECK(warnings[1].message.find("treatment: 3.0% of 100 exposures") == 0);
}

TEST_CASE("a guardrail without data yet is drawn with its state, not a figure") {
  // No exposures: each relative-change guardrail has a reason and no relative_change, which
  // the page must not read (nlohmann's const operator[] asserts on a missing key).
  const auto r = Report(TwoArms(), BucketTotalsMap{});
  int without_figure = 0;
  for (const auto& g : r["guardrails"]) {
    if (g["kind"] != "operational" && !g.contains("relative_change")) ++without_figure;
  }
  REQUIRE(without_figure > 0);
  const std::string page = RenderReportHtml(r);
  for (const auto& g : r["guardrails"]) {
    CHECK(page.find("<td>" + HtmlEscape(g["metric"].get<std::string>()) + "</td>") !=
          std::string::npos);
  }
}

TEST_CASE("the HTML page escapes text and carries the figures it draws") {
  CHECK(HtmlEscape("a<b & \"c\" 'd'>") == "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
  Experiment e = TwoArms();
  e.description = "<script>alert(1)</script>";
  const std::string page = RenderReportHtml(Report(e, Totals(225, 360)));
  CHECK(page.find("<script>") == std::string::npos);
  CHECK(page.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(page.find("data-chart=\"buckets\"") != std::string::npos);
  CHECK(page.find("data-label=\"treatment\" data-value=\"4500\"") != std::string::npos);
  CHECK(page.find("data-decision=\"ship\"") != std::string::npos);
  CHECK(page.find("http") == std::string::npos);  // no external resource, no link out
}

}  // namespace abrec

namespace abrec {

TEST_CASE("phases: the sequences start again at a phase change; rollout keeps the A/B test's") {
  // Two shadow days in which the treatment looked far better (by chance), then the A/B test
  // with no difference: the A/B test's sequence does not inherit the shadow days' minimum p.
  Experiment e = TwoArms();
  // Arms of `users` each, the holdout and exploration at their promised 5% each.
  auto at = [](int control_binders, int treatment_binders, int users) {
    return BucketTotalsMap{{"holdout", Bucket(users / 9, 0, 0)},
                           {"exploration", Bucket(users / 9, 0, 0)},
                           {"control", Bucket(users, users / 10, control_binders)},
                           {"treatment", Bucket(users, users / 10, treatment_binders)}};
  };
  std::vector<DailyTotals> days = {{"2026-11-01", at(20, 60, 1'000)},
                                   {"2026-11-02", at(40, 110, 2'000)},
                                   {"2026-11-03", at(140, 150, 4'000)},
                                   {"2026-11-04", at(240, 245, 6'000)}};
  ExposureCounters counters;
  for (const char* day : {"2026-11-01", "2026-11-02"}) counters["control"][day]["phase|shadow"] = 9;
  for (const char* day : {"2026-11-03", "2026-11-04"})
    counters["control"][day]["phase|ab_test"] = 9;
  auto report = [&](const Experiment& exp, const ExposureCounters& c) {
    return BuildReport({.experiment = &exp,
                        .totals = days.back().buckets,
                        .history = days,
                        .counters = c,
                        .now_us = 1'795'910'400'000'000});
  };
  const auto with_phases = report(e, counters);
  const auto without = report(e, {});
  auto p_of = [](const nlohmann::ordered_json& r, std::size_t day) {
    const auto& lift = r["history"][day]["lifts"][0];
    INFO(lift.dump());
    REQUIRE(lift.contains("p_value_sequential"));
    return lift["p_value_sequential"].get<double>();
  };
  CHECK(with_phases["history"][0]["phase"] == "shadow");
  CHECK(with_phases["history"][2]["phase"] == "ab_test");
  // Without phases one sequence spans both: its intervals stop overlapping (the effect
  // changed), which the report says instead of drawing one, and nothing ships. With them the
  // A/B test's sequence starts afresh and does not inherit the shadow days' small p.
  CHECK(without["history"][3]["lifts"][0]["reason"] == "nonstationary");
  CHECK(without["decision"]["code"] == "continue");
  CHECK(p_of(with_phases, 3) > p_of(with_phases, 0));
  CHECK(p_of(with_phases, 0) < 0.05);
  CHECK(with_phases["decision"]["code"] == "continue");

  // In rollout, the figures and the decision are the A/B test's, said so.
  Experiment rolled = e;
  rolled.phase = Phase::kRollout;
  days.push_back({"2026-11-05", at(300, 420, 7'000)});
  counters["control"]["2026-11-05"]["phase|rollout"] = 9;
  const auto r = report(rolled, counters);
  CHECK(r["history"][4]["lifts"].size() == 1);  // the program's uplift only
  CHECK(r["decision"]["reasons"][0].get<std::string>().find("phase rollout since 2026-11-05") !=
        std::string::npos);
}

TEST_CASE("exposure sources: only the exposures abrec logged raise the SRM alert auto_stop reads") {
  // Issue 14's attack: 3,000 control-hashing users posted by a client on top of a healthy
  // split that abrec logged itself.
  auto counters = [](std::int64_t server_control, std::int64_t server_treatment,
                     std::int64_t client_control) {
    ExposureCounters c;
    auto& day = c["holdout"]["2026-11-29"];
    day["users|source|server"] = 500;
    c["exploration"]["2026-11-29"]["users|source|server"] = 500;
    c["control"]["2026-11-29"]["users|source|server"] = server_control;
    c["treatment"]["2026-11-29"]["users|source|server"] = server_treatment;
    if (client_control > 0) c["control"]["2026-11-29"]["users|source|client"] = client_control;
    return c;
  };
  Experiment e = TwoArms();
  const auto attacked = BuildReport({.experiment = &e,
                                     .totals = Totals(225, 360, 400, 7'500, 4'500),
                                     .counters = counters(4'500, 4'500, 3'000),
                                     .now_us = 1'795'910'400'000'000});
  CHECK(attacked["srm"]["ok"] == false);  // all exposures: the split is broken
  const auto& sources = attacked["exposure_sources"];
  CHECK(sources["server"]["srm"]["ok"] == true);
  CHECK(sources["server"]["buckets"]["control"]["users"] == 4'500);
  CHECK(sources["client"]["buckets"]["control"]["users"] == 3'000);
  CHECK(sources["client"]["users"] == 3'000);
  CHECK(sources["client"]["srm"]["ok"] == false);
  REQUIRE(sources["warnings"].size() == 1);
  std::vector<std::string> kinds;
  for (const Alert& a : AlertsOf(attacked)) kinds.push_back(a.kind);
  CHECK(kinds == std::vector<std::string>{"srm_posted", "client_exposures"});

  // A mismatch among abrec's own exposures is still the critical alert.
  const auto broken = BuildReport({.experiment = &e,
                                   .totals = Totals(225, 360, 400, 4'500, 3'900),
                                   .counters = counters(4'500, 3'900, 0),
                                   .now_us = 1'795'910'400'000'000});
  CHECK(broken["exposure_sources"]["server"]["srm"]["ok"] == false);
  CHECK(broken["exposure_sources"]["warnings"].empty());
  const auto alerts = AlertsOf(broken);
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0].kind == "srm");
  CHECK(alerts[0].message.find("among the exposures abrec logged") != std::string::npos);

  // Without recorded sources (a database from before them) every exposure is tested.
  const auto old = Report(TwoArms(), Totals(225, 360, 400, 4'500, 3'900));
  CHECK(old["exposure_sources"].contains("reason"));
  REQUIRE(AlertsOf(old).size() == 1);
  CHECK(AlertsOf(old)[0].kind == "srm");
}

}  // namespace abrec
