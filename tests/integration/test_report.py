#!/usr/bin/python3
"""GET /v1/experiments/{key}/report and `abrec report`, end to end: simulated users with known
click and bind probabilities per bucket are exposed and convert through POST /v1/events; the
report's bucket sizes, metric values and effects are checked against an independent
recomputation from what was posted (statsmodels' two-proportion z-test and the Wald interval,
the formulas of ../shared/STATS-NOTES.md), and its decision against the world's truth: a
treatment that raises bind rate ships; one that raises clicks while binds fall is click-bait.
Over 400 lines: ReportTest's checks share one simulated world built once (setUpClass, the
expensive part), and its helpers serve the two smaller cases after it.
"""

import html.parser
import json
import math
import os
import re
import random
import subprocess
import sys
import unittest

from scipy import stats as sps
from statsmodels.stats.proportion import proportions_ztest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402

USERS = 6000
# True probabilities of clicking (per user) and binding, per bucket.
WORLDS = {
    "rep_win": {"holdout": (0.10, 0.02), "exploration": (0.15, 0.03),
                "control": (0.20, 0.05), "treatment": (0.30, 0.10)},
    "rep_bait": {"holdout": (0.10, 0.02), "exploration": (0.15, 0.03),
                 "control": (0.20, 0.08), "treatment": (0.40, 0.03)},
}
SPLIT = [("control", "legacy_rules", 0.5), ("treatment", "recommender", 0.5)]


def experiment_text(key, surface, guardrails="    - {metric: latency_p99_ms, max: 200}\n"
                    "    - {metric: bind_rate, min_relative_change: -0.02}"):
    return f"""experiment: {key}
description: report test {key}
surface: {surface}
owner: integration-tests@example.com
phase: ab_test
traffic:
  coverage: 1.0
  split: {{control: 0.5, treatment: 0.5}}
variants:
  control: {{policy: legacy_rules}}
  treatment: {{policy: recommender, model: hybrid}}
metrics:
  primary: bind_rate
  secondary: [click_rate, premium_per_user, revenue_per_user]
  guardrails:
{guardrails}
analysis: {{alpha: 0.05, sequential: true, tuning_n: 5000, mde: 0.05}}
"""


