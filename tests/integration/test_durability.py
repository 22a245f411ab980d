#!/usr/bin/python3
"""Fail-stop durability of the event store (issue 14, defect 7), /readyz when writes cannot
be acknowledged, and the files and inputs of defect 8: modes of the files holding customer
data, the PUT key checked before any path is built, rollout_variant written as one YAML
scalar, control characters escaped in log lines, and an audit failure failing the change.

A failed fsync is injected with an LD_PRELOAD shim (fsync_fail_shim.cc, built by CMake and
named by ABREC_FSYNC_SHIM): while a trigger file exists, fsync/fdatasync of the event
database and its WAL fail with EIO. After the first failure the service must acknowledge
nothing more (503 with the JSON error), even once the shim lets syncs succeed again: on Linux
a retried fsync can succeed over pages the kernel dropped (PostgreSQL's "fsyncgate", 2018).
/readyz says degraded with the reason; a restart recovers from the WAL with every
acknowledged event present.
"""

import json
import os
import re
import sqlite3
import stat
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402

SHIM = os.environ.get("ABREC_FSYNC_SHIM", "")


def clicks(prefix, n, pad=0):
    """n clicks; `pad` lengthens their ids (event ids up to 128 bytes, user ids 256)."""
    return [{"event_id": f"{prefix}-{i}" + "x" * min(pad, 100), "type": "click",
             "user_id": f"user-{prefix}-{i}" + "u" * pad} for i in range(n)]


def post(svc, events):
    status, headers, data = svc.request(
        "POST", "/v1/events", body=json.dumps({"events": events}).encode(),
        headers={"Content-Type": "application/json"})
    return status, headers, json.loads(data.decode()) if data else None


def stored_ids(db_path):
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        return {row[0] for row in db.execute("SELECT event_id FROM events")}


class FailStopTest(unittest.TestCase):
    def setUp(self):
        if not SHIM:
            self.skipTest("ABREC_FSYNC_SHIM is not set (run through ctest)")
        self.ws = h.Workspace(prefix="abrec-durable-")
        self.trigger = os.path.join(self.ws.root, "fail-sync-now")
        self.svc = None

    def tearDown(self):
        if self.svc is not None:
            self.svc.kill()
        self.ws.cleanup()

    def start(self, with_shim):
        saved = {k: os.environ.get(k) for k in
                 ("LD_PRELOAD", "ABREC_FAIL_SYNC_WHEN", "ABREC_FAIL_SYNC_PREFIX")}
        if with_shim:
            os.environ.update({"LD_PRELOAD": SHIM, "ABREC_FAIL_SYNC_WHEN": self.trigger,
                               "ABREC_FAIL_SYNC_PREFIX": self.ws.db_path})
        try:
            self.svc = h.Service(self.ws.config_path).start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def test_a_failed_fsync_stops_acknowledging_and_a_restart_loses_nothing(self):
        self.start(with_shim=True)
        acknowledged = []
        for i in range(3):
            batch = clicks(f"ok{i}", 4)
            status, _, doc = post(self.svc, batch)
            self.assertEqual(status, 202, doc)
            acknowledged += [e["event_id"] for e in batch]
        status, ready = self.svc.get_json("/readyz")
        self.assertEqual(status, 200, ready)

        open(self.trigger, "w").close()  # the disk reports a write-back error
        status, headers, doc = post(self.svc, clicks("lost0", 2))
        self.assertEqual(status, 503, doc)
        self.assertEqual(doc["error"]["code"], "unavailable", doc)
        self.assertEqual(doc["error"]["field"], "storage", doc)
        os.remove(self.trigger)  # syncs succeed again: they must not be trusted

        for i in range(1, 4):
            status, _, doc = post(self.svc, clicks(f"lost{i}", 2))
            self.assertEqual(status, 503, doc)
            self.assertEqual(set(doc), {"error"}, doc)
            self.assertEqual(set(doc["error"]), {"code", "message", "field"}, doc)
            self.assertIn("restart", doc["error"]["message"], doc)

        status, ready = self.svc.get_json("/readyz")
        self.assertEqual(status, 503, ready)
        self.assertEqual(ready["status"], "degraded", ready)
        self.assertEqual(ready["storage"]["code"], "unavailable", ready)
        self.assertIn("sync", ready["storage"]["message"], ready)
        status, _ = self.svc.get_json("/healthz")  # alive: reads still served
        self.assertEqual(status, 200)
        # Read from the service's stderr by a thread of the harness: waited for, not assumed.
        self.assertIsNotNone(
            self.svc.wait_for_line("the event store stopped acknowledging writes", timeout=10),
            self.svc.stderr_text())

        self.assertEqual(self.svc.stop(), 0, self.svc.stderr_text())
        self.svc = None
        # Restart without the shim: SQLite recovers from the WAL on open.
        self.start(with_shim=False)
        status, ready = self.svc.get_json("/readyz")
        self.assertEqual(status, 200, ready)
        missing = set(acknowledged) - stored_ids(self.ws.db_path)
        self.assertEqual(missing, set(), "acknowledged events lost")
        status, _, doc = post(self.svc, clicks("after", 2))
        self.assertEqual(status, 202, doc)
        self.assertEqual(self.svc.stop(), 0, self.svc.stderr_text())
        self.svc = None


