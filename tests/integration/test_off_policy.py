#!/usr/bin/python3
"""The report's off-policy estimate (exploration.off_policy), end to end: exploration users get
random lists from /v1/recommend, the service marks which products each variant's policy would
also have shown, how many of them the random policy can show, and the reward model's
predictions; clicks and binds naming the request go through POST /v1/events. The report's IPS,
SNIPS and DR of each variant's clicks, binds and premium per list must equal an independent
recomputation from the audit records and the posted outcomes (the estimators written out here,
their standard errors clustered by user from statsmodels), also after an erasure, through
`abrec report`, and after a restart; and they must cover the world's truth: clicks are drawn
per product with known probabilities, so the expected clicks of a variant's list are the sum of
its products' probabilities, known exactly for every list the variant's own arm served."""

import json
import math
import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import statsmodels.api as sm  # noqa: E402

import abrec_harness as h  # noqa: E402
from test_recommend import install_model  # noqa: E402

EXP = {"key": "ope", "phase": "ab_test", "coverage": 1.0, "namespace": None,
       "surface": "portal_home",
       "variants": [("control", "legacy_rules", 0.5), ("treatment", "recommender", 0.5)]}
# The world: each product's click probability when shown, and bind probability and premium.
rng0 = random.Random(6)
PRODUCTS = ["auto_third_party", "auto_comprehensive", "auto_bundle", "roadside", "home_building",
            "home_contents", "student_contents", "earthquake", "umbrella", "term_life",
            "whole_life", "funeral", "health_hospital", "health_dental", "critical_illness",
            "income_protection", "travel_single", "travel_annual", "gadget", "pet",
            "cyber_identity"]
P_CLICK = {p: round(rng0.uniform(0.02, 0.45), 3) for p in PRODUCTS}
P_BIND = {p: round(P_CLICK[p] * rng0.uniform(0.05, 0.4), 4) for p in PRODUCTS}
PREMIUM = {p: rng0.choice([75, 160, 290, 540, 920]) for p in PRODUCTS}
LISTS_PER_EXPLORER = 6
LISTS_PER_ARM_USER = 2


def attributes(rng):
    return {"age": rng.randint(18, 80), "sex": rng.choice("FM"),
            "region": rng.choice(["coast", "north", "south"]),
            "holdings": rng.sample(["auto_third_party", "home_contents", "pet", "travel_single"],
                                   rng.randint(0, 2))}


