"""Issue 14, defects 3 and 4: trusted data only, and expensive reads off the I/O threads.

- Exposures posted through POST /v1/events are stored with source "client" and reported apart
  from those abrec logged itself (assign with logging, recommend); their items must name
  products of the catalog (else rejected, naming events[i].items[j].product_id).
- auto_stop acts on the sample ratio among server-logged exposures only: the issue's attack
  (3,000 posted exposures of control-hashing users) no longer stops an experiment.
- Reports are computed on the report workers and cached by the store's commit count:
  scraping /metrics, /v1/alerts and /dashboards/ computes nothing while nothing is committed,
  and concurrent requests for one report share one computation (counted in /metrics).
No timings are asserted: waits are for states, with generous timeouts."""
import concurrent.futures
import os
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abrec_harness as h  # noqa: E402

SPLIT = [("control", "legacy_rules", 0.5), ("treatment", "recommender", 0.5)]


def exp_def(key, surface):
    return {"key": key, "phase": "ab_test", "coverage": 1.0, "namespace": None,
            "surface": surface, "variants": SPLIT}


def metric(svc, name):
    status, _, body = svc.request("GET", "/metrics")
    assert status == 200, status
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"/metrics has no {name}")


def attack_events(key, surface, prefix, n=3000):
    """The issue's attack: exposures posted for control-hashing users (and a third of the
    treatment ones), as a client with a grudge or a bug would."""
    events = []
    for i in range(n):
        user = f"{prefix}-{i}"
        bucket = h.oracle_assign(user, exp_def(key, surface))["bucket"]
        if bucket == "control" or (bucket == "treatment" and i % 3 == 0):
            events.append({"event_id": f"{user}-x", "type": "exposure", "user_id": user,
                           "experiment": key, "items": [{"product_id": "pet", "position": 1}]})
    return events


