#!/usr/bin/python3
"""The dashboards in a real headless Chromium (Debian's `chromium`): each page loads without
console errors and without any request leaving the service, the DOM the browser built holds
the charts with the report JSON's figures (data-value, data-low, data-high), and a screenshot
is saved (in the build directory: dashboard-rep_win.png). Skipped when chromium is absent.
A control page that logs an error shows that the console check can fail.

The browser runs with --headless --no-sandbox --disable-gpu --disable-background-networking
--disable-component-update --no-first-run and a fresh --user-data-dir, once with --dump-dom
(the DOM after loading) and once with --screenshot; its log (--enable-logging=stderr --log-level=0) is
read for console messages.
"""

import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402
import test_report as tr  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OUT_DIR = os.environ.get("ABREC_ARTIFACT_DIR", tempfile.gettempdir())


def chromium(url, *extra, timeout=90):
    profile = tempfile.mkdtemp(prefix="abrec-chromium-")
    try:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--no-first-run",
             "--enable-logging=stderr", "--log-level=0", f"--user-data-dir={profile}", *extra, url],
            capture_output=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@unittest.skipUnless(CHROMIUM, "chromium is not installed")
class DashboardBrowserTest(h.ServiceTestCase):
    @classmethod
    def make_workspace(cls):
        return tr.make_report_workspace(prefix="abrec-browser-")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tr.populate(cls)

    @classmethod
    def read_key(cls):
        if not hasattr(cls, "_read_key"):
            cls._read_key = h.create_key(cls.ws.config_path, "read", "browser")
        return cls._read_key

    def url(self, path, signed_in=True):
        """The page's address; signed in through HTTP Basic (a read key as the password,
        the user name ignored), as the browser's own prompt does."""
        credentials = f"analyst:{self.read_key()}@" if signed_in else ""
        return f"http://{credentials}127.0.0.1:{self.svc.port}{path}"

    def load(self, url):
        """The DOM of `url` (a path of the service, or a data: URL) after loading, and the
        console messages logged meanwhile."""
        r = chromium(url if ":" in url[:6] else self.url(url), "--dump-dom")
        log = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 0, log[-2000:])
        return r.stdout.decode("utf-8"), [l for l in log.splitlines() if ":CONSOLE" in l]

    def page(self, path):
        dom, console = self.load(path)
        self.assertEqual(console, [], f"console messages on {path}")
        return dom

    def test_the_console_check_sees_errors(self):
        _, console = self.load("data:text/html,<script>console.error('boom')</script>")
        self.assertTrue(any("boom" in l for l in console), console)

    def test_experiment_page_draws_the_reports_figures(self):
        _, report = self.svc.get_json("/v1/experiments/rep_win/report")
        dom = tr.parse_marks(self.page("/dashboards/rep_win"))
        self.assertEqual(dom.external, [])
        self.assertEqual(dom.decisions, [report["decision"]["code"]])
        self.assertEqual({m["data-label"]: int(float(m["data-value"]))
                          for m in dom.charts["buckets"]},
                         {b: v["users"] for b, v in report["buckets"].items()})
        drawn = sorted((m["data-label"], m["data-day"], float(m["data-value"]),
                        float(m["data-low"]), float(m["data-high"]))
                       for m in dom.charts["lift-history"])
        # An end the data cannot bound yet is null in the JSON, Infinity on the page.
        end = lambda v, unbounded: unbounded if v is None else v
        expected = sorted((l["arm"], d["day"], l["relative"],
                           end(l["ci_sequential"][0], -math.inf),
                           end(l["ci_sequential"][1], math.inf))
                          for d in report["history"] for l in d["lifts"] if "relative" in l)
        self.assertEqual(drawn, expected)
        self.assertTrue(drawn)
        # Every p the browser drew agrees with its interval: below alpha exactly when the
        # interval excludes 0 (the history's marks and the metrics table's rows).
        alpha = report["definition"]["alpha"]
        rows = re.findall(r'<tr class="effect" data-low="([^"]+)" data-high="([^"]+)" '
                          r'data-p="([^"]+)"', dom.html)
        checked = 0
        for low, high, p in [(m["data-low"], m["data-high"], m["data-p"])
                             for m in dom.charts["lift-history"]] + rows:
            low, high, p = float(low), float(high), float(p)
            self.assertEqual(p < alpha, low > 0 or high < 0, (low, high, p))
            checked += 1
        self.assertTrue(rows)
        self.assertEqual(checked, len(drawn) + len(rows))
        self.assertIn("primary-per-arm", dom.charts)
        # rep_lat was served through /v1/recommend: its latency chart holds each arm's p99,
        # its fairness chart each variant's widest gap by sex, as in the report.
        _, lat = self.svc.get_json("/v1/experiments/rep_lat/report")
        lat_dom = tr.parse_marks(self.page("/dashboards/rep_lat"))
        self.assertEqual({m["data-label"]: float(m["data-value"])
                          for m in lat_dom.charts["latency"]},
                         {a: v["p99_ms"] for a, v in lat["latency"]["arms"].items()})
        gaps = {f"{arm} · sex": (a["sex"]["worst"] or {"gap": 0.0})["gap"]
                for arm, a in lat["fairness"]["arms"].items() if "worst" in a["sex"]}
        self.assertEqual({m["data-label"]: float(m["data-value"])
                          for m in lat_dom.charts["fairness"]}, gaps)
        self.assertTrue(gaps)

    def test_signs_in_with_the_form_and_the_cookie_then_reads(self):
        # The sign-in page (what a browser without credentials is offered) has no script.
        dom, console = self.load(self.url("/login?next=/dashboards/rep_win", signed_in=False))
        self.assertIn('action="/login"', dom)
        self.assertNotIn("<script", dom)
        # The form posted (by this test's own page) with a read key: the session cookie is
        # set and the browser follows the refresh to the dashboard with it.
        form = (f'<form method="post" action="http://127.0.0.1:{self.svc.port}/login">'
                f'<input name="key" value="{self.read_key()}">'
                '<input name="next" value="/dashboards/rep_win"></form>'
                '<script>document.forms[0].submit()</script>')
        r = chromium("data:text/html," + urllib.parse.quote(form), "--dump-dom",
                     "--virtual-time-budget=10000")
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace")[-2000:])
        dom = tr.parse_marks(r.stdout.decode("utf-8"))
        self.assertEqual(dom.decisions, [self.svc.get_json(
            "/v1/experiments/rep_win/report")[1]["decision"]["code"]])

    def test_index_and_screenshot(self):
        dom = tr.parse_marks(self.page("/dashboards/"))
        self.assertEqual(sorted(dom.decisions), sorted(
            self.svc.get_json(f"/v1/experiments/{k}/report")[1]["decision"]["code"]
            for k in ("rep_bait", "rep_lat", "rep_win")))
        shot = os.path.join(OUT_DIR, "dashboard-rep_win.png")
        if os.path.exists(shot):
            os.remove(shot)
        r = chromium(self.url("/dashboards/rep_win"), f"--screenshot={shot}",
                     "--window-size=1200,1800")
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace")[-2000:])
        with open(shot, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertGreater(os.path.getsize(shot), 20_000)


if __name__ == "__main__":
    unittest.main(verbosity=1)
