#!/usr/bin/python3
"""`abrec simulate scenario`: the seed campaign's short form (config/scenarios/short_campaign.yaml)
with three seeds, each a different ground-truth world (one under the sanitizers). Customers
visit the in-process platform, click and bind with the world's probabilities; the
scenario's checks compare the report with the truth the simulation knows. Here, for every seed:
  - every interval of bind rate, click rate and revenue per user covers the world's true
    effect (revenue: the expected premium × margin of the lists shown);
  - the decisions match the truth: the click-trained model is flagged as click-bait and the
    model retrained on the logged events shipped whenever its true effect is clear of the
    noise (larger than the interval's half-width); a weaker true effect may leave the report
    at continue (in this short form the retrained model's true advantage is +0.002 to +0.027,
    and the report stays at continue; the full campaign, `make bench`, ships one that wins by
    +0.055), but the report never ships a model whose true bind effect is negative, and never
    calls click-bait a model that does not raise clicks while lowering binds;
  - the phases moved as asked (the gate passed both models), and the holdout's uplift is in
    every check.
And --url: a short scenario drives a running service through its public and admin API."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402

SCENARIO = os.path.join(h.SOURCE_DIR, "config", "scenarios", "short_campaign.yaml")
CONFIG = os.path.join(h.SOURCE_DIR, "config", "abrec.yaml")
# The sanitizer build (ABREC_SANITIZED=1) is about 15 times slower: there one campaign shows
# the loop is memory-safe; the release build checks the statistics on three worlds.
SANITIZED = os.environ.get("ABREC_SANITIZED") == "1"
SEEDS = (1,) if SANITIZED else (1, 2, 3)


def run(seed, folder):
    r = subprocess.run([h.ABREC_BIN, "simulate", "scenario", SCENARIO, "--config", CONFIG,
                        "--seed", str(seed), "--format", "json", "--dir", folder],
                       capture_output=True, timeout=1200)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


class ScenarioTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.results = {}
        cls.tmp = tempfile.mkdtemp(prefix="abrec-scenario-")
        for seed in SEEDS:
            folder = os.path.join(cls.tmp, f"seed{seed}")
            status, out, err = run(seed, folder)
            cls.results[seed] = (status, json.loads(out) if out.strip() else None, err, folder)

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def checks(self, seed, experiment):
        doc = self.results[seed][1]
        return [s for s in doc["steps"] if s["step"] == "check" and s["experiment"] == experiment]

    def truth(self, check, metric):
        return next(t for t in check["truth"] if t["metric"] == metric)

    def test_every_interval_covers_the_true_effect(self):
        for seed in SEEDS:
            status, doc, err, _ = self.results[seed]
            self.assertIsNotNone(doc, err[-2000:])
            checked = 0
            for step in doc["steps"]:
                for t in step.get("truth", []):
                    checked += 1
                    self.assertTrue(t["covered"], (seed, step["experiment"], t))
                    # The running intersection of the A/B test's sequence (it starts again at
                    # the phase change): an interval, not always around today's estimate.
                    self.assertLess(t["ci"][0], t["ci"][1])
            # bind rate, click rate and revenue per user, in both A/B tests
            self.assertEqual(checked, 6, seed)

    def test_the_decisions_match_the_truth(self):
        for seed in SEEDS:
            _, doc, err, _ = self.results[seed]
            [shadow, clicks] = self.checks(seed, "campaign_clicks")
            self.assertEqual((shadow["phase"], shadow["decision"]), ("shadow", "continue"))
            self.assertEqual(clicks["phase"], "ab_test")
            click, bind = self.truth(clicks, "click_rate"), self.truth(clicks, "bind_rate")
            # The world's truth: the click-trained model raises clicks and lowers binds.
            self.assertGreater(click["true_effect"], 0, seed)
            self.assertLess(bind["true_effect"], 0, seed)
            clear = abs(bind["true_effect"]) > (bind["ci"][1] - bind["ci"][0]) / 2
            allowed = {"clickbait"} if clear else {"clickbait", "continue"}
            self.assertIn(clicks["decision"], allowed, (seed, clicks["reasons"], bind))

            [binds, rollout] = self.checks(seed, "campaign_binds")
            self.assertEqual((binds["phase"], rollout["phase"]), ("ab_test", "rollout"))
            bind = self.truth(binds, "bind_rate")
            if bind["true_effect"] > 0:
                clear = bind["true_effect"] > (bind["ci"][1] - bind["ci"][0]) / 2
                allowed = {"ship"} if clear else {"ship", "continue"}
            else:
                allowed = {"continue", "stop_guardrail"}
            self.assertIn(binds["decision"], allowed, (seed, binds["reasons"], bind))
            self.assertNotEqual(rollout["decision"], "untrustworthy_srm", seed)

    def test_the_phases_moved_and_the_holdout_uplift_is_reported(self):
        for seed in SEEDS:
            status, doc, err, folder = self.results[seed]
            moves = [(s["experiment"], s["to"], s["applied"]) for s in doc["steps"]
                     if s["step"] == "phase"]
            self.assertEqual(moves, [("campaign_clicks", "ab_test", True),
                                     ("campaign_clicks", "stopped", True),
                                     ("campaign_binds", "ab_test", True),
                                     ("campaign_binds", "rollout", True)], seed)
            for step in doc["steps"]:
                if step["step"] == "check":
                    u = step["uplift_vs_holdout"]
                    self.assertEqual(u["metric"], "bind_rate")
                    # The holdout sees nothing, so it binds nothing here: the program's uplift
                    # is positive, and its interval says so.
                    self.assertGreater(u["absolute"]["ci"][0], 0, (seed, u))
            # The audit log has the scenario's changes, with actor and reason.
            with open(os.path.join(folder, "var", "audit.log"), encoding="utf-8") as f:
                entries = [json.loads(line) for line in f]
            self.assertTrue(any(e["action"] == "phase_changed" and e.get("actor") == "scenario"
                                for e in entries))
            # The exit status says whether every check of the scenario file passed.
            self.assertEqual(status, 0 if doc["ok"] else 1)

    @unittest.skipIf(SANITIZED, "a fifth campaign: the release build checks the replay")
    def test_the_same_seed_gives_the_same_arms(self):
        folder = os.path.join(self.tmp, "again")
        _, doc, err, = run(SEEDS[0], folder)[:3]
        again = json.loads(doc)
        first = self.results[SEEDS[0]][1]
        strip = lambda d: [(s["step"], s.get("decision"), json.dumps(s.get("truth")))
                           for s in d["steps"]]
        self.assertEqual(strip(again), strip(first))

    def test_bad_scenarios_are_refused_with_the_position(self):
        bad = os.path.join(self.tmp, "bad.yaml")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("scenario: bad\nsteps:\n  - days: 1\n  - fly: {to: moon}\n")
        r = subprocess.run([h.ABREC_BIN, "simulate", "scenario", bad], capture_output=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("bad.yaml:4:5: steps[1]: unknown step \"fly\"", r.stderr.decode())


HTTP_SCENARIO = """scenario: over_http
description: the same loop through a running service's API
seed: 11
customers: 3000
start: 2026-11-02
visits_per_day: 400
k: 3
steps:
  - train: {model: hybrid, version: http-v1, target: bind}
  - experiment:
      text: |
        experiment: over_http
        description: through the API
        owner: scenario@example.com
        surface: portal_home
        phase: shadow
        traffic: {coverage: 1.0, split: {control: 0.5, treatment: 0.5}}
        variants:
          control:   {policy: legacy_rules}
          treatment: {policy: recommender, model: hybrid}
        metrics: {primary: bind_rate, secondary: [click_rate]}
  - phase: {experiment: over_http, to: rollout, expect: refused}
  - phase: {experiment: over_http, to: ab_test}
  - check: {experiment: over_http, covers: [bind_rate]}
  - days: 2
  - check: {experiment: over_http, covers: [bind_rate, click_rate]}
