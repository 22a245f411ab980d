#!/usr/bin/python3
"""Experiment files are reloaded without a restart: new files appear, broken files keep the
last good version live, the reshuffle guard refuses protected changes of an ab_test
experiment (also across restarts), and every change is audit-logged. Over 400 lines: both
cases run on ReloadTestCase's service over a folder it rewrites, defined here."""

import contextlib
import json
import os
import re
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402

POLL_S = 15.0  # reload_interval_ms is 200; generous for sanitizer builds
USERS = [f"reload-user-{i}" for i in range(200)] + ["José", "ユーザー42"]
NS = ("portal_recs", 0.0, 0.5)


def exp_def(key, phase="ab_test", coverage=0.5, split=(0.5, 0.5), ns=NS):
    return {"key": key, "phase": phase, "coverage": coverage, "namespace": ns,
            "variants": [("control", "legacy_rules", split[0]),
                         ("treatment", "recommender", split[1])]}


def exp_text(key, phase="ab_test", coverage=0.5, split=(0.5, 0.5), ns=NS, **kw):
    return h.experiment_yaml(key, phase=phase, coverage=coverage, namespace=ns,
                             split=[("control", split[0]), ("treatment", split[1])], **kw)


class ReloadTestCase(unittest.TestCase):

    def setUp(self):
        self.ws = h.Workspace()
        self.svc = None

    def tearDown(self):
        try:
            if self.svc is not None:
                # Also reports a service that died during the test (with its stderr).
                self.assertEqual(self.svc.stop(), 0, self.svc.stderr_text())
        finally:
            if self.svc is not None:
                self.svc.kill()
            self.ws.cleanup()

    def start(self):
        self.svc = h.Service(self.ws.config_path).start()
        return self.svc

    def restart(self):
        self.assertEqual(self.svc.stop(), 0, self.svc.stderr_text())
        return self.start()

    def readyz(self):
        status, doc = self.svc.get_json("/readyz")
        self.assertEqual(status, 200, doc)
        return doc

    def wait_status(self, status):
        return h.wait_until(lambda: (d := self.readyz())["status"] == status and d,
                            timeout=POLL_S, message=f"/readyz status {status}")

    def definition(self, key):
        status, doc = self.svc.get_json(f"/v1/experiments/{key}")
        return doc if status == 200 else None

    def wait_definition(self, key, predicate, message):
        return h.wait_until(lambda: (d := self.definition(key)) is not None and predicate(d) and d,
                            timeout=POLL_S, message=message)

    def buckets(self, key):
        status, doc = self.svc.post_json("/v1/assign", {"experiment": key, "user_ids": USERS})
        self.assertEqual(status, 200, doc)
        return [r["bucket"] for r in doc["results"]]

    def oracle_buckets(self, exp):
        return [h.oracle_assign(u, exp)["bucket"] for u in USERS]

    @contextlib.contextmanager
    def under_load(self, request, threads=2):
        """Clients on `threads` keep-alive connections for the duration of the block, each
        calling request(conn, k) in a loop (k counts its calls); request returns a problem to
        report, or None. Afterwards: no problem, no exception, and the service is ready."""
        problems = []
        stop = threading.Event()

        def client(k):
            conn = self.svc.connection()
            try:
                while not stop.is_set():
                    if (problem := request(conn, k)) is not None:
                        problems.append(problem)
                    k += threads
            except Exception as e:  # noqa: BLE001 - reported below
                problems.append(("exception", repr(e)))
            finally:
                conn.close()

        clients = [threading.Thread(target=client, args=(k,)) for k in range(threads)]
        for t in clients:
            t.start()
        try:
            yield
        finally:
            stop.set()
            for t in clients:
                t.join(timeout=30)
        self.assertEqual(problems, [])
        self.assertEqual(self.readyz()["status"], "ready")