class FullDiskReadyzTest(unittest.TestCase):
    """storage.max_size_mb: 1 stands for a full disk: writes get 503 and /readyz must say so
    (it answered ready while every write was refused)."""

    def setUp(self):
        self.ws = h.Workspace(prefix="abrec-full-")
        self.ws.write_config({"max_size_mb": 1})
        self.svc = h.Service(self.ws.config_path).start()

    def tearDown(self):
        self.svc.kill()
        self.ws.cleanup()

    def test_readyz_is_degraded_while_the_disk_is_full(self):
        full = None
        for i in range(40):
            status, _, doc = post(self.svc, clicks(f"fill{i}", 200, pad=200))
            if status == 503:
                full = doc
                break
            self.assertEqual((status, doc["accepted"]), (202, 200), doc)
        self.assertIsNotNone(full, "1 MB never filled")
        self.assertIn("full", full["error"]["message"], full)
        status, ready = self.svc.get_json("/readyz")
        self.assertEqual(status, 503, ready)
        self.assertEqual(ready["status"], "degraded", ready)
        self.assertIn("full", ready["storage"]["message"], ready)
        self.assertEqual(self.svc.stop(), 0, self.svc.stderr_text())


LEGACY_ARMS = [("control", "legacy_rules", None), ("treatment", "legacy_rules", None)]


