#!/usr/bin/python3
"""The report's off-policy estimate (exploration.off_policy), end to end: exploration users get
random lists from /v1/recommend, the service marks which products each variant's policy would
also have shown, and clicks and binds naming the request go through POST /v1/events. The
report's estimate of each variant's clicks, binds and premium per list must equal an
independent recomputation from the audit records and the posted outcomes, and must cover the
world's truth: clicks are drawn per product with known probabilities, so the expected clicks
of a variant's list are the sum of its products' probabilities, known exactly for every list
the variant's own arm served."""

import json
import math
import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

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

    def audit_items(self, request_id):
        status, _, body = self.svc.request("GET", f"/v1/audit/{request_id}", headers=self.auth)
        self.assertEqual(status, 200, body)
        return json.loads(body)["events"][0]["items"]

    def test_the_estimate_equals_an_independent_recomputation(self):
        by_request = {}
        for e in self.outcomes:
            by_request.setdefault(e["request_id"], []).append(e)
        want = {}
        for request_id, _ in self.served["exploration"]:
            items = self.audit_items(request_id)
            for target in ("control", "treatment"):
                y = [0.0, 0.0, 0.0]
                for e in by_request.get(request_id, []):
                    for it in items:
                        if it["product_id"] == e["product_id"] and target in it.get("in_lists", []):
                            w = 1 / it["propensity"]
                            if e["type"] == "click":
                                y[0] += w
                            else:
                                y[1] += w
                                y[2] += w * e["premium"]
                want.setdefault(target, []).append(y)
        off = self.report["exploration"]["off_policy"]["targets"]
        for target, ys in want.items():
            got = off[target]
            self.assertEqual(got["lists"], len(ys))
            n = len(ys)
            for m, name in enumerate(("clicks_per_list", "binds_per_list", "premium_per_list")):
                values = [y[m] for y in ys]
                mean = sum(values) / n
                sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
                self.assertAlmostEqual(got[name]["estimate"], mean, places=9, msg=(target, name))
                self.assertAlmostEqual(got[name]["standard_error"], sd / math.sqrt(n), places=9)
        # Some list must have matched each target, or the test proves nothing.
        self.assertGreater(off["treatment"]["clicks_per_list"]["estimate"], 0)
        self.assertGreater(off["control"]["clicks_per_list"]["estimate"], 0)

    def test_the_estimate_covers_the_truth_and_sits_beside_the_arms_own_figure(self):
        off = self.report["exploration"]["off_policy"]["targets"]
        clicks_of = {}
        for e in self.outcomes:
            if e["type"] == "click":
                clicks_of[e["request_id"]] = clicks_of.get(e["request_id"], 0) + 1
        for target in ("control", "treatment"):
            lists = self.served[target]
            # The truth: expected clicks of the arm's own lists (same population of customers).
            truth = sum(sum(P_CLICK[p] for p in items) for _, items in lists) / len(lists)
            est = off[target]["clicks_per_list"]
            self.assertLess(abs(est["estimate"] - truth), 4 * est["standard_error"] + 0.02,
                            (target, est, truth))
            # on_policy is the arm's clicks per exposure, as posted.
            measured = sum(clicks_of.get(r, 0) for r, _ in lists) / len(lists)
            self.assertAlmostEqual(est["on_policy"], measured, places=9)
        # The two policies show different products, and the estimates see it: their truths
        # differ by more than the noise, and so do the estimates, in the same direction.
        t = {v: sum(sum(P_CLICK[p] for p in items) for _, items in self.served[v]) /
             len(self.served[v]) for v in ("control", "treatment")}
        e = {v: off[v]["clicks_per_list"]["estimate"] for v in ("control", "treatment")}
        if abs(t["treatment"] - t["control"]) > 0.15:
            self.assertEqual(e["treatment"] > e["control"], t["treatment"] > t["control"], (t, e))

    def test_the_dashboard_and_text_report_show_it(self):
        status, _, page = self.svc.request("GET", "/dashboards/ope")
        self.assertEqual(status, 200)
        self.assertIn("Off-policy", page.decode())


if __name__ == "__main__":
    unittest.main()