class ReloadTest(ReloadTestCase):

    def test_new_file_appears_and_removed_file_disappears(self):
        self.ws.write_experiment("first.yaml", exp_text("first_exp"))
        self.start()
        self.ws.write_experiment("second.yaml", exp_text(
            "second_exp", phase="shadow", ns=("portal_recs", 0.5, 1.0), coverage=1.0))

        def listed():
            status, doc = self.svc.get_json("/v1/experiments")
            return {e["key"]: e["phase"] for e in doc["experiments"]}

        h.wait_until(lambda: "second_exp" in listed(), timeout=POLL_S,
                     message="second_exp in /v1/experiments")
        self.assertEqual(listed(), {"first_exp": "ab_test", "second_exp": "shadow"})
        self.assertEqual(self.buckets("second_exp"), self.oracle_buckets(
            exp_def("second_exp", phase="shadow", coverage=1.0, ns=("portal_recs", 0.5, 1.0))))
        self.assertEqual(self.readyz()["status"], "ready")

        self.ws.remove_experiment("second.yaml")
        h.wait_until(lambda: "second_exp" not in listed(), timeout=POLL_S,
                     message="second_exp gone from /v1/experiments")
        self.assertEqual(self.svc.assign("u", "second_exp")[0], 404)
        actions = [(e["action"], e["experiment"]) for e in self.ws.audit_entries()]
        self.assertIn(("created", "second_exp"), actions)
        self.assertIn(("removed", "second_exp"), actions)

    def test_broken_file_keeps_last_good_version(self):
        path = self.ws.write_experiment("steady.yaml", exp_text("steady_exp", phase="shadow"))
        self.start()
        before = self.buckets("steady_exp")
        self.assertEqual(before, self.oracle_buckets(exp_def("steady_exp", phase="shadow")))

        broken = exp_text("steady_exp", phase="shadow", split=(0.4, 0.5))
        lines = broken.splitlines()
        line_no = next(i for i, l in enumerate(lines) if l.lstrip().startswith("split:")) + 1
        col = lines[line_no - 1].index("{") + 1
        self.ws.write_experiment("steady.yaml", broken)
        doc = self.wait_status("degraded")

        self.assertEqual(len(doc["errors"]), 1, doc)
        err = doc["errors"][0]
        self.assertEqual(err["file"], path)
        self.assertEqual((err["line"], err["column"]), (line_no, col))
        self.assertEqual(err["field"], "traffic.split")
        self.assertEqual(err["text"],
                         f"{path}:{line_no}:{col}: traffic.split: weights sum to 0.9; they must sum to 1")
        self.assertRegex(err["text"], r"^.+:\d+:\d+: traffic\.split: weights sum to 0\.9; they must sum to 1$")
        # The last good version is still live.
        self.assertEqual(self.buckets("steady_exp"), before)
        self.assertEqual(self.definition("steady_exp")["traffic"]["split"],
                         {"control": 0.5, "treatment": 0.5})
        status, listing = self.svc.get_json("/v1/experiments")
        self.assertEqual([e["key"] for e in listing["experiments"]], ["steady_exp"])
        self.assertEqual([e["text"] for e in listing["errors"]], [err["text"]])

        # Fixed (and changed): ready again, the new version live.
        self.ws.write_experiment("steady.yaml", exp_text("steady_exp", phase="shadow",
                                                         split=(0.3, 0.7)))
        doc = self.wait_status("ready")
        self.assertEqual(doc["errors"], [])
        self.assertEqual(self.definition("steady_exp")["traffic"]["split"],
                         {"control": 0.3, "treatment": 0.7})
        self.assertEqual(self.buckets("steady_exp"),
                         self.oracle_buckets(exp_def("steady_exp", phase="shadow", split=(0.3, 0.7))))

    def test_unparsable_file_keeps_last_good_version(self):
        self.ws.write_experiment("steady.yaml", exp_text("steady_exp"))
        self.start()
        before = self.buckets("steady_exp")
        self.ws.write_experiment("steady.yaml", "experiment: steady_exp\ntraffic: {coverage: [\n")
        doc = self.wait_status("degraded")
        self.assertEqual(len(doc["errors"]), 1, doc)
        self.assertRegex(doc["errors"][0]["text"], r"^" + re.escape(self.ws.experiment_path(
            "steady.yaml")) + r":\d+:\d+: ")
        self.assertEqual(self.buckets("steady_exp"), before)

    def test_duplicate_key_or_overlapping_namespace_is_refused_live(self):
        self.ws.write_experiment("a.yaml", exp_text("live_exp"))
        self.start()
        before = self.buckets("live_exp")
        dup = self.ws.write_experiment("b.yaml", exp_text("live_exp", ns=("portal_recs", 0.5, 1.0)))
        doc = self.wait_status("degraded")
        self.assertEqual([(e["file"], e["field"]) for e in doc["errors"]], [(dup, "experiment")])
        self.assertIn("duplicate experiment key", doc["errors"][0]["message"])
        self.assertEqual(self.definition("live_exp")["namespace"]["range"], [0.0, 0.5])
        self.assertEqual(self.buckets("live_exp"), before)

        overlap = self.ws.write_experiment("b.yaml", exp_text("new_exp", ns=("portal_recs", 0.4, 0.9)))
        doc = h.wait_until(lambda: (d := self.readyz())["errors"] and
                           d["errors"][0]["field"] == "namespace" and d,
                           timeout=POLL_S, message="the overlap refused")
        self.assertEqual([e["file"] for e in doc["errors"]], [overlap])
        self.assertEqual(self.svc.assign("u", "new_exp")[0], 404)
        self.assertEqual(self.buckets("live_exp"), before)

        self.ws.write_experiment("b.yaml", exp_text("new_exp", ns=("portal_recs", 0.5, 0.9)))
        self.wait_status("ready")
        self.assertEqual(self.svc.assign("u", "new_exp")[0], 200)

    def test_seed_not_utf8_is_refused(self):
        # A seed that is not valid UTF-8 cannot be hashed as code points (nor reproduced by
        # any SDK): the file is refused like any other invalid file.
        self.ws.write_experiment("good.yaml", exp_text("good_exp"))
        self.start()
        path = self.ws.write_experiment(
            "bad.yaml", exp_text("bad_seed_exp", ns=("portal_recs", 0.5, 1.0),
                                 seed="a-rather-long-seed-name").encode().replace(
                b'"a-rather-long-seed-name"', b'"a-rather-long-seed-name\xff"'))
        # Wait until the file has been read: either refused, or (wrongly) live.
        h.wait_until(lambda: self.readyz()["status"] == "degraded" or
                     self.definition("bad_seed_exp") is not None,
                     timeout=POLL_S, message="bad.yaml read")
        self.assertEqual(self.svc.assign("u", "bad_seed_exp")[0], 404,
                         "an experiment whose seed is not UTF-8 is live")
        doc = self.readyz()
        self.assertEqual([(e["file"], e["field"]) for e in doc["errors"]], [(path, "seed")])

    def test_assignments_stay_consistent_during_reloads(self):
        versions = [exp_def("busy_exp", phase="shadow", coverage=c) for c in (0.5, 0.6)]
        texts = [exp_text("busy_exp", phase="shadow", coverage=c) for c in (0.5, 0.6)]
        self.ws.write_experiment("busy.yaml", texts[0])
        self.start()
        users = USERS[:60]
        allowed = {u: {h.oracle_assign(u, v)["bucket"] for v in versions} for u in users}

        def assign(conn, k):
            u = users[k % len(users)]
            conn.request("GET", "/v1/assign?" + urllib.parse.urlencode(
                {"user_id": u, "experiment": "busy_exp"}))
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                return (u, r.status, body)
            if json.loads(body)["bucket"] not in allowed[u]:
                return (u, body)
            return None

        with self.under_load(assign):
            for i in range(6):
                self.ws.write_experiment("busy.yaml", texts[(i + 1) % 2])
                want = 0.6 if i % 2 == 0 else 0.5
                self.wait_definition("busy_exp", lambda d, w=want: d["traffic"]["coverage"] == w,
                                     f"coverage {want}")

    def test_removing_an_experiment_under_load(self):
        # Requests that hold the experiment (assign with logging, its report and dashboard, the
        # snapshot of every report) while its file is removed and written again: each answer is
        # 200 or, while it is gone, 404; the service (in the sanitizer build: ASan/UBSan) never
        # crashes, and stops cleanly (tearDown).
        text = exp_text("gone_exp", phase="shadow", coverage=1.0)
        self.ws.write_experiment("gone.yaml", text)
        self.start()
        paths = ["/v1/assign?user_id={u}&experiment=gone_exp",
                 "/v1/experiments/gone_exp/report", "/dashboards/gone_exp", "/dashboards/",
                 "/v1/alerts", "/metrics", "/v1/experiments/gone_exp"]

        def get(conn, k):
            path = paths[k % len(paths)].format(u=urllib.parse.quote(USERS[k % len(USERS)]))
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            return None if r.status in (200, 404) else (path, r.status, body[:200])

        with self.under_load(get, threads=3):
            for _ in range(4):
                self.ws.remove_experiment("gone.yaml")
                h.wait_until(lambda: self.definition("gone_exp") is None, timeout=POLL_S,
                             message="gone_exp removed")
                self.ws.write_experiment("gone.yaml", text)
                h.wait_until(lambda: self.definition("gone_exp") is not None, timeout=POLL_S,
                             message="gone_exp back")

        # Removed for good: the next snapshot drops its cached report (it was kept forever).
        self.ws.remove_experiment("gone.yaml")
        h.wait_until(lambda: self.definition("gone_exp") is None, timeout=POLL_S,
                     message="gone_exp removed")
        loaded = len(self.svc.get_json("/v1/experiments")[1]["experiments"])

        def cached():
            self.svc.get_json("/v1/alerts")  # asks for a snapshot when the last is stale
            status, _, body = self.svc.request("GET", "/metrics")
            m = re.search(r"^abrec_report_cache_entries (\S+)$", body.decode(), re.M)
            return status == 200 and m is not None and float(m.group(1)) <= loaded
        h.wait_until(cached, timeout=10, message=f"at most {loaded} cached reports")