class Marks(html.parser.HTMLParser):
    """The dashboard's charts: chart name -> the data-* attributes of each mark, in order."""

    def __init__(self):
        super().__init__()
        self.charts, self.current, self.decisions, self.external = {}, None, [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg" and "data-chart" in a:
            self.current = a["data-chart"]
            self.charts[self.current] = []
        elif self.current and "data-value" in a:
            self.charts[self.current].append(a)
        if "data-decision" in a:
            self.decisions.append(a["data-decision"])
        for key in ("src", "href"):
            if key in a and re.match(r"^(https?:)?//", a[key]):
                self.external.append(a[key])
        if tag in ("script", "link"):
            self.external.append(tag)

    def handle_endtag(self, tag):
        if tag == "svg":
            self.current = None


def parse_marks(page):
    m = Marks()
    m.feed(page)
    m.html = page
    return m


def make_report_workspace(prefix="abrec-report-"):
    ws = h.Workspace(prefix=prefix)
    ws.write_config(extra_surfaces=[("s1", "legacy_rules"), ("s2", "legacy_rules"),
                                    ("s3", "legacy_rules")])
    ws.write_experiment("rep_win.yaml", experiment_text("rep_win", "s1"))
    ws.write_experiment("rep_bait.yaml", experiment_text("rep_bait", "s2"))
    ws.write_experiment("rep_lat.yaml", experiment_text(
        "rep_lat", "s3", "    - {metric: latency_p99_ms, max: 200}\n"
        "    - {metric: fallback_rate, max: 0.5}") + "fairness: {attributes: [sex], "
        "max_parity_gap: 0.10}\n")
    return ws


def populate(cls):
    """Posts the worlds' events and rep_lat's recommendations to cls.svc; keeps the truth on
    cls."""
    cls.truth = {}
    rng = random.Random(20261129)
    for key, world in WORLDS.items():
        exp = {"key": key, "phase": "ab_test", "coverage": 1.0, "variants": SPLIT}
        counts = {b: {"users": 0, "clickers": 0, "binders": 0, "unpriced": 0} for b in world}
        events = []
        for i in range(USERS):
            user = f"{key}-u{i}"
            bucket = h.oracle_assign(user, exp)["bucket"]
            p_click, p_bind = world[bucket]
            c = counts[bucket]
            c["users"] += 1
            events.append({"event_id": f"{user}-x", "type": "exposure", "user_id": user,
                           "experiment": key,
                           "items": [{"product_id": "pet", "position": 1}]})
            if rng.random() < p_click:
                c["clickers"] += 1
                events.append({"event_id": f"{user}-c", "type": "click", "user_id": user,
                               "product_id": "pet"})
            if rng.random() < p_bind:
                c["binders"] += 1
                # One binder in seven buys a partner's product the catalog does not price:
                # premium, but no revenue.
                product = "pet" if c["binders"] % 7 else "partner_travel"
                c["unpriced"] += product != "pet"
                events.append({"event_id": f"{user}-b", "type": "bind", "user_id": user,
                               "product_id": product, "premium": 290})
        for start in range(0, len(events), 5000):
            status, _, data = cls.svc.request(
                "POST", "/v1/events", body=json.dumps({"events": events[start:start + 5000]}),
                headers={"Content-Type": "application/json"})
            doc = json.loads(data)
            assert status == 202 and not doc["rejected"], (status, doc["rejected"][:3])
        cls.truth[key] = counts
    # rep_lat: 300 recommendations through the service (surface s3), half to women.
    cls.lat_served, cls.lat_by_sex = {}, {}
    for i in range(300):
        sex = "FM"[i % 2]
        status, doc = cls.svc.post_json("/v1/recommend", {
            "user_id": f"lat-u{i}", "surface": "s3",
            "attributes": {"age": 40 + i % 30, "sex": sex, "holdings": []}})
        assert status == 200 and doc["experiment"] == "rep_lat", (status, doc)
        assert doc["bucket"] != "treatment" or doc["fallback"] == "no_model", doc
        cls.lat_served[doc["bucket"]] = cls.lat_served.get(doc["bucket"], 0) + 1
        cls.lat_by_sex.setdefault(doc["bucket"], {}).setdefault(sex, 0)
        cls.lat_by_sex[doc["bucket"]][sex] += 1


class ReportTest(h.ServiceTestCase):
    @classmethod
    def make_workspace(cls):
        return make_report_workspace()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        populate(cls)

    def test_served_latency_and_the_fallback_guardrail(self):
        # The workspace has no model: the treatment arm is served by the rules (no_model),
        # so its fallback rate is 1, past the experiment's limit of 0.5.
        served, by_sex = self.lat_served, self.lat_by_sex
        doc = self.report("rep_lat")
        arms = doc["latency"]["arms"]
        self.assertEqual({b: a["exposures"] for b, a in arms.items()}, served)
        self.assertEqual(arms["treatment"]["fallback_rate"], 1.0)
        self.assertEqual(arms["control"]["fallback_rate"], 0.0)
        for a in arms.values():
            self.assertGreater(a["p50_ms"], 0)
            self.assertGreaterEqual(a["p99_ms"], a["p50_ms"])
            self.assertLess(a["p99_ms"], 200)
        rows = {g["metric"]: g for g in doc["guardrails"]}
        self.assertTrue(rows["fallback_rate"]["breached"], rows)
        self.assertEqual(rows["fallback_rate"]["value"], 1.0)
        self.assertFalse(rows["latency_p99_ms"]["breached"], rows)
        self.assertEqual(doc["decision"]["code"], "stop_guardrail", doc["decision"])
        self.assertIn("fallback_rate is 1", " ".join(doc["decision"]["reasons"]))
        # Fairness counts every exposure of each variant by sex (the experiment's attribute);
        # drift needs a second day.
        for arm in ("control", "treatment"):
            self.assertEqual(doc["fairness"]["arms"][arm]["sex"]["groups"], by_sex[arm])
            self.assertEqual(doc["drift"]["arms"][arm]["reason"],
                             "drift needs exposures on two days at least")

    def report(self, key):
        status, doc = self.svc.get_json(f"/v1/experiments/{key}/report")
        self.assertEqual(status, 200, doc)
        return doc

    def metric(self, doc, name, variant="treatment"):
        rows = [m for m in doc["metrics"] if m["metric"] == name and m["variant"] == variant]
        self.assertEqual(len(rows), 1, doc["metrics"])
        return rows[0]

    def test_fields_buckets_and_srm(self):
        doc = self.report("rep_win")
        for field in ("experiment", "phase", "generated_at", "buckets", "srm", "metrics",
                      "uplift_vs_holdout", "exploration", "fairness", "drift", "latency",
                      "history", "decision"):
            self.assertIn(field, doc)
        self.assertEqual((doc["experiment"], doc["phase"]), ("rep_win", "ab_test"))
        truth = self.truth["rep_win"]
        self.assertEqual({b: v["users"] for b, v in doc["buckets"].items()},
                         {b: truth[b]["users"] for b in truth})
        srm = doc["srm"]
        self.assertTrue(srm["ok"], srm)
        self.assertEqual(list(srm["expected"]), ["holdout", "exploration", "control", "treatment"])
        for bucket, weight in zip(srm["expected"], (0.05, 0.05, 0.45, 0.45)):
            self.assertAlmostEqual(srm["expected"][bucket], weight, places=12)
        observed = [truth[b]["users"] for b in ("holdout", "exploration", "control", "treatment")]
        expected = [USERS * w for w in (0.05, 0.05, 0.45, 0.45)]
        self.assertAlmostEqual(srm["p_value_chi_squared"], sps.chisquare(observed, expected).pvalue,
                               places=9)
        # The p-value the decision and the alerts read is the anytime-valid one (Lindon and
        # Malek 2022): 1/BF of the Dirichlet-multinomial mixture (concentration 10,000) against
        # the promised shares, here with scipy's gammaln (one day of history: one look).
        from scipy.special import gammaln
        import numpy as np
        theta = np.array([0.05, 0.05, 0.45, 0.45])
        a = 10_000 * theta
        n = np.array(observed, dtype=float)
        log_bf = (gammaln(a.sum()) - gammaln(a.sum() + n.sum()) + np.sum(gammaln(a + n) - gammaln(a))
                  - np.sum(n * np.log(theta)))
        self.assertAlmostEqual(srm["p_value"], min(1.0, float(np.exp(-log_bf))), places=9)
        self.assertEqual(len(doc["history"]), 1)
        self.assertEqual(doc["history"][0]["users"], {b: truth[b]["users"] for b in truth})

    def test_bind_rate_against_statsmodels(self):
        doc = self.report("rep_win")
        t, c = self.truth["rep_win"]["treatment"], self.truth["rep_win"]["control"]
        m = self.metric(doc, "bind_rate")
        pt, pc = t["binders"] / t["users"], c["binders"] / c["users"]
        self.assertEqual((m["users"], m["baseline_users"]), (t["users"], c["users"]))
        self.assertAlmostEqual(m["value"], pt, places=12)
        self.assertAlmostEqual(m["baseline_value"], pc, places=12)
        a = m["absolute"]
        self.assertAlmostEqual(a["estimate"], pt - pc, places=12)
        # Pooled two-proportion z-test (statsmodels' default) and the unpooled Wald interval.
        _, p = proportions_ztest([t["binders"], c["binders"]], [t["users"], c["users"]])
        self.assertAlmostEqual(a["p_value"], p, delta=1e-9 + 1e-6 * p)
        half = sps.norm.ppf(0.975) * ((pt * (1 - pt) / t["users"] + pc * (1 - pc) / c["users"])
                                      ** 0.5)
        self.assertAlmostEqual(a["ci"][0], pt - pc - half, places=9)
        self.assertAlmostEqual(a["ci"][1], pt - pc + half, places=9)
        # The confidence sequence is wider than the fixed interval and holds the estimate.
        lo, hi = a["ci_sequential"]
        self.assertLess(lo, a["ci"][0])
        self.assertGreater(hi, a["ci"][1])
        self.assertGreaterEqual(a["p_value_sequential"], a["p_value"])
        self.assertEqual(m["p_value_adjusted"], a["p_value_sequential"])  # primary: unadjusted
        rel = m["relative"]
        self.assertAlmostEqual(rel["estimate"], (pt - pc) / pc, places=9)
        # The true relative lift (0.10 / 0.05 − 1 = 1.0) is inside both intervals.
        self.assertLess(rel["ci"][0], 1.0)
        self.assertGreater(rel["ci"][1], 1.0)
        self.assertLess(rel["ci_sequential"][0], 1.0)
        self.assertGreater(rel["ci_sequential"][1], 1.0)
        # Secondary metrics: Holm's step-down over click_rate, premium_per_user and
        # revenue_per_user (statsmodels' multipletests, method "holm").
        from statsmodels.stats.multitest import multipletests
        names = ("click_rate", "premium_per_user", "revenue_per_user")
        ps = [self.metric(doc, n)["absolute"]["p_value_sequential"] for n in names]
        holm = multipletests(ps, method="holm")[1]
        for name, expected in zip(names, holm):
            self.assertAlmostEqual(self.metric(doc, name)["p_value_adjusted"], expected, places=12)

    def test_premium_per_user(self):
        doc = self.report("rep_win")
        t = self.truth["rep_win"]["treatment"]
        m = self.metric(doc, "premium_per_user")
        self.assertAlmostEqual(m["value"], 290 * t["binders"] / t["users"], places=9)

    def test_revenue_per_user(self):
        """premium × the catalog's margin (pet: 0.24) per exposed user; the binds of a product
        the catalog does not price add premium but no revenue, and are counted."""
        doc = self.report("rep_win")
        t, c = self.truth["rep_win"]["treatment"], self.truth["rep_win"]["control"]
        m = self.metric(doc, "revenue_per_user")
        revenue = lambda b: 290 * 0.24 * (b["binders"] - b["unpriced"]) / b["users"]
        self.assertAlmostEqual(m["value"], revenue(t), places=9)
        self.assertAlmostEqual(m["baseline_value"], revenue(c), places=9)
        self.assertEqual(m["unpriced_binds"]["variant"], t["unpriced"])
        self.assertEqual(m["unpriced_binds"]["baseline"], c["unpriced"])
        self.assertGreater(t["unpriced"], 0)
        # The difference of means and its interval: Welch's t-test on the users' revenues
        # (scipy), the normal interval of STATS-NOTES.md.
        per_user = lambda b: ([69.6] * (b["binders"] - b["unpriced"])
                              + [0.0] * (b["users"] - b["binders"] + b["unpriced"]))
        welch = sps.ttest_ind(per_user(t), per_user(c), equal_var=False)
        a = m["absolute"]
        self.assertAlmostEqual(a["estimate"], revenue(t) - revenue(c), places=9)
        self.assertAlmostEqual(a["p_value"], welch.pvalue, places=7)
        # The revenue rows of the holdout uplift are there too.
        rows = {(u["metric"], u["arm"]): u for u in doc["uplift_vs_holdout"]}
        self.assertAlmostEqual(rows[("revenue_per_user", "treatment")]["value"], revenue(t),
                               places=9)

    def test_uplift_against_the_holdout(self):
        doc = self.report("rep_win")
        truth = self.truth["rep_win"]
        rows = {(u["metric"], u["arm"]): u for u in doc["uplift_vs_holdout"]}
        hold = truth["holdout"]
        for arm in ("control", "treatment", "exploration"):
            u = rows[("bind_rate", arm)]
            self.assertEqual((u["users"], u["holdout_users"]), (truth[arm]["users"], hold["users"]))
            self.assertAlmostEqual(u["absolute"]["estimate"],
                                   truth[arm]["binders"] / truth[arm]["users"]
                                   - hold["binders"] / hold["users"], places=12)
        everyone = [truth[b] for b in ("control", "treatment", "exploration")]
        u = rows[("bind_rate", "all")]
        self.assertEqual(u["users"], sum(x["users"] for x in everyone))
        self.assertAlmostEqual(u["value"], sum(x["binders"] for x in everyone) / u["users"],
                               places=12)
        # The relative lift's fixed-horizon p-value agrees with its own interval (p < alpha
        # exactly when the interval excludes 0). (Not so for proportions' absolute effect: the
        # p-value is the pooled z-test's, the interval unpooled Wald's, as in statsmodels.)
        for row in doc["uplift_vs_holdout"] + doc["metrics"]:
            for kind in ("relative",):
                e = row[kind]
                if "reason" not in e:
                    self.assertEqual(e["p_value"] < 0.05, e["ci"][0] > 0 or e["ci"][1] < 0,
                                     (row["metric"], row.get("arm", row.get("variant")), kind, e))
        # The program's true bind rate (~0.075) is well above the holdout's 0.02. (The relative
        # lift's interval is wide: the holdout has ~300 users and a handful of binds.)
        self.assertGreater(u["absolute"]["ci_sequential"][0], 0)

    def test_decisions_match_the_worlds(self):
        win = self.report("rep_win")
        self.assertEqual(win["decision"]["code"], "ship", win["decision"])
        self.assertIn("bind_rate", win["decision"]["reasons"][0])
        bait = self.report("rep_bait")
        self.assertEqual(bait["decision"]["code"], "clickbait", bait["decision"])
        self.assertTrue(any("click-bait: click rate significantly up while bind rate is "
                            "significantly down" in r for r in bait["decision"]["reasons"]),
                        bait["decision"])
        # The bind-rate guardrail (no worse than −2%) is breached too, and said so.
        g = [x for x in bait["guardrails"] if x["metric"] == "bind_rate"][0]
        self.assertTrue(g["breached"], g)
        self.assertTrue(any("guardrail breached" in r for r in bait["decision"]["reasons"]))

    def test_cli_report_equals_the_endpoint(self):
        http = self.report("rep_bait")
        r = subprocess.run([h.ABREC_BIN, "report", "rep_bait", "--config", self.ws.config_path,
                            "--format", "json"], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        cli = json.loads(r.stdout)
        http.pop("generated_at")
        cli.pop("generated_at")
        self.assertEqual(cli, http)
        text = subprocess.run([h.ABREC_BIN, "report", "rep_bait", "--config",
                               self.ws.config_path], capture_output=True, timeout=60)
        self.assertEqual(text.returncode, 0, text.stderr.decode())
        self.assertIn("DECISION: clickbait", text.stdout.decode())
        # The unpriced binds of revenue_per_user, with their counts (the text and the page).
        u = self.metric(http, "revenue_per_user")["unpriced_binds"]
        self.assertIn(f"unpriced binds {u['variant']} vs {u['baseline']}: ", text.stdout.decode())
        self.assertIn(f"revenue_per_user: {u['variant']} unpriced binds in treatment",
                      self.dashboard("/dashboards/rep_bait"))
        bad = subprocess.run([h.ABREC_BIN, "report", "nope", "--config", self.ws.config_path],
                             capture_output=True, timeout=60)
        self.assertEqual(bad.returncode, 1)
        self.assertIn('no experiment "nope"', bad.stderr.decode())

    def dashboard(self, path):
        status, headers, data = self.svc.request("GET", path)
        self.assertEqual(status, 200, data[:500])
        self.assertTrue(headers["content-type"].startswith("text/html"), headers)
        return data.decode("utf-8")

    def test_dashboard_draws_the_reports_figures(self):
        doc = self.report("rep_win")
        page = parse_marks(self.dashboard("/dashboards/rep_win"))
        self.assertEqual(page.external, [])  # nothing loaded from elsewhere
        self.assertEqual(page.decisions, [doc["decision"]["code"]])
        drawn = {m["data-label"]: int(float(m["data-value"])) for m in page.charts["buckets"]}
        self.assertEqual(drawn, {b: v["users"] for b, v in doc["buckets"].items()})
        per_arm = {m["data-label"]: float(m["data-value"]) for m in page.charts["primary-per-arm"]}
        for u in doc["uplift_vs_holdout"]:
            if u["metric"] == "bind_rate":
                self.assertEqual(per_arm[u["arm"]], u["value"])
                self.assertEqual(per_arm["holdout"], u["holdout_value"])
        lifts = [(m["data-label"], m["data-day"], float(m["data-value"]), float(m["data-low"]),
                  float(m["data-high"])) for m in page.charts["lift-history"]]
        # An end the data cannot bound yet is null in the JSON, Infinity on the page.
        end = lambda v, unbounded: unbounded if v is None else v
        expected = [(l["arm"], day["day"], l["relative"], end(l["ci_sequential"][0], -math.inf),
                     end(l["ci_sequential"][1], math.inf))
                    for day in doc["history"] for l in day["lifts"] if "relative" in l]
        self.assertEqual(sorted(lifts), sorted(expected))
        self.assertTrue(lifts)

    def test_dashboard_index_and_errors(self):
        page = parse_marks(self.dashboard("/dashboards/"))
        codes = {k: self.report(k)["decision"]["code"] for k in ("rep_bait", "rep_lat", "rep_win")}
        self.assertEqual(page.decisions, [codes[k] for k in sorted(codes)])
        self.assertEqual(page.external, [])
        status, doc = self.svc.get_json("/dashboards/nope")
        self.assertEqual(status, 404)
        self.assertEqual(doc["error"]["field"], "experiment")
        r = subprocess.run([h.ABREC_BIN, "report", "rep_win", "--config", self.ws.config_path,
                            "--format", "html"], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        cli = parse_marks(r.stdout.decode())
        served = parse_marks(self.dashboard("/dashboards/rep_win"))
        self.assertEqual(cli.charts, served.charts)

    def test_alerts_and_metrics(self):
        status, doc = self.svc.get_json("/v1/alerts")
        self.assertEqual(status, 200, doc)
        got = {(a["experiment"], a["kind"], a["severity"]) for a in doc["alerts"]}
        self.assertIn(("rep_bait", "guardrail", "critical"), got)
        self.assertIn(("rep_lat", "guardrail", "critical"), got)  # fallback_rate past 0.5
        self.assertIn(("rep_lat", "fallback_rate", "warning"), got)
        self.assertFalse(any(a["experiment"] == "rep_win" for a in doc["alerts"]), doc)
        for a in doc["alerts"]:
            self.assertTrue(a["message"], a)
        status, _, body = self.svc.request("GET", "/metrics")
        self.assertEqual(status, 200)
        text = body.decode()
        self.assertIn('abrec_alerts{experiment="rep_bait",kind="guardrail",severity="critical"} 1',
                      text)
        self.assertIn('abrec_alerts{experiment="rep_lat",kind="fallback_rate",severity="warning"}',
                      text)
        # The dashboards show the same alerts: the index per experiment, and each page.
        index = self.dashboard("/dashboards/")
        for key in ("rep_win", "rep_bait", "rep_lat"):
            want = sum(1 for a in doc["alerts"] if a["experiment"] == key)
            row = re.search(r'<tr data-experiment="%s">.*?</tr>' % key, index, re.S).group(0)
            self.assertIn(f'data-alerts="{want}"', row, key)
        page = self.dashboard("/dashboards/rep_lat")
        shown = re.findall(r'data-alert="([a-z_]+)"', page)
        self.assertEqual(sorted(shown), sorted(a["kind"] for a in doc["alerts"]
                                               if a["experiment"] == "rep_lat"))

    def test_unknown_experiment_and_bad_method(self):
        status, doc = self.svc.get_json("/v1/experiments/nope/report")
        self.assertEqual(status, 404)
        self.assertEqual(doc["error"]["field"], "experiment")
        status, _, _ = self.svc.request("POST", "/v1/experiments/rep_win/report", body="{}")
        self.assertEqual(status, 405)

    def test_zz_contract_checker_passes_last(self):
        checker = os.path.join(h.SOURCE_DIR, "..", "shared", "contracts", "check_api.py")
        if not os.path.exists(checker):
            self.skipTest("../shared/contracts/check_api.py is not here")
        # The checker sends no key: it goes through a gateway that adds a read+serve one.
        key = h.create_key(self.ws.config_path, "serve,read", "contract-checker")
        h.wait_until(lambda: self.svc.request("GET", "/v1/experiments", headers={
            "Authorization": f"Bearer {key}"})[0] == 200, timeout=5, message="key accepted")
        with h.KeyProxy(self.svc.port, key) as proxy:
            r = subprocess.run(["/usr/bin/python3", checker, proxy.url],
                               capture_output=True, timeout=120)
        out = r.stdout.decode() + r.stderr.decode()
        self.assertEqual(r.returncode, 0, out)
        self.assertNotIn("FAIL", out)


def age_band(age):
    """The age bands of the fairness groups, written from their definition (DESIGN.md)."""
    if age < 18:
        return "under_18"
    if age < 25:
        return "18-24"
    if age >= 65:
        return "65+"
    lo = 25 + (age - 25) // 10 * 10
    return f"{lo}-{lo + 9}"


class FairnessUsersTest(h.ServiceTestCase):
    """The fairness section counts users: each user once per group, and once per (group,
    product) when shown the product at least once, whatever the number of lists served. The
    counts are checked against an oracle kept here from the answers of POST /v1/recommend,
    through an erasure and a restart; the χ² of each product against scipy's
    chi2_contingency(correction=False) on the per-user table."""

    ATTRIBUTES = ("sex", "age_band")

    @classmethod
    def make_workspace(cls):
        ws = h.Workspace(prefix="abrec-fairness-")
        ws.write_config(extra_surfaces=[("s4", "legacy_rules")])
        ws.write_experiment("rep_fair.yaml", experiment_text("rep_fair", "s4")
                            + "fairness: {attributes: [sex, age_band], max_parity_gap: 0.10}\n")
        return ws

    def setUp(self):
        # bucket -> attribute -> group -> users; bucket -> attribute -> (group, product) -> users
        self.users, self.shown = {}, {}
        self.profile = {}

    def token(self):
        with open(os.path.join(self.ws.var_dir, "admin.token"), encoding="utf-8") as f:
            return f.read().strip()

    def serve(self, user, k):
        sex, age = self.profile[user]
        status, doc = self.svc.post_json("/v1/recommend", {
            "user_id": user, "surface": "s4", "k": k,
            "attributes": {"age": age, "sex": sex, "holdings": []}})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["experiment"], "rep_fair", doc)
        bucket = doc["bucket"]
        groups = {"sex": sex, "age_band": age_band(age)}
        for attribute in self.ATTRIBUTES:
            g = groups[attribute]
            self.users.setdefault(bucket, {}).setdefault(attribute, {}).setdefault(g, set()).add(
                user)
            for item in doc["items"]:
                self.shown.setdefault(bucket, {}).setdefault(attribute, {}).setdefault(
                    (g, item["product_id"]), set()).add(user)

    def forget(self, user):
        for tables in (self.users, self.shown):
            for by_attribute in tables.values():
                for by_key in by_attribute.values():
                    for members in by_key.values():
                        members.discard(user)

    def check_report(self):
        status, doc = self.svc.get_json("/v1/experiments/rep_fair/report")
        self.assertEqual(status, 200, doc)
        fair = doc["fairness"]
        self.assertEqual(fair["unit"], "users")
        # One harm test's share of the error budget: alpha / (2 · 1 treatment · 3 harm tests:
        # the bind-rate guardrail, click-bait and fairness).
        self.assertAlmostEqual(fair["level"], 0.05 / 6, places=15)
        self.assertRegex(fair["since"], r"^\d{4}-\d{2}-\d{2}$")
        compared = 0
        for bucket in ("control", "treatment"):
            for attribute in self.ATTRIBUTES:
                a = fair["arms"][bucket][attribute]
                users = {g: len(m) for g, m in self.users[bucket][attribute].items() if m}
                self.assertEqual(a["groups"], users, (bucket, attribute))
                for row in a["products"]:
                    product = row["product"]
                    shown = {g: len(self.shown[bucket][attribute].get((g, product), ()))
                             for g in users}
                    self.assertEqual(row["users_shown"], shown, (bucket, attribute, product))
                    for g in users:
                        self.assertAlmostEqual(row["rates"][g], shown[g] / users[g], places=12)
                    total = sum(shown.values())
                    if 0 < total < sum(users.values()):
                        table = [[shown[g], users[g] - shown[g]] for g in sorted(users)]
                        chi2, p, _, _ = sps.chi2_contingency(table, correction=False)
                        self.assertAlmostEqual(row["chi_squared"], chi2, delta=1e-9 * max(1, chi2))
                        self.assertAlmostEqual(row["p_value"], p, delta=1e-9)
                        compared += 1
                # Every product the arm showed a user of these groups has its row.
                expected = {p for (g, p), m in self.shown[bucket][attribute].items() if m}
                self.assertEqual({r["product"] for r in a["products"]}, expected)
        self.assertGreater(compared, 0)
        return doc

    def test_users_are_counted_once_through_erasure_and_restart(self):
        for i in range(160):
            self.profile[f"fair-u{i}"] = ("FM"[i % 2], 19 + (i * 7) % 52)
        # Three lists each, of 2, 3 and 4 products: a user counts once per group, and once per
        # product shown in any of them.
        for k in (2, 3, 4):
            for user in self.profile:
                self.serve(user, k)
        self.check_report()
        erased = [f"fair-u{i}" for i in range(0, 160, 16)]
        for user in erased:
            status, _, body = self.svc.request(
                "DELETE", f"/v1/users/{user}",
                headers={"Authorization": f"Bearer {self.token()}"})
            self.assertEqual(status, 200, body)
            self.forget(user)
        self.check_report()
        # A restart remembers who was counted: the same lists again count no one twice; the
        # erased users come back as new users.
        self.assertEqual(self.svc.stop(), 0, self.svc.stderr_text())
        type(self).svc = h.Service(self.ws.config_path).start()
        before = self.check_report()
        for user in self.profile:
            if user not in erased:
                self.serve(user, 3)
        after = self.check_report()
        self.assertEqual(before["fairness"]["arms"], after["fairness"]["arms"])
        for user in erased:
            self.serve(user, 4)
        doc = self.check_report()
        # The text report says the same, per user.
        r = subprocess.run([h.ABREC_BIN, "report", "rep_fair", "--config", self.ws.config_path],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn("fairness (share of each group's users shown a product", r.stdout.decode())
        self.assertIn(f"since {doc['fairness']['since']}", r.stdout.decode())


class CappedPremiumTest(h.ServiceTestCase):
    """analysis.premium_cap_quantile: each user's premium (and revenue) is capped at the q
    quantile of the non-zero per-user amounts of every bucket together, and the report tests
    the capped values. Checked against numpy's quantile and scipy's Welch t-test on the same
    capped values, computed here from what was posted."""

    Q = 0.9

    @classmethod
    def make_workspace(cls):
        ws = h.Workspace(prefix="abrec-cap-")
        ws.write_config(extra_surfaces=[("s5", "legacy_rules")])
        ws.write_experiment("rep_cap.yaml", experiment_text("rep_cap", "s5").replace(
            "mde: 0.05}", f"mde: 0.05, premium_cap_quantile: {cls.Q}}}"))
        return ws

    def test_premium_is_capped_at_the_pooled_quantile(self):
        import numpy as np
        rng = random.Random(7)
        exp = {"key": "rep_cap", "phase": "ab_test", "coverage": 1.0, "variants": SPLIT}
        premium = {}  # bucket -> per-user premium in cents
        events = []
        for i in range(4000):
            user = f"cap-u{i}"
            bucket = h.oracle_assign(user, exp)["bucket"]
            events.append({"event_id": f"{user}-x", "type": "exposure", "user_id": user,
                           "experiment": "rep_cap", "items": [{"product_id": "pet",
                                                               "position": 1}]})
            total = 0
            # One binder in eight; a few bind twice; premiums heavy-tailed (lognormal).
            binds = 0 if rng.random() > 0.125 else (2 if rng.random() < 0.2 else 1)
            for b in range(binds):
                cents = int(round(rng.lognormvariate(5.5, 1.5) * 100))
                total += cents
                events.append({"event_id": f"{user}-b{b}", "type": "bind", "user_id": user,
                               "product_id": "pet", "premium": cents / 100})
            premium.setdefault(bucket, []).append(total)
        for start in range(0, len(events), 5000):
            status, _, data = self.svc.request(
                "POST", "/v1/events", body=json.dumps({"events": events[start:start + 5000]}),
                headers={"Content-Type": "application/json"})
            self.assertEqual(status, 202, data[:300])
        status, doc = self.svc.get_json("/v1/experiments/rep_cap/report")
        self.assertEqual(status, 200, doc)
        everyone = np.array([v for values in premium.values() for v in values], dtype=float)
        cap = round(float(np.quantile(everyone[everyone > 0], self.Q)))
        info = doc["definition"]["premium_cap"]
        self.assertEqual(info["quantile"], self.Q)
        self.assertAlmostEqual(info["premium"], cap / 100, places=9)
        self.assertEqual(info["premium_capped_users"], int((everyone > cap).sum()))
        t = np.minimum(np.array(premium["treatment"], dtype=float), cap) / 100
        c = np.minimum(np.array(premium["control"], dtype=float), cap) / 100
        row = [m for m in doc["metrics"] if m["metric"] == "premium_per_user"][0]
        self.assertAlmostEqual(row["value"], t.mean(), places=9)
        self.assertAlmostEqual(row["baseline_value"], c.mean(), places=9)
        self.assertAlmostEqual(row["uncapped_value"],
                               np.mean(premium["treatment"]) / 100, places=9)
        welch = sps.ttest_ind(t, c, equal_var=False)
        a = row["absolute"]
        self.assertAlmostEqual(a["estimate"], t.mean() - c.mean(), places=9)
        self.assertAlmostEqual(a["p_value"], welch.pvalue, places=9)
        # The always-valid figures read the same capped values: the interval holds the
        # estimate and agrees with its p-value.
        lo, hi = a["ci_sequential"]
        self.assertLess(lo, a["estimate"])
        self.assertGreater(hi, a["estimate"])
        self.assertEqual(a["p_value_sequential"] < 0.05, lo > 0 or hi < 0)


if __name__ == "__main__":
    unittest.main(verbosity=1)