class TrustedDataTest(h.ServiceTestCase):
    """Alerts every 200 ms, so that auto_stop would act within the test."""

    @classmethod
    def make_workspace(cls):
        ws = h.Workspace(prefix="abrec-trusted-")
        ws.write_config({"alert_interval_ms": 200},
                        extra_surfaces=[("s_attack", "legacy_rules"), ("s_src", "legacy_rules"),
                                        ("s_items", "legacy_rules")])
        ws.write_experiment("td_attack.yaml", h.experiment_yaml(
            "td_attack", surface="s_attack") + "auto_stop: true\n")
        ws.write_experiment("td_src.yaml", h.experiment_yaml("td_src", surface="s_src"))
        ws.write_experiment("td_items.yaml", h.experiment_yaml("td_items", surface="s_items"))
        return ws

    def live(self, key):
        status, doc = self.svc.get_json(f"/v1/experiments/{key}")
        self.assertEqual(status, 200, doc)
        return doc

    def report(self, key):
        status, doc = self.svc.get_json(f"/v1/experiments/{key}/report")
        self.assertEqual(status, 200, doc)
        return doc

    def test_posted_exposures_do_not_stop_an_experiment(self):
        events = attack_events("td_attack", "s_attack", "atk")
        status, doc = self.svc.post_json("/v1/events", {"events": events})
        self.assertEqual(status, 202, doc)
        self.assertEqual(doc["accepted"], len(events), doc)
        # The alert thread sees the posted exposures: its alerts name them...
        def alerts():
            status, doc = self.svc.get_json("/v1/alerts")
            self.assertEqual(status, 200, doc)
            return {a["kind"] for a in doc["alerts"] if a["experiment"] == "td_attack"}
        # (Before issue 14, auto_stop stopped the experiment here within seconds.)
        h.wait_until(lambda: self.live("td_attack")["phase"] == "stopped"
                     or "client_exposures" in alerts(), timeout=30,
                     message="a client_exposures alert for td_attack, or auto_stop")
        self.assertEqual(self.live("td_attack")["phase"], "ab_test")
        kinds = alerts()
        self.assertIn("srm_posted", kinds)
        self.assertNotIn("srm", kinds)
        # ...and several alert periods later the experiment still runs.
        checks = metric(self.svc, "abrec_report_snapshots_total")
        h.wait_until(lambda: metric(self.svc, "abrec_report_snapshots_total") >= checks + 5,
                     timeout=30, message="five more alert checks")
        self.assertEqual(self.live("td_attack")["phase"], "ab_test")
        self.assertFalse([e for e in self.ws.audit_entries()
                          if e["experiment"] == "td_attack" and e["action"] == "phase_changed"])
        self.assertNotIn("auto_stop: td_attack", self.svc.stderr_text())
        # The report still shows the broken split of all exposures, and the sources apart.
        doc = self.report("td_attack")
        self.assertFalse(doc["srm"]["ok"], doc["srm"])
        sources = doc["exposure_sources"]
        self.assertEqual(sources["client"]["users"], len(events))
        self.assertEqual(sources["server"]["users"], 0)
        self.assertFalse(sources["client"]["srm"]["ok"], sources)
        self.assertEqual(len(sources["warnings"]), 1, sources)
        self.assertIn("disagree with the hash", sources["warnings"][0])

    def test_sources_are_stored_and_reported_apart(self):
        server_users = [f"srv-{i}" for i in range(40)]
        status, doc = self.svc.post_json("/v1/assign", {"experiment": "td_src",
                                                        "user_ids": server_users, "log": True})
        self.assertEqual(status, 200, doc)
        logged = [r for r in doc["results"] if r["bucket"] not in ("not_enrolled",)]
        client = []
        for i in range(30):
            user = f"cli-{i}"
            if h.oracle_assign(user, exp_def("td_src", "s_src"))["bucket"] != "not_enrolled":
                client.append({"event_id": f"cli-ev-{i}", "type": "exposure", "user_id": user,
                               "experiment": "td_src"})
        # A client cannot claim to be the server: there is no source field to send.
        claim = dict(client[0], event_id="claim", source="server")
        status, doc = self.svc.post_json("/v1/events", {"events": client + [claim]})
        self.assertEqual(status, 202, doc)
        self.assertEqual(doc["accepted"], len(client), doc)
        self.assertEqual([r["error"]["field"] for r in doc["rejected"]],
                         [f"events[{len(client)}].source"])
        sources = self.report("td_src")["exposure_sources"]
        self.assertEqual(sources["server"]["users"], len(logged), sources)
        self.assertEqual(sources["client"]["users"], len(client), sources)
        per_bucket = {}
        for r in logged:
            per_bucket[r["bucket"]] = per_bucket.get(r["bucket"], 0) + 1
        self.assertEqual({b: v["users"] for b, v in sources["server"]["buckets"].items()
                          if v["users"]}, per_bucket)
        db = h.open_db_readonly(self.ws.db_path)
        try:
            rows = dict(db.execute(
                "SELECT source, COUNT(*) FROM events WHERE experiment = 'td_src' GROUP BY source"))
        finally:
            db.close()
        self.assertEqual(rows, {"server": len(logged), "client": len(client)})

    def test_unknown_products_are_rejected_naming_the_item(self):
        user = next(f"itm-{i}" for i in range(100)
                    if h.oracle_assign(f"itm-{i}", exp_def("td_items", "s_items"))["bucket"]
                    != "not_enrolled")
        good = {"event_id": "itm-good", "type": "exposure", "user_id": user,
                "experiment": "td_items",
                "items": [{"product_id": "pet", "position": 1},
                          {"product_id": "gadget", "position": 2}]}
        bad = dict(good, event_id="itm-bad",
                   items=[{"product_id": "pet", "position": 1},
                          {"product_id": "no-such-product-0001", "position": 2}])
        status, doc = self.svc.post_json("/v1/events", {"events": [good, bad]})
        self.assertEqual(status, 202, doc)
        self.assertEqual(doc["accepted"], 1, doc)
        self.assertEqual(len(doc["rejected"]), 1, doc)
        rejected = doc["rejected"][0]
        self.assertEqual((rejected["index"], rejected["event_id"]), (1, "itm-bad"))
        self.assertEqual(rejected["error"]["field"], "events[1].items[1].product_id")
        self.assertIn("no-such-product-0001", rejected["error"]["message"])
        # Nothing of the rejected event was counted: no counter row names the product.
        db = h.open_db_readonly(self.ws.db_path)
        try:
            names = {n for (n,) in db.execute(
                "SELECT DISTINCT name FROM exposure_counters WHERE experiment = 'td_items'")}
        finally:
            db.close()
        self.assertIn("product|gadget", names)
        self.assertFalse([n for n in names if "no-such-product" in n], names)


