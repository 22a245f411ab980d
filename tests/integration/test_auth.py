#!/usr/bin/python3
"""Scoped API keys (issue 14): who may call what.

`serve` keys reach assign, recommend, events and covariates; `read` keys reports,
dashboards, alerts, definitions and metrics; `admin` keys changes, phase, audit, erasure and
reload. No key is 401, a key without the scope 403, both with the JSON error naming
`authorization`. Keys are created and revoked with `abrec keys` while the service runs, stored
hashed in a 0600 file the service refuses when others can read it. Browsers sign in with Basic
(a read key as password) or the /login form's HttpOnly SameSite=Strict cookie, which can only
read. Request ids and the admin token come from the kernel's CSPRNG and carry no time.
"""

import base64
import json
import os
import re
import stat
import subprocess
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402

EXP = "auth_exp"


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def event(i):
    return {"events": [{"event_id": f"auth-{i}-{time.time_ns()}", "type": "click",
                        "user_id": f"u{i}", "product_id": "auto_third_party", "position": 1}]}


class AuthTest(h.ServiceTestCase):
    @classmethod
    def make_workspace(cls):
        ws = h.Workspace(prefix="abrec-auth-")
        ws.write_experiment(f"{EXP}.yaml", h.experiment_yaml(EXP))
        cls.keys = {}
        for scope in ("serve", "read", "admin"):
            cls.keys[scope] = h.create_key(ws.config_path, scope, f"test-{scope}")
        return ws

    def call(self, method, path, key=None, body=None, headers=None):
        hdrs = dict(headers or {})
        if key:
            hdrs.update(bearer(key))
        status, hs, data = self.svc.request(method, path, body=body, headers=hdrs, auth=False)
        return status, hs, data

    def assert_denied(self, status, hs, data, expected):
        self.assertEqual(status, expected, data[:300])
        doc = json.loads(data)
        self.assertEqual(doc["error"]["field"], "authorization")
        if expected == 401:
            self.assertIn("bearer", hs.get("www-authenticate", "").lower())

    # --- scopes --------------------------------------------------------------------------

    def test_no_key_is_401_on_every_scoped_route(self):
        for method, path in [("GET", f"/v1/assign?user_id=u1&experiment={EXP}"),
                             ("POST", "/v1/events"), ("POST", "/v1/recommend"),
                             ("GET", "/v1/experiments"), ("GET", f"/v1/experiments/{EXP}"),
                             ("GET", f"/v1/experiments/{EXP}/report"), ("GET", "/v1/alerts"),
                             ("GET", "/metrics"), ("POST", "/v1/models/reload"),
                             ("DELETE", "/v1/users/u1"), ("GET", "/v1/audit/abc")]:
            with self.subTest(path=path):
                self.assert_denied(*self.call(method, path), 401)

    def test_health_and_readiness_stay_open(self):
        self.assertEqual(self.call("GET", "/healthz")[0], 200)
        self.assertEqual(self.call("GET", "/readyz")[0], 200)

    def test_each_scope_reaches_its_routes_and_no_other(self):
        serve, read, admin = self.keys["serve"], self.keys["read"], self.keys["admin"]
        assign = f"/v1/assign?user_id=u1&experiment={EXP}"
        self.assertEqual(self.call("GET", assign, serve)[0], 200)
        self.assertEqual(self.call("POST", "/v1/events", serve, body=event(1))[0], 202)
        self.assert_denied(*self.call("GET", f"/v1/experiments/{EXP}/report", serve), 403)
        self.assert_denied(*self.call("POST", "/v1/models/reload", serve), 403)

        self.assertEqual(self.call("GET", f"/v1/experiments/{EXP}/report", read)[0], 200)
        self.assertEqual(self.call("GET", "/v1/experiments", read)[0], 200)
        self.assertEqual(self.call("GET", "/v1/alerts", read)[0], 200)
        self.assertEqual(self.call("GET", "/metrics", read)[0], 200)
        self.assertEqual(self.call("GET", f"/dashboards/{EXP}", read)[0], 200)
        self.assert_denied(*self.call("GET", assign, read), 403)
        self.assert_denied(*self.call("POST", "/v1/events", read, body=event(2)), 403)
        self.assert_denied(*self.call("PUT", f"/v1/experiments/{EXP}", read, body="x"), 403)

        self.assertEqual(self.call("POST", "/v1/models/reload", admin)[0], 200)
        self.assert_denied(*self.call("GET", f"/v1/experiments/{EXP}/report", admin), 403)
        self.assert_denied(*self.call("GET", assign, admin), 403)

    def test_the_403_names_the_scope_needed_and_the_scopes_held(self):
        status, _, data = self.call("GET", "/v1/alerts", self.keys["serve"])
        self.assertEqual(status, 403)
        msg = json.loads(data)["error"]["message"]
        self.assertIn("read scope", msg)
        self.assertIn("test-serve", msg)

    def test_the_legacy_admin_token_is_the_admin_scope_only(self):
        with open(os.path.join(self.ws.var_dir, "admin.token"), encoding="utf-8") as f:
            token = f.read().strip()
        self.assertRegex(token, r"^[0-9a-f]{64}$")
        self.assertEqual(self.call("POST", "/v1/models/reload", token)[0], 200)
        self.assert_denied(*self.call("GET", f"/v1/assign?user_id=u1&experiment={EXP}", token),
                           403)

    def test_the_audit_log_names_the_key_that_asked(self):
        # A move backwards is refused, and the refusal is audited with who asked.
        body = json.dumps({"phase": "shadow", "reason": "audit actor check"}).encode()
        status, _, data = self.call("POST", f"/v1/experiments/{EXP}/phase", self.keys["admin"],
                                    body, {"Content-Type": "application/json"})
        self.assertIn(status, (200, 409, 422), data[:300])
        entries = [e for e in self.ws.audit_entries()
                   if e.get("experiment") == EXP and "audit actor check" in e.get("reason", "")]
        self.assertTrue(entries, self.ws.audit_entries())
        self.assertEqual({e["actor"] for e in entries}, {"key:test-admin"})

    def test_wrong_and_malformed_keys_are_401(self):
        good = self.keys["read"]
        forged = good[:-1] + ("0" if good[-1] != "0" else "1")
        for value in [f"Bearer {forged}", "Bearer abrec_0000000000000000_" + "0" * 64,
                      "Bearer short", "Token abc", "Basic !!!"]:
            with self.subTest(value=value):
                self.assert_denied(*self.call("GET", "/v1/experiments",
                                              headers={"Authorization": value}), 401)

    # --- keys change without a restart -----------------------------------------------------

    def test_a_created_key_works_and_a_revoked_one_stops_without_restart(self):
        key = h.create_key(self.ws.config_path, "read", "short-lived")
        h.wait_until(lambda: self.call("GET", "/v1/experiments", key)[0] == 200, timeout=5,
                     message="the new key is accepted")
        r = h.run_cli(["keys", "revoke", "short-lived", "--config", self.ws.config_path])
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        h.wait_until(lambda: self.call("GET", "/v1/experiments", key)[0] == 401, timeout=5,
                     message="the revoked key is refused")

    def test_the_key_file_is_private_and_holds_no_key(self):
        path = os.path.join(self.ws.var_dir, "api-keys.json")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for key in self.keys.values():
            self.assertNotIn(key, text)
            self.assertNotIn(key.split("_")[2], text)
        listed = h.run_cli(["keys", "list", "--config", self.ws.config_path, "--format", "json"])
        self.assertEqual(listed.returncode, 0, listed.stderr.decode())
        names = {k["name"]: k for k in json.loads(listed.stdout)["keys"]}
        self.assertEqual(names["test-serve"]["scopes"], "serve")
        self.assertNotIn("sha256", names["test-serve"])

    # --- browsers --------------------------------------------------------------------------

    def test_dashboards_ask_for_basic_and_take_a_read_key_as_password(self):
        status, hs, data = self.call("GET", "/dashboards/")
        self.assertEqual(status, 401)
        self.assertTrue(hs["www-authenticate"].startswith("Basic "))
        self.assertIn(b'action="/login"', data)
        self.assertNotIn(b"<script", data)
        basic = base64.b64encode(f"analyst:{self.keys['read']}".encode()).decode()
        status, _, data = self.call("GET", "/dashboards/", headers={"Authorization": f"Basic {basic}"})
        self.assertEqual(status, 200)
        self.assertIn(EXP.encode(), data)
        basic = base64.b64encode(f"x:{self.keys['serve']}".encode()).decode()
        self.assertEqual(self.call("GET", "/dashboards/", headers={"Authorization": f"Basic {basic}"})[0], 403)

    def login(self, key, next_path="/dashboards/"):
        body = urllib.parse.urlencode({"key": key, "next": next_path}).encode()
        return self.call("POST", "/login", body=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})

    def test_the_login_form_sets_a_strict_httponly_cookie_that_can_only_read(self):
        status, hs, data = self.login(self.keys["read"], f"/dashboards/{EXP}")
        self.assertEqual(status, 200, data)
        cookie = hs["set-cookie"]
        attrs = [a.strip().lower() for a in cookie.split(";")]
        self.assertIn("httponly", attrs)
        self.assertIn("samesite=strict", attrs)
        self.assertIn("path=/", attrs)
        self.assertIn(f'url=/dashboards/{EXP}'.encode(), data)
        session = cookie.split(";")[0]
        self.assertRegex(session, r"^abrec_session=[0-9a-f]{64}$")
        jar = {"Cookie": session}
        self.assertEqual(self.call("GET", f"/dashboards/{EXP}", headers=jar)[0], 200)
        self.assertEqual(self.call("GET", f"/v1/experiments/{EXP}/report", headers=jar)[0], 200)
        # A cookie never changes anything, and never serves.
        self.assertEqual(self.call("POST", "/v1/events", body=event(3), headers=jar)[0], 403)
        self.assertEqual(self.call("GET", f"/v1/assign?user_id=u1&experiment={EXP}", headers=jar)[0], 403)
        # Signing out ends it.
        self.assertEqual(self.call("POST", "/logout", headers=jar)[0], 200)
        self.assertEqual(self.call("GET", f"/dashboards/{EXP}", headers=jar)[0], 401)

    def test_login_refuses_wrong_keys_keys_without_read_and_foreign_redirects(self):
        self.assertEqual(self.login("abrec_nope")[0], 401)
        status, hs, _ = self.login(self.keys["serve"])
        self.assertEqual(status, 403)
        self.assertNotIn("set-cookie", hs)
        status, _, data = self.login(self.keys["read"], "https://evil.example/")
        self.assertEqual(status, 200)
        self.assertIn(b"url=/dashboards/", data)
        self.assertNotIn(b"evil", data)

    def test_a_session_ends_when_its_key_is_revoked(self):
        key = h.create_key(self.ws.config_path, "read", "browser-key")
        h.wait_until(lambda: self.login(key)[0] == 200, timeout=5, message="key accepted")
        session = self.login(key)[1]["set-cookie"].split(";")[0]
        self.assertEqual(self.call("GET", "/dashboards/", headers={"Cookie": session})[0], 200)
        h.run_cli(["keys", "revoke", "browser-key", "--config", self.ws.config_path])
        h.wait_until(lambda: self.call("GET", "/dashboards/", headers={"Cookie": session})[0] == 401,
                     timeout=5, message="the session of a revoked key ends")

    # --- randomness ------------------------------------------------------------------------

    def test_request_ids_are_random_and_carry_no_time(self):
        ids = []
        for i in range(50):
            status, doc = self.svc.get_json(f"/v1/assign?user_id=rid{i}&experiment={EXP}")
            self.assertEqual(status, 200)
            ids.append(doc["request_id"])
        now_us = time.time() * 1e6
        for rid in ids:
            self.assertRegex(rid, r"^[0-9a-f]{32}$")
            # The old ids began with the time in microseconds.
            self.assertGreater(abs(int(rid[:16], 16) - now_us), 86400e6 * 365)
        # 50 ids share no 4-digit prefix beyond chance (time-ordered ids shared 10+ digits).
        self.assertLess(len(ids) - len({r[:4] for r in ids}), 3)