class ReshuffleGuardTest(ReloadTestCase):

    def test_reshuffle_guard_in_ab_test(self):
        path = self.ws.write_experiment("guarded.yaml", exp_text("guarded_exp"))
        self.start()
        original = self.buckets("guarded_exp")
        self.assertEqual(original, self.oracle_buckets(exp_def("guarded_exp")))
        n_audit = len(self.ws.audit_entries())

        # 1. Changing the split without a reason: refused, the old split stays live.
        self.ws.write_experiment("guarded.yaml", exp_text("guarded_exp", split=(0.4, 0.6)))
        doc = self.wait_status("degraded")
        self.assertEqual(len(doc["errors"]), 1, doc)
        err = doc["errors"][0]
        self.assertEqual(err["file"], path)
        self.assertEqual(err["field"], "allow_reshuffle")
        self.assertIn("traffic.split", err["message"])
        self.assertIn("allow_reshuffle", err["message"])
        self.assertEqual(self.definition("guarded_exp")["traffic"]["split"],
                         {"control": 0.5, "treatment": 0.5})
        self.assertEqual(self.buckets("guarded_exp"), original)
        new = self.ws.audit_entries()[n_audit:]
        self.assertEqual([(e["action"], e["experiment"]) for e in new], [("refused", "guarded_exp")])
        self.assertIn("allow_reshuffle", new[0]["reason"])

        # 2. Ramping coverage up: accepted, and nobody enrolled before moves.
        self.ws.write_experiment("guarded.yaml", exp_text("guarded_exp", coverage=0.7))
        self.wait_status("ready")
        self.assertEqual(self.definition("guarded_exp")["traffic"]["coverage"], 0.7)
        ramped = self.buckets("guarded_exp")
        self.assertEqual(ramped, self.oracle_buckets(exp_def("guarded_exp", coverage=0.7)))
        for u, a, b in zip(USERS, original, ramped):
            if a != "not_enrolled":
                self.assertEqual(a, b, f"ramping coverage moved {u} from {a} to {b}")
        self.assertGreater(sum(a != b for a, b in zip(original, ramped)), 0)
        new = self.ws.audit_entries()[n_audit + 1:]
        self.assertEqual([(e["action"], e["changed"]) for e in new],
                         [("changed", ["traffic.coverage"])])

        # 3. Lowering coverage: refused.
        self.ws.write_experiment("guarded.yaml", exp_text("guarded_exp", coverage=0.6))
        doc = self.wait_status("degraded")
        self.assertIn("traffic.coverage", doc["errors"][0]["message"])
        self.assertEqual(self.definition("guarded_exp")["traffic"]["coverage"], 0.7)

        # 4. Changing the split with a recorded reason: accepted and audited.
        self.ws.write_experiment("guarded.yaml", exp_text(
            "guarded_exp", coverage=0.7, split=(0.4, 0.6),
            allow_reshuffle="PM-123: rebalance after the pilot"))
        self.wait_status("ready")
        self.assertEqual(self.definition("guarded_exp")["traffic"]["split"],
                         {"control": 0.4, "treatment": 0.6})
        self.assertEqual(self.buckets("guarded_exp"), self.oracle_buckets(
            exp_def("guarded_exp", coverage=0.7, split=(0.4, 0.6))))
        last = self.ws.audit_entries()[-1]
        self.assertEqual(last["action"], "changed")
        self.assertEqual(last["experiment"], "guarded_exp")
        self.assertIn("traffic.split", last["changed"])
        self.assertEqual(last["reason"], "PM-123: rebalance after the pilot")

    def test_reverting_a_refused_change_clears_the_error(self):
        self.ws.write_experiment("guarded.yaml", exp_text("guarded_exp"))
        self.start()
        before = self.buckets("guarded_exp")
        n_audit = len(self.ws.audit_entries())
        refused = exp_text("guarded_exp", split=(0.4, 0.6))
        self.ws.write_experiment("guarded.yaml", refused)
        self.wait_status("degraded")
        # Saving the same refused content again is not a new refusal.
        self.ws.write_experiment("guarded.yaml", refused)
        time.sleep(5 * h.RELOAD_INTERVAL_MS / 1000)
        self.ws.write_experiment("guarded.yaml", exp_text("guarded_exp"))
        doc = self.wait_status("ready")
        self.assertEqual(doc["errors"], [])
        self.assertEqual(self.buckets("guarded_exp"), before)
        self.assertEqual([e["action"] for e in self.ws.audit_entries()[n_audit:]], ["refused"])

    def test_reordering_variants_or_changing_seed_is_refused(self):
        self.ws.write_experiment("guarded.yaml", exp_text("guarded_exp"))
        self.start()
        before = self.buckets("guarded_exp")
        reordered = h.experiment_yaml(
            "guarded_exp", coverage=0.5, namespace=NS,
            variants=[("treatment", "recommender", "hybrid"), ("control", "legacy_rules", None)],
            split=[("control", 0.5), ("treatment", 0.5)])
        self.ws.write_experiment("guarded.yaml", reordered)
        doc = self.wait_status("degraded")
        self.assertEqual(doc["errors"][0]["field"], "allow_reshuffle")
        self.assertIn("variants", doc["errors"][0]["message"])
        self.assertEqual([v["name"] for v in self.definition("guarded_exp")["variants"]],
                         ["control", "treatment"])
        self.assertEqual(self.buckets("guarded_exp"), before)

        self.ws.write_experiment("guarded.yaml", exp_text("guarded_exp", seed="another-seed"))
        doc = h.wait_until(lambda: (d := self.readyz())["errors"] and
                           "seed" in d["errors"][0]["message"] and d,
                           timeout=POLL_S, message="the seed change refused")
        self.assertEqual(doc["status"], "degraded")
        self.assertEqual(self.definition("guarded_exp")["seed"], "guarded_exp")
        self.assertEqual(self.buckets("guarded_exp"), before)

    def test_shadow_experiment_split_change_needs_no_reason(self):
        self.ws.write_experiment("free.yaml", exp_text("free_exp", phase="shadow"))
        self.start()
        self.ws.write_experiment("free.yaml", exp_text("free_exp", phase="shadow", split=(0.2, 0.8)))
        self.wait_definition("free_exp", lambda d: d["traffic"]["split"]["control"] == 0.2,
                             "the new split of a shadow experiment")
        self.assertEqual(self.readyz()["status"], "ready")

    def test_restart_with_same_files_adds_no_audit_lines(self):
        self.ws.write_experiment("guarded.yaml", exp_text("guarded_exp"))
        self.ws.write_experiment("other.yaml", exp_text("other_exp", phase="shadow",
                                                        ns=("portal_recs", 0.5, 1.0)))
        self.start()
        before = self.buckets("guarded_exp")
        entries = self.ws.audit_entries()
        self.assertEqual(sorted((e["action"], e["experiment"]) for e in entries),
                         [("created", "guarded_exp"), ("created", "other_exp"),
                          ("population_recorded", "")])
        self.restart()
        self.assertEqual(self.readyz()["status"], "ready")
        self.assertEqual(self.buckets("guarded_exp"), before)
        self.restart()
        self.assertEqual(self.readyz()["status"], "ready")
        self.assertEqual(self.ws.audit_entries(), entries)

    def test_reshuffle_made_while_down_is_refused_at_restart(self):
        path = self.ws.write_experiment("guarded.yaml", exp_text("guarded_exp"))
        self.start()
        before = self.buckets("guarded_exp")
        self.assertEqual(self.svc.stop(), 0, self.svc.stderr_text())
        n_audit = len(self.ws.audit_entries())

        self.ws.write_experiment("guarded.yaml", exp_text("guarded_exp", split=(0.3, 0.7)))
        self.start()
        doc = self.readyz()
        self.assertEqual(doc["status"], "degraded", doc)
        self.assertEqual([(e["file"], e["field"]) for e in doc["errors"]],
                         [(path, "allow_reshuffle")])
        self.assertIn("traffic.split", doc["errors"][0]["message"])
        new = self.ws.audit_entries()[n_audit:]
        self.assertEqual([(e["action"], e["experiment"]) for e in new], [("refused", "guarded_exp")])
        # The version accepted before the restart stays live.
        status, definition = self.svc.get_json("/v1/experiments/guarded_exp")
        self.assertEqual(status, 200, "the refused experiment vanished instead of keeping its "
                                      f"accepted version: {definition}")
        self.assertEqual(definition["traffic"]["split"], {"control": 0.5, "treatment": 0.5})
        self.assertEqual(self.buckets("guarded_exp"), before)

    def test_file_broken_while_down_keeps_accepted_version_at_restart(self):
        path = self.ws.write_experiment("guarded.yaml", exp_text("guarded_exp"))
        self.start()
        before = self.buckets("guarded_exp")
        self.assertEqual(self.svc.stop(), 0, self.svc.stderr_text())

        self.ws.write_experiment("guarded.yaml", exp_text("guarded_exp", split=(0.4, 0.5)))
        self.start()
        doc = self.readyz()
        self.assertEqual(doc["status"], "degraded", doc)
        self.assertEqual([(e["file"], e["field"]) for e in doc["errors"]], [(path, "traffic.split")])
        # A typo must not take a running ab_test experiment off the air at the next restart:
        # the last accepted version (kept in accepted_dir) stays live.
        status, definition = self.svc.get_json("/v1/experiments/guarded_exp")
        self.assertEqual(status, 200, "the experiment vanished instead of keeping its accepted "
                                      f"version: {definition}")
        self.assertEqual(self.buckets("guarded_exp"), before)


if __name__ == "__main__":
    unittest.main(verbosity=2)