class OffPolicyTest(h.ServiceTestCase):
    @classmethod
    def make_workspace(cls):
        ws = h.Workspace(prefix="abrec-ope-")
        install_model(ws)
        ws.write_experiment("ope.yaml", h.experiment_yaml("ope"))
        return ws

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(os.path.join(cls.ws.var_dir, "admin.token"), encoding="utf-8") as f:
            cls.auth = {"Authorization": f"Bearer {f.read().strip()}"}
        rng = random.Random(20261129)
        users = {"exploration": [], "control": [], "treatment": []}
        for i in range(6000):
            user = f"ope-{i}"
            bucket = h.oracle_assign(user, EXP)["bucket"]
            if bucket in users and (bucket == "exploration" or len(users[bucket]) < 250):
                users[bucket].append(user)
        cls.served = {b: [] for b in users}  # bucket -> [(request_id, items)]
        events = []
        for bucket, ids in users.items():
            per_user = LISTS_PER_EXPLORER if bucket == "exploration" else LISTS_PER_ARM_USER
            for user in ids:
                for j in range(per_user):
                    status, r = cls.svc.post_json("/v1/recommend", {
                        "user_id": user, "attributes": attributes(rng), "k": 4})
                    assert status == 200 and r["bucket"] == bucket, r
                    items = [it["product_id"] for it in r["items"]]
                    cls.served[bucket].append((r["request_id"], items))
                    for p in items:
                        if rng.random() < P_CLICK[p]:
                            events.append({"event_id": f"c-{r['request_id']}-{p}", "type": "click",
                                           "user_id": user, "request_id": r["request_id"],
                                           "product_id": p})
                        if rng.random() < P_BIND[p]:
                            events.append({"event_id": f"b-{r['request_id']}-{p}", "type": "bind",
                                           "user_id": user, "request_id": r["request_id"],
                                           "product_id": p, "premium": PREMIUM[p]})
        cls.outcomes = events
        for start in range(0, len(events), 5000):
            status, doc = cls.svc.post_json("/v1/events", {"events": events[start:start + 5000]})
            assert status == 202 and not doc["rejected"], doc
        status, cls.report = cls.svc.get_json("/v1/experiments/ope/report")
        assert status == 200, cls.report
        cls.audit_of = {r: cls.audit(r) for r, _ in cls.served["exploration"]}
        cls.want = cls.recompute()

    @classmethod
    def audit(cls, request_id):
        status, _, body = cls.svc.request("GET", f"/v1/audit/{request_id}", headers=cls.auth)
        assert status == 200, body
        exposure = json.loads(body)["events"][0]
        return exposure["user_id"], exposure["items"], exposure["features"]["off_policy"]

    @classmethod
    def recompute(cls, erased=()):
        """Per target, the report's off-policy section recomputed from the audit records and the
        posted outcomes, by the definitions (eventstore/sqlite/off_policy_log.h) written out here:
        per exploration list y = Σ r/p over the products shown that the target's list also
        has, v = Σ 1/p over them / the target's products the random policy can show, and
        z = y + Σ q̂ over the target's list − Σ q̂/p over those products; IPS = mean y,
        SNIPS = Σy/Σv, DR = mean z (the Open Bandit Pipeline's estimators), their standard
        errors from statsmodels clustered by user: OLS(y, 1) and OLS(z, 1), and WLS(y/v, 1,
        weights=v) for SNIPS (statsmodels' small-sample factor G/(G−1))."""
        by_request = {}
        for e in cls.outcomes:
            by_request.setdefault(e["request_id"], []).append(e)
        units = {}  # target -> metric -> [(user, y, v, z)], and the lists' flags
        flags = {}
        for request_id, _ in cls.served["exploration"]:
            user, items, off = cls.audit_of[request_id]
            if user in erased:
                continue
            shown_q = {s["product_id"]: s["predicted"] for s in off["shown"]}
            for target, t in off["targets"].items():
                matched = [it for it in items if target in it.get("in_lists", [])]
                target_q = [p["predicted"] for p in t["products"]]
                modelled = (all(q is not None for q in target_q)
                            and all(shown_q[it["product_id"]] is not None for it in matched))
                explorable = sum(1 for p in t["products"] if p["explorable"])
                v = sum(1 / it["propensity"] for it in matched) / explorable if explorable else 1
                f = flags.setdefault(target, [0, 0, 0, 0])
                f[0] += 1
                f[1] += modelled
                f[2] += explorable < len(t["products"])
                for m, name in enumerate(("clicks", "binds", "premium")):
                    y = 0.0
                    for e in by_request.get(request_id, []):
                        for it in matched:
                            if it["product_id"] != e["product_id"]:
                                continue
                            if name == "clicks" and e["type"] == "click":
                                y += 1 / it["propensity"]
                            elif name == "binds" and e["type"] == "bind":
                                y += 1 / it["propensity"]
                            elif name == "premium" and e["type"] == "bind":
                                y += e["premium"] / it["propensity"]
                    z = y
                    if modelled:
                        z += sum(q[name] for q in target_q)
                        z -= sum(shown_q[it["product_id"]][name] / it["propensity"]
                                 for it in matched)
                    units.setdefault(target, {}).setdefault(name, []).append((user, y, v, z))
        want = {}
        for target, metrics in units.items():
            want[target] = {"lists": flags[target][0], "modelled_lists": flags[target][1],
                            "unsupported_lists": flags[target][2]}
            for name, rows in metrics.items():
                groups = np.unique([r[0] for r in rows], return_inverse=True)[1]
                y = np.array([r[1] for r in rows])
                v = np.array([r[2] for r in rows])
                z = np.array([r[3] for r in rows])
                ones = np.ones(len(rows))
                fit = dict(cov_type="cluster", cov_kwds={"groups": groups})
                snips = sm.WLS(np.where(v > 0, y / np.where(v > 0, v, 1), 0), ones,
                               weights=v).fit(**fit)
                want[target][name] = {
                    "users": len(set(groups)),
                    "ips": (y.mean(), sm.OLS(y, ones).fit(**fit).bse[0]),
                    "snips": (y.sum() / v.sum(), snips.bse[0]),
                    "dr": (z.mean(), sm.OLS(z, ones).fit(**fit).bse[0]),
                    "ess": v.sum() ** 2 / (v * v).sum(),
                    "iid_se": y.std(ddof=1) / math.sqrt(len(y))}
        return want

    def check_section(self, off, want):
        for target, w in want.items():
            got = off["targets"][target]
            self.assertEqual(got["lists"], w["lists"], target)
            self.assertEqual(got["weighted_lists"], w["lists"], target)
            self.assertEqual(got["modelled_lists"], w["modelled_lists"], target)
            self.assertEqual(got["unsupported_lists"], w["unsupported_lists"], target)
            for name in ("clicks", "binds", "premium"):
                g, m = got[f"{name}_per_list"], w[name]
                self.assertEqual(got["users"], m["users"])
                # The headline figure is IPS, its standard error clustered by user.
                self.assertAlmostEqual(g["estimate"], m["ips"][0], delta=1e-9 * (1 + m["ips"][0]))
                self.assertAlmostEqual(g["standard_error"], m["ips"][1],
                                       delta=1e-7 * m["ips"][1], msg=(target, name))
                for estimator in ("ips", "snips", "dr"):
                    e = g[estimator]
                    value, se = m[estimator]
                    msg = (target, name, estimator, e, value, se)
                    self.assertAlmostEqual(e["estimate"], value, delta=1e-9 * (1 + abs(value)),
                                           msg=msg)
                    self.assertAlmostEqual(e["standard_error"], se, delta=1e-7 * se, msg=msg)
                    self.assertEqual(e["users"], m["users"])
                    self.assertEqual(e["lists"], w["lists"])
                    self.assertAlmostEqual(e["effective_sample_size"], m["ess"],
                                           delta=1e-9 * m["ess"])

    def test_the_estimates_equal_an_independent_recomputation(self):
        off = self.report["exploration"]["off_policy"]
        self.check_section(off, self.want)
        # The service logged every target's support and the reward model's predictions.
        self.assertIsNotNone(self.audit_of[self.served["exploration"][0][0]][2]["reward_model"])
        for target in ("control", "treatment"):
            self.assertEqual(self.want[target]["modelled_lists"], self.want[target]["lists"])
            # A user's six lists are one cluster: the standard error is not the iid one.
            m = self.want[target]["clicks"]
            self.assertNotAlmostEqual(m["ips"][1], m["iid_se"], delta=1e-4 * m["iid_se"])
        # Some list must have matched each target, or the test proves nothing.
        self.assertGreater(off["targets"]["treatment"]["clicks_per_list"]["estimate"], 0)
        self.assertGreater(off["targets"]["control"]["clicks_per_list"]["estimate"], 0)
        self.assertIn("clustered by user", off["method"])
        self.assertIn("recommender.default_model", off["method"])

    def test_the_estimates_cover_the_truth_and_sit_beside_the_arms_own_figure(self):
        off = self.report["exploration"]["off_policy"]["targets"]
        clicks_of = {}
        for e in self.outcomes:
            if e["type"] == "click":
                clicks_of[e["request_id"]] = clicks_of.get(e["request_id"], 0) + 1
        for target in ("control", "treatment"):
            lists = self.served[target]
            # The truth: expected clicks of the arm's own lists (same population of customers).
            truth = sum(sum(P_CLICK[p] for p in items) for _, items in lists) / len(lists)
            for estimator in ("ips", "snips", "dr"):
                est = off[target]["clicks_per_list"][estimator]
                self.assertLess(abs(est["estimate"] - truth), 4 * est["standard_error"] + 0.02,
                                (target, estimator, est, truth))
            # on_policy is the arm's clicks per exposure, as posted.
            measured = sum(clicks_of.get(r, 0) for r, _ in lists) / len(lists)
            self.assertAlmostEqual(off[target]["clicks_per_list"]["on_policy"], measured,
                                   places=9)
        # The two policies show different products, and the estimates see it: their truths
        # differ by more than the noise, and so do the estimates, in the same direction.
        t = {v: sum(sum(P_CLICK[p] for p in items) for _, items in self.served[v]) /
             len(self.served[v]) for v in ("control", "treatment")}
        e = {v: off[v]["clicks_per_list"]["estimate"] for v in ("control", "treatment")}
        if abs(t["treatment"] - t["control"]) > 0.15:
            self.assertEqual(e["treatment"] > e["control"], t["treatment"] > t["control"], (t, e))

    def test_zz_after_an_erasure_and_a_restart_the_sums_hold(self):
        # Runs last (unittest orders by name): it erases an exploration user and restarts the
        # service. The store's sums must equal the recomputation without that user, through
        # the service, `abrec report` on the stopped service's database, and after a restart.
        user = self.audit_of[self.served["exploration"][0][0]][0]
        status, _, body = self.svc.request("DELETE", f"/v1/users/{user}", headers=self.auth)
        self.assertEqual(status, 200, body)
        want = self.recompute(erased={user})
        self.assertEqual(want["treatment"]["lists"],
                         self.want["treatment"]["lists"] - LISTS_PER_EXPLORER)
        status, report = self.svc.get_json("/v1/experiments/ope/report")
        self.assertEqual(status, 200)
        self.check_section(report["exploration"]["off_policy"], want)
        self.assertEqual(self.svc.stop(), 0)
        r = h.run_cli(["report", "ope", "--config", self.ws.config_path, "--format", "json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check_section(json.loads(r.stdout)["exploration"]["off_policy"], want)
        type(self).svc = h.Service(self.ws.config_path).start()
        status, report = self.svc.get_json("/v1/experiments/ope/report")
        self.assertEqual(status, 200)
        self.check_section(report["exploration"]["off_policy"], want)

    def test_the_dashboard_and_text_report_show_it(self):
        status, _, page = self.svc.request("GET", "/dashboards/ope")
        self.assertEqual(status, 200)
        self.assertIn("Off-policy", page.decode())


if __name__ == "__main__":
    unittest.main()