class ReportCacheTest(h.ServiceTestCase):
    """No alert thread: every report computation comes from the requests below."""

    @classmethod
    def make_workspace(cls):
        ws = h.Workspace(prefix="abrec-rcache-")
        ws.write_config({"alert_interval_ms": 0},
                        extra_surfaces=[("s_c1", "legacy_rules"), ("s_c2", "legacy_rules")])
        ws.write_experiment("rc_one.yaml", h.experiment_yaml("rc_one", surface="s_c1"))
        ws.write_experiment("rc_two.yaml", h.experiment_yaml("rc_two", surface="s_c2"))
        return ws

    def post_exposure(self, n):
        status, doc = self.svc.post_json("/v1/assign", {
            "experiment": "rc_one", "user_ids": [f"rc-{n}-{i}" for i in range(20)], "log": True})
        self.assertEqual(status, 200, doc)

    def scrape_all(self):
        for path in ("/metrics", "/v1/alerts", "/dashboards/"):
            status, _, body = self.svc.request("GET", path)
            self.assertEqual(status, 200, body[:200])

    def test_scrapes_compute_nothing_without_new_commits(self):
        self.post_exposure(0)
        self.scrape_all()  # the first snapshot after the commit is computed here
        before = metric(self.svc, "abrec_report_computations_total")
        for _ in range(15):
            self.scrape_all()
        self.assertEqual(metric(self.svc, "abrec_report_computations_total"), before)
        # A report asked twice with no commit in between is computed at most once.
        hits = metric(self.svc, "abrec_report_cache_hits_total")
        for _ in range(3):
            status, _ = self.svc.get_json("/v1/experiments/rc_one/report")
            self.assertEqual(status, 200)
        self.assertEqual(metric(self.svc, "abrec_report_computations_total"), before)
        self.assertGreaterEqual(metric(self.svc, "abrec_report_cache_hits_total"), hits + 3)
        # A commit makes the next scrape compute a new snapshot: every experiment once.
        self.post_exposure(1)
        self.scrape_all()
        self.scrape_all()
        self.assertEqual(metric(self.svc, "abrec_report_computations_total"), before + 2)

    def test_concurrent_requests_share_one_computation(self):
        self.post_exposure(2)
        self.scrape_all()
        self.scrape_all()
        before = metric(self.svc, "abrec_report_computations_total")
        self.post_exposure(3)  # a new commit: the cached reports are out of date
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(
                lambda _: self.svc.get_json("/v1/experiments/rc_one/report"), range(8)))
        self.assertEqual({status for status, _ in answers}, {200})
        users = {doc["buckets"]["control"]["users"] for _, doc in answers}
        self.assertEqual(len(users), 1, users)  # one report, as of the latest commit
        self.assertEqual(metric(self.svc, "abrec_report_computations_total"), before + 1)

    def test_health_and_assign_answer_while_reports_are_scraped(self):
        # The I/O threads stay free while scrapers keep the report workers busy.
        stop = time.monotonic() + 2.0
        def scrape():
            n = 0
            while time.monotonic() < stop:
                self.post_exposure(100 + n)
                self.scrape_all()
                n += 1
            return n
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            scrapers = [pool.submit(scrape) for _ in range(2)]
            answered = 0
            while not all(f.done() for f in scrapers):
                status, _, _ = self.svc.request("GET", "/healthz")
                self.assertEqual(status, 200)
                query = urllib.parse.urlencode({"user_id": f"hz-{answered}",
                                                "experiment": "rc_two", "log": "false"})
                status, doc = self.svc.get_json("/v1/assign?" + query)
                self.assertEqual(status, 200, doc)
                answered += 1
            self.assertTrue(all(f.result() > 0 for f in scrapers))
        self.assertGreater(answered, 0)


if __name__ == "__main__":
    unittest.main()
