#!/usr/bin/python3
"""POST /v1/recommend and GET /v1/recommend/{user_id} through the real service: the policy of
every bucket, hard filters, the exposure and its audit record, bad input, the precomputed
candidate cache (abrec precompute), erasure, hot swap of a new model version, the shadow
phase, and the fallbacks (no model, latency budget) with their /metrics counters."""

import json
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402

CATALOG = os.path.join(h.SOURCE_DIR, "config", "catalog.yaml")


def eligibility():
    """product id -> (min_age, max_age) from the shipped catalog (an independent reading)."""
    import re
    rules = {}
    with open(CATALOG, encoding="utf-8") as f:
        for line in f:
            m = re.search(r"id: (\w+),.*eligibility: \{([^}]*)\}", line)
            if m:
                lo = re.search(r"min_age: (\d+)", m.group(2))
                hi = re.search(r"max_age: (\d+)", m.group(2))
                rules[m.group(1)] = (int(lo.group(1)) if lo else None, int(hi.group(1)) if hi else None)
    return rules


def train(model_dir, version, customers=1000, seed=1, extra=(), name="hybrid"):
    out = os.path.join(model_dir, name, version)
    r = h.run_cli(["train", "--format", "synthetic", "--out", out, "--customers", str(customers),
                   "--seed", str(seed), "--catalog", CATALOG, *extra], timeout=600)
    if r.returncode != 0:
        raise AssertionError(r.stderr.decode())
    return out


# One trained model for every service of this file (training under the sanitizers is slow).
_MODEL = None


def trained_model():
    global _MODEL
    if _MODEL is None:
        import atexit
        import tempfile
        root = tempfile.mkdtemp(prefix="abrec-it-model-")
        atexit.register(shutil.rmtree, root, True)
        _MODEL = train(os.path.join(root, "models"), "v1")
    return _MODEL


def install_model(ws, version="v1", created_at=None):
    dest = os.path.join(ws.var_dir, "models", "hybrid", version)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tmp = dest + ".partial"
    shutil.copytree(trained_model(), tmp)
    meta_path = os.path.join(tmp, "metadata.json")
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)
    meta["version"] = version
    if created_at:
        meta["created_at"] = created_at
    with open(meta_path, "w", encoding="utf-8") as f:
        json.dump(meta, f)
    os.rename(tmp, dest)


def metric(svc, name, **labels):
    status, _, body = svc.request("GET", "/metrics")
    return h.parse_prometheus(body.decode()).get((name, h.labels(**labels)), 0.0)


ADULT = {"age": 40, "sex": "M", "region": "coast", "occupation": "employed",
         "holdings": ["auto_third_party", "home_contents"]}