"""


class HttpScenarioTest(h.ServiceTestCase):
    """--url: the scenario drives a running service through its public and admin API."""

    @classmethod
    def make_workspace(cls):
        return h.Workspace(prefix="abrec-scenario-http-")

    def test_a_scenario_drives_a_running_service(self):
        path = os.path.join(self.ws.root, "over_http.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(HTTP_SCENARIO)
        r = subprocess.run([h.ABREC_BIN, "simulate", "scenario", path, "--url",
                            f"http://127.0.0.1:{self.svc.port}", "--config", self.ws.config_path,
                            "--format", "json"], capture_output=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr.decode()[-3000:])
        doc = json.loads(r.stdout)
        self.assertEqual(doc["mode"], "http")
        phases = [(s["to"], s["applied"]) for s in doc["steps"] if s["step"] == "phase"]
        self.assertEqual(phases, [("rollout", False), ("ab_test", True)])
        refusal = next(s for s in doc["steps"] if s["step"] == "phase")
        self.assertIn("cannot move to rollout", refusal["reason"])
        days = next(s for s in doc["steps"] if s["step"] == "days")
        # A check before any visit: no effect has data (each carries a `reason`, no interval),
        # so nothing is compared; reading the missing interval was undefined behaviour.
        early = [s for s in doc["steps"] if s["step"] == "check"][0]
        self.assertEqual(early["truth"], [], early)
        check = doc["steps"][-1]
        self.assertEqual(len(check["truth"]), 2)
        self.assertTrue(all(t["covered"] for t in check["truth"]), check["truth"])
        # What the service itself says: the exposures the scenario counted, in its buckets.
        status, report = self.svc.get_json("/v1/experiments/over_http/report")
        self.assertEqual(status, 200)
        self.assertEqual(report["phase"], "ab_test")
        status, exp = self.svc.get_json("/v1/experiments/over_http")
        self.assertEqual(exp["phase"], "ab_test")
        # The changes went through the admin API, audit-logged as such.
        actions = {(e["action"], e.get("actor")) for e in self.ws.audit_entries()
                   if e["experiment"] == "over_http"}
        self.assertIn(("admin_put", "admin"), actions)
        self.assertIn(("phase_changed", "admin"), actions)
        self.assertIn(("admin_refused", "admin"), actions)
        self.assertGreater(days["exposures"], 600)
        self.assertTrue(os.path.isdir(os.path.join(self.ws.var_dir, "models", "hybrid", "http-v1")))
        # Retraining on what this service logged, read-only while it runs.
        out = os.path.join(self.ws.var_dir, "models", "hybrid", "from-log")
        r = subprocess.run([h.ABREC_BIN, "train", "--from-events", self.ws.db_path, "--out", out,
                            "--target", "bind", "--gbm-rounds", "20", "--catalog",
                            os.path.join(h.SOURCE_DIR, "config", "catalog.yaml")],
                           capture_output=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        with open(os.path.join(out, "metadata.json"), encoding="utf-8") as f:
            meta = json.load(f)
        self.assertEqual((meta["data"]["format"], meta["objective"], meta["reads_sex"]),
                         ("events", "bind", False))
        self.assertGreater(meta["data"]["exploration_impressions"], 0)
        # Every exposure with a list (the holdout's are empty) is in the training data.
        self.assertLessEqual(meta["data"]["exposures"], days["exposures"])
        self.assertGreater(meta["data"]["exposures"], 0.85 * days["exposures"])
        # 800 exposures are too few to judge the model (its quality shows in the campaign,
        # where the retrained model wins); here the pipeline: held-out metrics are computed.
        self.assertTrue(0 <= meta["evaluation"]["click_auc"] <= 1)
        self.assertGreater(meta["evaluation"]["test_customers"], 0)
        with open(os.path.join(self.ws.var_dir, "admin.token"), encoding="utf-8") as f:
            token = f.read().strip()
        status, _, body = self.svc.request("POST", "/v1/models/reload", body=b"",
                                           headers={"Authorization": "Bearer " + token})
        self.assertEqual(status, 200, body)

    def test_zz_nightly_retraining_goes_live_only_through_the_gate(self):
        """scripts/nightly-retrain.sh on this service's log (runs after the scenario test)."""
        script = os.path.join(h.SOURCE_DIR, "scripts", "nightly-retrain.sh")
        r = subprocess.run(["bash", script, "--abrec", h.ABREC_BIN, "--config",
                            self.ws.config_path], capture_output=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())
        live = os.path.join(self.ws.var_dir, "models", "hybrid")
        passed = [v for v in os.listdir(live) if os.path.exists(os.path.join(live, v, "GATE.txt"))]
        self.assertEqual(len(passed), 1, os.listdir(live))
        with open(os.path.join(live, passed[0], "GATE.txt"), encoding="utf-8") as f:
            self.assertIn("PASS", f.read())
        # Gate rules no model can pass (travel for nobody over 1): the version stays staged.
        rules = os.path.join(self.ws.root, "strict-gate.yaml")
        with open(rules, "w", encoding="utf-8") as f:
            f.write("attributes: [sex]\ninvariants:\n  - {category: travel, max_age: 1}\n")
        strict = os.path.join(self.ws.root, "strict.yaml")
        with open(self.ws.config_path, encoding="utf-8") as f:
            text = h.set_config_value(f.read(), "gate", rules)
        with open(strict, "w", encoding="utf-8") as f:
            f.write(text)
        import time
        time.sleep(1.1)  # versions are named by the second
        r = subprocess.run(["bash", script, "--abrec", h.ABREC_BIN, "--config", strict],
                           capture_output=True, timeout=600)
        self.assertEqual(r.returncode, 1, r.stdout.decode() + r.stderr.decode())
        self.assertIn("gate refused", r.stderr.decode())
        staging = os.path.join(self.ws.root, "var", "models-staging", "hybrid")
        refused = [v for v in os.listdir(staging)
                   if os.path.exists(os.path.join(staging, v, "REFUSED.txt"))]
        self.assertEqual(len(refused), 1, os.listdir(staging))
        self.assertNotIn(refused[0], os.listdir(live))

    def test_train_from_events_refuses_what_it_cannot_use(self):
        catalog = os.path.join(h.SOURCE_DIR, "config", "catalog.yaml")
        r = subprocess.run([h.ABREC_BIN, "train", "--from-events", "/nonexistent/abrec.db", "--out",
                            os.path.join(self.ws.root, "x"), "--catalog", catalog],
                           capture_output=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no database at /nonexistent/abrec.db", r.stderr.decode())
        r = subprocess.run([h.ABREC_BIN, "train", "--from-events", self.ws.db_path, "--out",
                            os.path.join(self.ws.root, "x"), "--format", "synthetic"],
                           capture_output=True)
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()