class KeyFileModeTest(unittest.TestCase):
    def test_a_group_readable_key_file_is_refused(self):
        ws = h.Workspace(prefix="abrec-authmode-")
        try:
            h.create_key(ws.config_path, "read", "k")
            path = os.path.join(ws.var_dir, "api-keys.json")
            os.chmod(path, 0o644)
            r = h.run_cli(["keys", "list", "--config", ws.config_path])
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("chmod 600", r.stderr.decode())
            p = subprocess.run([h.ABREC_BIN, "serve", "--config", ws.config_path, "--port", "0"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1)
            self.assertIn("readable by its group or others", p.stderr)
        finally:
            ws.cleanup()


class OpenScopesTest(h.ServiceTestCase):
    """A closed rig may open serve and read (auth.anonymous_scopes) and let a Prometheus
    address scrape; admin always needs a credential."""

    @classmethod
    def make_workspace(cls):
        ws = h.Workspace(prefix="abrec-authopen-")
        ws.write_config({"anonymous_scopes": "[serve]", "metrics_allow": "[127.0.0.1]"})
        ws.write_experiment(f"{EXP}.yaml", h.experiment_yaml(EXP))
        return ws

    def test_anonymous_serve_but_not_read_and_metrics_from_the_allowed_address(self):
        status, _, _ = self.svc.request("GET", f"/v1/assign?user_id=u&experiment={EXP}", auth=False)
        self.assertEqual(status, 200)
        self.assertEqual(self.svc.request("GET", "/v1/experiments", auth=False)[0], 401)
        self.assertEqual(self.svc.request("GET", "/metrics", auth=False)[0], 200)
        self.assertEqual(self.svc.request("POST", "/v1/models/reload", auth=False)[0], 401)

    def test_admin_cannot_be_anonymous(self):
        ws = h.Workspace(prefix="abrec-authbad-")
        try:
            ws.write_config({"anonymous_scopes": "[serve, admin]"})
            r = h.run_cli(["validate", ws.config_path])
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("auth.anonymous_scopes[1]", (r.stdout + r.stderr).decode())
        finally:
            ws.cleanup()


if __name__ == "__main__":
    unittest.main()