class FilesAndInputsTest(h.ServiceTestCase):
    @classmethod
    def make_workspace(cls):
        os.umask(0o022)  # the usual one: the modes must come from the service, not from it
        ws = h.Workspace(prefix="abrec-files-")
        ws.write_config(extra_surfaces=[("s_fi", "legacy_rules"), ("s_inj", "legacy_rules"),
                                        ("s_log", "legacy_rules"), ("s_aud", "legacy_rules")])
        for key, surface in (("fi_exp", "s_fi"), ("fi_inject", "s_inj"), ("fi_log", "s_log"),
                             ("fi_audit", "s_aud")):
            ws.write_experiment(f"{key}.yaml", h.experiment_yaml(
                key, phase="ab_test", surface=surface, variants=LEGACY_ARMS))
        return ws

    def admin(self, method, path, body, content_type="application/json"):
        with open(os.path.join(self.ws.var_dir, "admin.token"), encoding="utf-8") as f:
            token = f.read().strip()
        data = json.dumps(body).encode() if isinstance(body, dict) else body.encode()
        status, _, out = self.svc.request(
            method, path, body=data,
            headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
        return status, json.loads(out.decode()) if out else None

    def mode(self, path):
        return stat.S_IMODE(os.stat(path).st_mode)

    def test_files_with_customer_data_are_private(self):
        status, _, doc = post(self.svc, clicks("mode", 3))
        self.assertEqual(status, 202, doc)
        text = h.experiment_yaml("fi_exp", phase="ab_test", surface="s_fi", variants=LEGACY_ARMS)
        text = text.replace("integration test experiment fi_exp", "changed through the API")
        status, doc = self.admin("PUT", "/v1/experiments/fi_exp", text, "application/yaml")
        self.assertEqual(status, 200, doc)
        private = [self.ws.db_path + suffix for suffix in ("", "-wal", "-shm")]
        private.append(self.ws.audit_log)
        accepted = os.path.join(self.ws.var_dir, "experiments-accepted")
        private += [os.path.join(accepted, name) for name in os.listdir(accepted)]
        self.assertTrue(any(p.endswith("fi_exp.accepted") for p in private), private)
        cache = os.path.join(self.ws.var_dir, "candidates.db")
        private += [cache + s for s in ("", "-wal", "-shm") if os.path.exists(cache + s)]
        for path in private:
            with self.subTest(path=path):
                self.assertEqual(self.mode(path), 0o600, oct(self.mode(path)))
        self.assertFalse([n for n in os.listdir(accepted) if ".tmp" in n])

    def test_put_key_is_checked_before_any_path_is_built(self):
        text = h.experiment_yaml("abrec", surface="s_fi", variants=LEGACY_ARMS)
        # ../abrec.yaml is the workspace's config file: the answer must not tell that it exists.
        for key in ("..%2Fabrec", "..%2Fnothing-here", "%2Fetc%2Fpasswd", "a%00b", ".hidden"):
            with self.subTest(key=key):
                status, doc = self.admin("PUT", f"/v1/experiments/{key}", text, "application/yaml")
                self.assertEqual(status, 400, doc)
                self.assertEqual(doc["error"]["code"], "invalid_argument", doc)
                self.assertEqual(doc["error"]["field"], "experiment", doc)
                self.assertNotIn("exists", doc["error"]["message"])
                self.assertNotIn(self.ws.root, doc["error"]["message"])
        self.assertTrue(os.path.exists(self.ws.config_path))

    def test_rollout_variant_is_written_as_one_yaml_scalar(self):
        path = self.ws.experiment_path("fi_inject.yaml")
        with open(path, encoding="utf-8") as f:
            before = f.read()
        for variant in ("treatment\nauto_stop: true", "treatment\nowner: evil@example.com",
                        "a: b", "treatment\r\nphase: stopped"):
            with self.subTest(variant=variant):
                status, doc = self.admin("POST", "/v1/experiments/fi_inject/phase",
                                         {"phase": "rollout", "reason": "injection test",
                                          "rollout_variant": variant})
                self.assertIn(status, (400, 409, 422), doc)
                self.assertEqual(set(doc["error"]), {"code", "message", "field"}, doc)
                with open(path, encoding="utf-8") as f:
                    self.assertEqual(f.read(), before)
        status, doc = self.svc.get_json("/v1/experiments/fi_inject")
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["phase"], "ab_test", doc)
        self.assertEqual(doc["owner"], "integration-tests@example.com", doc)
        # A real variant still works.
        status, doc = self.admin("POST", "/v1/experiments/fi_inject/phase",
                                 {"phase": "rollout", "reason": "ship it",
                                  "rollout_variant": "treatment"})
        self.assertEqual(status, 200, doc)

    def test_control_characters_in_a_reason_cannot_forge_log_lines(self):
        forged = "2026-12-07T00:00:00.000000Z ERROR storage: forged by a client"
        status, doc = self.admin("POST", "/v1/experiments/fi_log/phase",
                                 {"phase": "stopped", "reason": "done\n" + forged + "\x1b[2J"})
        self.assertEqual(status, 200, doc)
        self.assertIsNotNone(self.svc.wait_for_line(r"fi_log phase changed", timeout=10))
        lines = self.svc.stderr_text().split("\n")
        self.assertFalse([l for l in lines if l.startswith(forged)], "a forged log line")
        self.assertFalse([l for l in lines if "\x1b" in l], "a raw ESC in the log")
        self.assertTrue([l for l in lines if re.search(r"done\\n2026-12-07T00:00:00", l)],
                        "the reason, escaped")

    def test_an_audit_failure_fails_the_change(self):
        # The audit log replaced by a folder: appending to it fails (even for root).
        moved = self.ws.audit_log + ".moved"
        if os.path.exists(self.ws.audit_log):
            os.rename(self.ws.audit_log, moved)
        os.mkdir(self.ws.audit_log)
        try:
            status, doc = self.admin("POST", "/v1/experiments/fi_audit/phase",
                                     {"phase": "stopped", "reason": "audit test"})
            self.assertEqual(status, 503, doc)
            self.assertEqual(doc["error"]["field"], "audit_log", doc)
            self.assertIn("not made", doc["error"]["message"], doc)
            status, doc = self.svc.get_json("/v1/experiments/fi_audit")
            self.assertEqual(doc["phase"], "ab_test", doc)
            with open(self.ws.experiment_path("fi_audit.yaml"), encoding="utf-8") as f:
                self.assertIn("phase: ab_test", f.read())
        finally:
            os.rmdir(self.ws.audit_log)
            if os.path.exists(moved):
                os.rename(moved, self.ws.audit_log)
        status, doc = self.admin("POST", "/v1/experiments/fi_audit/phase",
                                 {"phase": "stopped", "reason": "audit test"})
        self.assertEqual(status, 200, doc)
        self.assertEqual(self.ws.audit_entries()[-1]["experiment"], "fi_audit")


if __name__ == "__main__":
    unittest.main(verbosity=2)