class RecommendTest(h.ServiceTestCase):
    @classmethod
    def make_workspace(cls):
        ws = h.Workspace()
        # The gate's invariants plus one that lists often break (travel past 45), so the
        # shadow checks have violations to count.
        gate = os.path.join(ws.root, "gate.yaml")
        with open(os.path.join(h.SOURCE_DIR, "config", "gate.yaml"), encoding="utf-8") as f:
            text = f.read()
        with open(gate, "w", encoding="utf-8") as f:
            f.write(text.rstrip("\n") + "\n  - {category: travel, max_age: 45}\n")
        ws.write_config({"gate": gate}, extra_surfaces=[("shadow_page", "legacy_rules")])
        install_model(ws)
        ws.write_experiment("recs.yaml", h.experiment_yaml("recs"))
        ws.write_experiment("shadow.yaml", h.experiment_yaml(
            "shadow_recs", phase="shadow", surface="renewal_page"))
        ws.write_experiment("shadow_checks.yaml", h.experiment_yaml(
            "shadow_checks", phase="shadow", surface="shadow_page"))
        return ws

    def recommend(self, user, attributes=None, k=3, surface=None):
        body = {"user_id": user, "k": k}
        if attributes is not None:
            body["attributes"] = attributes
        if surface:
            body["surface"] = surface
        status, r = self.svc.post_json("/v1/recommend", body)
        self.assertEqual(status, 200, r)
        return r

    def token(self):
        with open(os.path.join(self.ws.var_dir, "admin.token"), encoding="utf-8") as f:
            return f.read().strip()

    def test_every_bucket_gets_its_policy_and_the_hard_filters_hold(self):
        rules = eligibility()
        self.assertEqual(rules["term_life"], (18, 70))  # the reading of the catalog works
        seen = {}
        for i in range(400):
            user = f"user-{i}"
            age = 16 + i % 70
            r = self.recommend(user, dict(ADULT, age=age), k=4)
            oracle = h.oracle_assign(user, {"key": "recs", "phase": "ab_test", "coverage": 1.0,
                                            "namespace": None, "surface": "portal_home",
                                            "variants": [("control", "legacy_rules", 0.5),
                                                         ("treatment", "recommender", 0.5)]})
            self.assertEqual(r["bucket"], oracle["bucket"], user)
            self.assertEqual(r["policy"], oracle["policy"], user)
            self.assertEqual(r["experiment"], "recs")
            self.assertTrue(r["logged"])
            seen.setdefault(r["bucket"], 0)
            seen[r["bucket"]] += 1
            ids = [it["product_id"] for it in r["items"]]
            self.assertEqual(len(ids), len(set(ids)))
            self.assertNotIn("auto_third_party", ids)  # held
            self.assertNotIn("home_contents", ids)
            for it in r["items"]:
                lo, hi = rules.get(it["product_id"], (None, None))
                self.assertTrue((lo is None or age >= lo) and (hi is None or age <= hi),
                                f"{it['product_id']} shown at age {age}")
            if r["bucket"] == "holdout":
                self.assertEqual(r["items"], [])
            elif r["bucket"] == "treatment":
                self.assertEqual(r["model_version"], "v1")
                self.assertIsNone(r["fallback"])
                for it in r["items"]:
                    self.assertGreater(it["p_click"], 0)
                    self.assertLessEqual(it["p_bind"], it["p_click"])
                    self.assertEqual(it["propensity"], 1.0)
                self.assertEqual([it["rank"] for it in r["items"]], list(range(1, len(ids) + 1)))
            elif r["bucket"] == "exploration":
                self.assertIsNone(r["model_version"])
                for it in r["items"]:
                    self.assertGreater(it["propensity"], 0)
                    self.assertLess(it["propensity"], 1)
            else:
                self.assertEqual(r["bucket"], "control")
                self.assertIsNone(r["model_version"])
                self.assertIsNone(r["items"][0]["p_click"])
        self.assertEqual(set(seen), {"holdout", "exploration", "control", "treatment"})

    def test_the_exposure_and_its_audit_record_are_logged(self):
        user = next(f"audit-{i}" for i in range(1000) if h.oracle_assign(
            f"audit-{i}", {"key": "recs", "phase": "ab_test", "coverage": 1.0, "namespace": None,
                           "surface": "portal_home",
                           "variants": [("control", "legacy_rules", 0.5),
                                        ("treatment", "recommender", 0.5)]})["bucket"] == "treatment")
        r = self.recommend(user, ADULT, k=3)
        status, _, body = self.svc.request("GET", f"/v1/audit/{r['request_id']}",
                                           headers={"Authorization": f"Bearer {self.token()}"})
        self.assertEqual(status, 200, body)
        event = json.loads(body)["events"][0]
        self.assertEqual(event["model_version"], "v1")
        self.assertEqual([i["product_id"] for i in event["items"]],
                         [i["product_id"] for i in r["items"]])
        shown = event["features"]["shown"]
        self.assertEqual(shown["model_version"], "v1")
        self.assertEqual(len(shown["items"][0]["features"]), 12)
        self.assertTrue(any("held: removed auto_third_party" in x for x in shown["rules_applied"]))
        self.assertEqual(event["features"]["attributes"]["age"], 40)

    def test_shadow_shows_control_and_logs_what_treatment_would_have_shown(self):
        exp = {"key": "shadow_recs", "phase": "shadow", "coverage": 1.0, "namespace": None,
               "surface": "renewal_page",
               "variants": [("control", "legacy_rules", 0.5), ("treatment", "recommender", 0.5)]}
        user = next(f"sh-{i}" for i in range(1000)
                    if h.oracle_assign(f"sh-{i}", exp)["bucket"] == "treatment")
        r = self.recommend(user, ADULT, surface="renewal_page")
        self.assertEqual((r["bucket"], r["variant"], r["policy"]),
                         ("treatment", "treatment", "legacy_rules"))
        self.assertIsNone(r["model_version"])
        status, _, body = self.svc.request("GET", f"/v1/audit/{r['request_id']}",
                                           headers={"Authorization": f"Bearer {self.token()}"})
        record = json.loads(body)["events"][0]["features"]
        self.assertEqual(record["shadow"]["model_version"], "v1")
        self.assertTrue(record["shadow"]["items"])
        self.assertIsNotNone(record["shadow"]["items"][0]["p_click"])

    def test_the_report_shows_the_shadow_sanity_checks(self):
        """The report's shadow section against the audit records of the same requests: what
        the treatment would have shown, the lists that break an eligibility invariant, and
        the time the shadow list took; the violations raise an alert."""
        auth = {"Authorization": f"Bearer {self.token()}"}
        lists, would_show, shown, violations = 0, {}, {}, {}
        for i in range(240):
            age = 18 + (i * 7) % 62
            r = self.recommend(f"chk-{i}", {"age": age, "sex": "FM"[i % 2], "holdings": []},
                               k=4, surface="shadow_page")
            if r["variant"]:
                self.assertEqual(r["policy"], "legacy_rules")  # shadow: control is shown
            if r["variant"] != "treatment":
                continue
            status, _, body = self.svc.request("GET", f"/v1/audit/{r['request_id']}",
                                               headers=auth)
            self.assertEqual(status, 200, body)
            record = json.loads(body)["events"][0]["features"]
            lists += 1
            for item in record["shadow"]["items"]:
                p = item["product_id"]
                would_show[p] = would_show.get(p, 0) + 1
                if p in ("travel_single", "travel_annual") and age > 45:
                    violations[p] = violations.get(p, 0) + 1
            for item in r["items"]:
                shown[item["product_id"]] = shown.get(item["product_id"], 0) + 1
        self.assertGreater(lists, 80)
        self.assertTrue(violations, "no list broke the travel invariant: the test proves nothing")
        status, report = self.svc.get_json("/v1/experiments/shadow_checks/report")
        self.assertEqual(status, 200, report)
        t = report["shadow"]["variants"]["treatment"]
        self.assertEqual(t["lists"], lists)
        self.assertEqual({p["product"]: p["would_show"] for p in t["products"] if p["would_show"]},
                         would_show)
        self.assertEqual({p["product"]: p["shown"] for p in t["products"] if p["shown"]}, shown)
        self.assertEqual({v["product"]: v["count"] for v in t["violations"]}, violations)
        self.assertTrue(all(v["rule"] == "category travel: max_age 45" for v in t["violations"]))
        self.assertEqual(t["eligibility_violations"], sum(violations.values()))
        self.assertGreater(t["latency"]["p99_ms"], 0)
        self.assertEqual(report["decision"]["code"], "continue")
        self.assertTrue(any("ineligible" in x for x in report["decision"]["reasons"]),
                        report["decision"])
        status, alerts = self.svc.get_json("/v1/alerts")
        kinds = {(a["experiment"], a["kind"]) for a in alerts["alerts"]}
        self.assertIn(("shadow_checks", "eligibility"), kinds)
        status, _, page = self.svc.request("GET", "/dashboards/shadow_checks")
        self.assertIn(f'data-shadow-violations="{t["eligibility_violations"]}"', page.decode())

    def test_bad_input_names_the_field(self):
        cases = [
            ({"user_id": "u", "k": 0}, "k"),
            ({"user_id": "u", "k": 21}, "k"),
            ({"user_id": "u", "k": "3"}, "k"),
            ({"k": 3}, "user_id"),
            ({"user_id": "", "k": 3}, "user_id"),
            ({"user_id": "u", "surface": "nowhere"}, "surface"),
            ({"user_id": "u", "attributes": {"age": "old"}}, "attributes.age"),
            ({"user_id": "u", "attributes": {"holdings": ["spaceship"]}}, "attributes.holdings"),
            ({"user_id": "u", "attributes": {"favourite_colour": "blue"}},
             "attributes.favourite_colour"),
            ({"user_id": "u", "attributes": [1]}, "attributes"),
            ({"user_id": "u", "extra": 1}, "extra"),
        ]
        for body, field in cases:
            status, r = self.svc.post_json("/v1/recommend", body)
            self.assertEqual(status, 400, (body, r))
            self.assertEqual(r["error"]["field"], field, body)
        status, _, _ = self.svc.request("GET", "/v1/recommend")
        self.assertEqual(status, 405)
        status, r = self.svc.get_json("/v1/recommend/someone?k=99")
        self.assertEqual((status, r["error"]["field"]), (400, "k"))

    def exposures_of(self, user):
        with h.open_db_readonly(self.ws.db_path) as db:
            return db.execute("SELECT COUNT(*) FROM events WHERE user_id = ? AND type = 0",
                              (user,)).fetchone()[0]

    def test_precomputed_candidates_are_served_and_erased(self):
        r = h.run_cli(["precompute", "--config", self.ws.config_path, "--customers", "300"])
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn(b"precomputed 300 customers", r.stdout)
        hits = 0
        for i in range(60):
            status, doc = self.svc.get_json(f"/v1/recommend/cust-{i:06d}?k=2")
            self.assertEqual(status, 200, doc)
            if doc["bucket"] == "treatment":
                self.assertEqual(doc["candidates"], "cache")
                hits += 1
                treated = f"cust-{i:06d}"
        self.assertGreater(hits, 10)
        # HEAD answers as GET without logging the list (RFC 9110 9.3.2: HEAD is safe); GET
        # logs one more exposure.
        before = self.exposures_of(treated)
        self.assertGreater(before, 0)
        status, _, body = self.svc.request("HEAD", f"/v1/recommend/{treated}?k=2")
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(self.exposures_of(treated), before)
        self.assertEqual(self.svc.get_json(f"/v1/recommend/{treated}?k=2")[0], 200)
        self.assertEqual(self.exposures_of(treated), before + 1)
        status, doc = self.svc.get_json("/v1/recommend/never-precomputed")
        self.assertEqual((status, doc["error"]["field"]), (404, "user_id"))
        status, _, body = self.svc.request("DELETE", "/v1/users/cust-000007",
                                           headers={"Authorization": f"Bearer {self.token()}"})
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["cached_entries_removed"], 1)
        status, doc = self.svc.get_json("/v1/recommend/cust-000007")
        self.assertEqual(status, 404)

    def test_models_list_and_reload_need_the_admin_token(self):
        status, _, _ = self.svc.request("POST", "/v1/models/reload", auth=False)
        self.assertEqual(status, 401)
        status, _, body = self.svc.request("POST", "/v1/models/reload",
                                           headers={"Authorization": f"Bearer {self.token()}"})
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["models"][0]["status"], "unchanged")
        r = h.run_cli(["models", "list", "--config", self.ws.config_path, "--format", "json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        models = json.loads(r.stdout)["models"]
        self.assertEqual([(m["name"], m["version"], m["live"]) for m in models],
                         [("hybrid", "v1", True)])
        self.assertIn("click_auc", models[0]["metadata"]["evaluation"])


class HotSwapAndFallbackTest(unittest.TestCase):
    """Services of their own: they change models and config."""

    def start(self, ws):
        svc = h.Service(ws.config_path)
        svc.start()
        self.addCleanup(svc.kill)
        return svc

    def treatment_users(self, n):
        exp = {"key": "recs", "phase": "ab_test", "coverage": 1.0, "namespace": None,
               "surface": "portal_home",
               "variants": [("control", "legacy_rules", 0.5), ("treatment", "recommender", 0.5)]}
        return [u for u in (f"t-{i}" for i in range(2000))
                if h.oracle_assign(u, exp)["bucket"] == "treatment"][:n]

    def workspace(self, **values):
        ws = h.Workspace()
        self.addCleanup(ws.cleanup)
        ws.write_config(values)
        ws.write_experiment("recs.yaml", h.experiment_yaml("recs"))
        return ws

    def test_no_model_falls_back_to_rules_then_a_new_model_is_hot_swapped(self):
        ws = self.workspace()
        svc = self.start(ws)
        users = self.treatment_users(5)
        for u in users:
            status, r = svc.post_json("/v1/recommend", {"user_id": u, "attributes": ADULT})
            self.assertEqual(status, 200)
            self.assertEqual((r["policy"], r["fallback"], r["model_version"]),
                             ("recommender", "no_model", None))
            self.assertTrue(r["items"])  # the rule-based list
        self.assertEqual(metric(svc, "abrec_recommend_fallbacks_total", reason="no_model"), 5)
        install_model(ws, "v1")
        h.wait_until(lambda: svc.post_json("/v1/recommend", {"user_id": users[0]})[1]
                     ["model_version"] == "v1", message="v1 loaded")
        install_model(ws, "v2", created_at="2999-01-01T00:00:00.000000Z")
        h.wait_until(lambda: svc.post_json("/v1/recommend", {"user_id": users[0]})[1]
                     ["model_version"] == "v2", message="v2 hot-swapped")
        # LIVE pins a version; the admin reload applies it at once.
        with open(os.path.join(ws.var_dir, "models", "hybrid", "LIVE"), "w") as f:
            f.write("v1\n")
        with open(os.path.join(ws.var_dir, "admin.token"), encoding="utf-8") as f:
            token = f.read().strip()
        status, _, body = svc.request("POST", "/v1/models/reload",
                                      headers={"Authorization": f"Bearer {token}"})
        self.assertEqual(json.loads(body)["models"][0]["version"], "v1")
        self.assertEqual(svc.post_json("/v1/recommend", {"user_id": users[1]})[1]["model_version"],
                         "v1")
        self.assertEqual(svc.stop(), 0)

    def test_past_the_latency_budget_the_rule_based_list_is_served(self):
        ws = self.workspace(latency_budget_ms=0.001)
        install_model(ws, "v1")
        svc = self.start(ws)
        for u in self.treatment_users(4):
            status, r = svc.post_json("/v1/recommend", {"user_id": u, "attributes": ADULT})
            self.assertEqual((status, r["fallback"], r["model_version"]), (200, "budget", None))
            self.assertIsNone(r["items"][0]["p_click"])
        self.assertEqual(metric(svc, "abrec_recommend_fallbacks_total", reason="budget"), 4)
        self.assertEqual(svc.stop(), 0)


if __name__ == "__main__":
    unittest.main()
