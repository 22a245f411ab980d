#!/usr/bin/python3
"""Starting and stopping `abrec serve`: signals, readiness, startup failures, and the
population guard (the permanent holdout must stay permanent across restarts)."""

import json
import os
import signal
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402

# "Within a few seconds": the grace period is 200 ms; the bound is generous for slow builds.
STOP_WITHIN_S = 10.0
EXP = {"key": "life_exp", "phase": "ab_test", "coverage": 1.0, "namespace": None,
       "variants": [("control", "legacy_rules", 0.5), ("treatment", "recommender", 0.5)]}
USERS = [f"life-{i}" for i in range(400)]


class LifecycleTest(unittest.TestCase):

    def setUp(self):
        self.ws = h.Workspace()
        self.ws.write_experiment("life.yaml", h.experiment_yaml("life_exp"))
        self.services = []

    def tearDown(self):
        for s in self.services:
            s.kill()
        self.ws.cleanup()

    def service(self):
        s = h.Service(self.ws.config_path)
        self.services.append(s)
        return s

    def check_ready(self, svc):
        status, doc = svc.get_json("/readyz")
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["status"], "ready")
        self.assertEqual(doc["experiments"], 1)
        status, doc = svc.get_json("/healthz")
        self.assertEqual((status, doc), (200, {"status": "ok"}))

    def check_stops(self, sig):
        svc = self.service().start()
        self.check_ready(svc)
        self.assertEqual(svc.assign("u", "life_exp")[0], 200)
        svc.send_signal(sig)
        self.assertEqual(svc.wait_exit(timeout=STOP_WITHIN_S), 0, svc.stderr_text())
        self.assertIsNotNone(svc.wait_for_line(r"received signal", timeout=1), svc.stderr_text())

    def test_sigterm_exits_zero(self):
        self.check_stops(signal.SIGTERM)

    def test_sigint_exits_zero(self):
        self.check_stops(signal.SIGINT)

    def test_sigterm_with_open_keepalive_connection_exits_zero(self):
        svc = self.service().start()
        conn = svc.connection()
        try:
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            svc.send_signal(signal.SIGTERM)
            self.assertEqual(svc.wait_exit(timeout=STOP_WITHIN_S), 0, svc.stderr_text())
        finally:
            conn.close()

    def test_stopped_service_refuses_connections(self):
        svc = self.service().start()
        port = svc.port
        self.assertEqual(svc.stop(), 0)
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()

    def test_invalid_config_exits_nonzero_with_location(self):
        self.ws.write_config({"holdout": 0.9})
        svc = self.service().start(expect_listening=False)
        status = svc.wait_exit()
        self.assertNotEqual(status, 0)
        self.assertRegex(svc.stderr_text(),
                         r"abrec\.yaml:\d+:\d+: assignment\.holdout: 0\.9 is out of range")
        self.assertNotIn("listening on", svc.stderr_text())

    def test_population_change_is_refused_then_allowed_with_reason(self):
        svc = self.service().start()
        before = {u: svc.assign(u, "life_exp")[1] for u in USERS[:50]}
        self.assertEqual(svc.stop(), 0, svc.stderr_text())

        # A different holdout on the same platform: refused at startup.
        self.ws.write_config({"holdout": 0.06})
        svc = self.service().start(expect_listening=False)
        status = svc.wait_exit()
        self.assertNotEqual(status, 0, svc.stderr_text())
        self.assertIn("allow_population_change", svc.stderr_text())
        self.assertNotIn("listening on", svc.stderr_text())
        self.assertEqual([e["action"] for e in self.ws.audit_entries()].count("population_changed"), 0)

        # Back to the recorded split: starts, and nobody moved.
        self.ws.write_config()
        svc = self.service().start()
        self.assertEqual({u: h.without_request(svc.assign(u, "life_exp")[1]) for u in before},
                         {u: h.without_request(doc) for u, doc in before.items()})
        self.assertEqual(svc.stop(), 0, svc.stderr_text())

        # With a recorded reason: starts, serves the new split, and the change is audited.
        self.ws.write_config({"holdout": 0.06},
                             extra_assignment_lines=['allow_population_change: "PM-7: larger holdout"'])
        svc = self.service().start()
        self.check_ready(svc)
        for u in USERS:
            want = h.oracle_assign(u, EXP, holdout=0.06, exploration=0.05)
            got = svc.assign(u, "life_exp")[1]
            self.assertEqual((got["bucket"], got["policy"]), (want["bucket"], want["policy"]), u)
        moved = [u for u in USERS if 0.05 <= h.hash_v2("abrec:population", u) < 0.06]
        self.assertTrue(moved)
        self.assertEqual(svc.assign(moved[0], "life_exp")[1]["bucket"], "holdout")
        self.assertEqual(svc.stop(), 0, svc.stderr_text())
        changed = [e for e in self.ws.audit_entries() if e["action"] == "population_changed"]
        self.assertEqual(len(changed), 1, self.ws.audit_entries())
        self.assertEqual(changed[0]["reason"], "PM-7: larger holdout")
        self.assertEqual(json.loads(changed[0]["content_hash"])["holdout"], 0.06)

    def test_platform_salt_change_is_refused(self):
        svc = self.service().start()
        self.assertEqual(svc.stop(), 0, svc.stderr_text())
        self.ws.write_config({"platform_salt": "other-salt"})
        svc = self.service().start(expect_listening=False)
        self.assertNotEqual(svc.wait_exit(), 0)
        self.assertIn("allow_population_change", svc.stderr_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
