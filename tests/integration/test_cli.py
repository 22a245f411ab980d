#!/usr/bin/python3
"""The command line: `abrec hash`, `abrec validate` and `abrec assign`."""

import json
import math
import os
import re
import sqlite3
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402

# FILE:LINE:COL: field: message, where field is a dotted path (with [i] indices).
DIAG_RE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): "
                     r"(?P<field>[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])*(?:\.[A-Za-z0-9_]+(?:\[\d+\])*)*): "
                     r"(?P<message>\S.*)$")
SUMMARY_RE = re.compile(r"^\d+ problems? in \d+ files?$")
LOOSE_DIAG_RE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): (?P<rest>\S.*)$")

VALID = """\
experiment: valid_exp
description: a valid experiment
surface: portal_home
owner: pm@example.com
phase: ab_test
traffic:
  coverage: 0.5
  split: {control: 0.5, treatment: 0.5}
namespace: {name: portal_recs, range: [0.0, 0.5]}
variants:
  control:   {policy: legacy_rules}
  treatment: {policy: recommender, model: hybrid}
metrics:
  primary: bind_rate
  secondary: [click_rate, premium_per_user]
  guardrails:
    - {metric: latency_p99_ms, max: 200}
analysis: {alpha: 0.05, sequential: true, tuning_n: 5000, mde: 0.05}
"""


def valid_with(old, new, key="valid_exp"):
    assert old in VALID, old
    return VALID.replace(old, new).replace("valid_exp", key)


class CliTestCase(unittest.TestCase):

    def setUp(self):
        self.ws = h.Workspace()

    def tearDown(self):
        self.ws.cleanup()

    def run_abrec(self, *args):
        return h.run_cli(args, timeout=600, cwd=self.ws.root)  # training under the sanitizers


class HashCommandTest(CliTestCase):

    def test_hash_v2(self):
        r = self.run_abrec("hash", "--seed", "seed", "a", "b")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"0.0505\n0.2696\n", b""))

    def test_hash_v1(self):
        r = self.run_abrec("hash", "--version", "1", "--seed", "", "a", "b")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"0.220\n0.077\n", b""))

    def test_hash_matches_oracle_for_unicode_ids(self):
        ids = ["José", "ユーザー42", "Zoë", "😀-astral", "user-1", "a b"]
        r = self.run_abrec("hash", "--seed", "sëed", *ids)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode("utf-8"),
                         "".join(f"{h.hash_v2('sëed', i):.4f}\n" for i in ids))
        r = self.run_abrec("hash", "--version", "1", "--seed", "__ns", *ids)
        self.assertEqual(r.stdout.decode("utf-8"),
                         "".join(f"{h.hash_v1('__ns', i):.3f}\n" for i in ids))

    def test_hash_invalid_utf8_id(self):
        r = h.run_cli([b"hash", b"--seed", b"seed", b"ok", b"bad\xff"], cwd=self.ws.root)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, b"")
        self.assertIn(b"UTF-8", r.stderr)

    def test_hash_bad_version(self):
        r = self.run_abrec("hash", "--version", "3", "--seed", "s", "a")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stdout, b"")
        self.assertIn(b"--version", r.stderr)


class ValidateCommandTest(CliTestCase):

    def validate(self, *files, config=True):
        args = ["validate"]
        if config:
            args += ["--config", self.ws.config_path]
        return self.run_abrec(*args, *files)

    def problems(self, *files, config=True):
        """Runs validate on files expected to be invalid: exit 1, nothing on stdout, every
        stderr line a diagnostic (FILE:LINE:COL: ...) but the final summary."""
        r = self.validate(*files, config=config)
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(r.stdout, b"")
        lines = r.stderr.decode("utf-8").splitlines()
        self.assertTrue(lines)
        self.assertRegex(lines[-1], SUMMARY_RE)
        self.assertEqual(int(lines[-1].split()[0]), len(lines) - 1, lines)
        for line in lines[:-1]:
            self.assertRegex(line, LOOSE_DIAG_RE)
        return lines[:-1]

    def one_problem(self, name, text):
        path = self.ws.write_experiment(name, text)
        lines = self.problems(path)
        return path, lines

    def assert_diag(self, line, path, line_no, col, field, message_part):
        m = DIAG_RE.match(line)
        self.assertIsNotNone(m, f"not FILE:LINE:COL: field: message: {line!r}")
        self.assertEqual(m["file"], path, line)
        self.assertEqual((int(m["line"]), int(m["col"])), (line_no, col), line)
        self.assertEqual(m["field"], field, line)
        self.assertIn(message_part, m["message"], line)

    def test_valid_files(self):
        a = self.ws.write_experiment("valid.yaml", VALID)
        b = self.ws.write_experiment("other.yaml", valid_with("[0.0, 0.5]", "[0.5, 1.0]", "other_exp"))
        c = self.ws.copy_source_experiment("renewal_recs_seed.json")
        r = self.validate(a, b, c)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, b"")
        self.assertTrue(r.stdout.startswith(b"ok: 3 files valid"), r.stdout)

    def test_project_config_files_are_valid(self):
        src = os.path.join(h.SOURCE_DIR, "config")
        exp_dir = os.path.join(src, "experiments")
        files = sorted(os.path.join(exp_dir, f) for f in os.listdir(exp_dir)
                       if f.endswith((".yaml", ".yml", ".json")))
        r = self.run_abrec("validate", os.path.join(src, "abrec.yaml"), *files)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_unknown_key_suggests_fix(self):
        path, lines = self.one_problem("typo.yaml", VALID.replace("traffic:", "trafic:"))
        # Messages are sorted by position: "traffic: required" (at the top map, 1:1) first.
        self.assertEqual(len(lines), 2, lines)
        self.assert_diag(lines[1], path, 6, 1, "trafic", 'did you mean "traffic"?')
        self.assertIn('unknown key "trafic"', lines[1])
        self.assert_diag(lines[0], path, 1, 1, "traffic", "required")

    def test_weights_not_summing_to_one(self):
        path, lines = self.one_problem("weights.yaml", VALID.replace(
            "split: {control: 0.5, treatment: 0.5}", "split:\n    control: 0.4\n    treatment: 0.5"))
        self.assertEqual(len(lines), 1, lines)
        self.assertEqual(lines[0],
                         f"{path}:9:5: traffic.split: weights sum to 0.9; they must sum to 1")

    def test_split_name_not_a_variant(self):
        path, lines = self.one_problem("split.yaml", VALID.replace("treatment: 0.5}", "treatmnt: 0.5}"))
        self.assert_diag(lines[0], path, 8, 25, "traffic.split.treatmnt", '"treatmnt" is not a variant')
        self.assertIn('did you mean "treatment"?', lines[0])

    def test_coverage_out_of_range(self):
        for bad in ("1.5", "-0.1"):
            path, lines = self.one_problem("cov.yaml", VALID.replace("coverage: 0.5", f"coverage: {bad}"))
            self.assertEqual(len(lines), 1, lines)
            self.assert_diag(lines[0], path, 7, 13, "traffic.coverage", "out of range")

    def test_unknown_metric(self):
        path, lines = self.one_problem("metric.yaml", VALID.replace("primary: bind_rate", "primary: bind_rat"))
        self.assert_diag(lines[0], path, 14, 12, "metrics.primary", '"bind_rat" is not a known')
        self.assertIn('did you mean "bind_rate"?', lines[0])
        path, lines = self.one_problem("guard.yaml", VALID.replace("latency_p99_ms", "latency_p99"))
        self.assert_diag(lines[0], path, 17, 16, "metrics.guardrails[0].metric", '"latency_p99"')

    def test_unknown_policy(self):
        path, lines = self.one_problem("policy.yaml", VALID.replace("{policy: legacy_rules}",
                                                                    "{policy: legacy_rule}"))
        self.assert_diag(lines[0], path, 11, 23, "variants.control.policy", '"legacy_rule" is not a known policy')
        self.assertIn('did you mean "legacy_rules"?', lines[0])

    def test_bad_phase(self):
        path, lines = self.one_problem("phase.yaml", VALID.replace("phase: ab_test", "phase: abtest"))
        self.assert_diag(lines[0], path, 5, 8, "phase", '"abtest" is not a known phase')
        self.assertIn('did you mean "ab_test"?', lines[0])

    def test_every_problem_of_a_file_is_reported(self):
        text = (VALID.replace("phase: ab_test", "phase: abtest")
                .replace("coverage: 0.5", "coverage: 1.5")
                .replace("primary: bind_rate", "primary: bind_rat"))
        path, lines = self.one_problem("many.yaml", text)
        self.assertEqual(sorted(DIAG_RE.match(l)["field"] for l in lines),
                         ["metrics.primary", "phase", "traffic.coverage"], lines)

    def test_duplicate_keys_across_files(self):
        a = self.ws.write_experiment("a.yaml", VALID)
        b = self.ws.write_experiment("b.yaml", valid_with("[0.0, 0.5]", "[0.5, 1.0]"))
        lines = self.problems(a, b)
        self.assertEqual(len(lines), 1, lines)
        self.assert_diag(lines[0], b, 1, 13, "experiment", 'duplicate experiment key "valid_exp"')
        self.assertIn(f"{a}:1:13", lines[0])

    def test_overlapping_namespace_ranges_on_one_surface(self):
        a = self.ws.write_experiment("a.yaml", VALID)
        b = self.ws.write_experiment("b.yaml", valid_with("[0.0, 0.5]", "[0.4, 0.8]", "second_exp"))
        lines = self.problems(a, b)
        self.assertEqual(len(lines), 1, lines)
        self.assert_diag(lines[0], b, 1, 13, "namespace", "overlaps")
        # Disjoint ranges, or another surface, are fine.
        c = self.ws.write_experiment("b.yaml", valid_with("[0.0, 0.5]", "[0.5, 0.8]", "second_exp"))
        self.assertEqual(self.validate(a, c).returncode, 0)
        d = self.ws.write_experiment("b.yaml", valid_with("surface: portal_home", "surface: renewal_page",
                                                          "second_exp"))
        self.assertEqual(self.validate(a, d).returncode, 0)

    def test_unknown_surface(self):
        path, lines = self.one_problem("surface.yaml", VALID.replace("surface: portal_home",
                                                                     "surface: portal_hme"))
        self.assert_diag(lines[0], path, 1, 13, "surface", '"portal_hme" is not a surface')

    def test_yaml_anchor_and_alias_are_refused(self):
        path, lines = self.one_problem("anchor.yaml", VALID.replace(
            "split: {control: 0.5", "split: &s {control: 0.5"))
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith(f"{path}:8:10: "), lines[0])
        self.assertIn("anchor", lines[0])
        path, lines = self.one_problem("alias.yaml", VALID.replace(
            "description: a valid experiment", "description: &d a valid experiment").replace(
            "owner: pm@example.com", "owner: *d"))
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith(f"{path}:2:14: "), lines[0])

    def test_nesting_deeper_than_64_is_refused(self):
        path, lines = self.one_problem(
            "deep.yaml", VALID.replace("description: a valid experiment",
                                       "description: " + "[" * 70 + "]" * 70))
        self.assertEqual(len(lines), 1, lines)
        # The root map is level 1: the 64th bracket (column 14 + 63) opens level 65.
        self.assertTrue(lines[0].startswith(f"{path}:2:77: "), lines[0])
        self.assertIn("nesting deeper than 64", lines[0])
        # Very deep input (beyond yaml-cpp's own recursion guard) is refused, not a crash.
        path, lines = self.one_problem(
            "deeper.yaml", "experiment: x\ndescription: " + "[" * 100000 + "\n")
        self.assertEqual(len(lines), 1, lines)

    def test_syntax_level_problems_name_the_field(self):
        # DESIGN: validation messages read FILE:LINE:COL: field: message. That includes the
        # problems found while parsing (anchors, aliases, nesting): the field is where they are.
        cases = [
            ("anchor.yaml", VALID.replace("split: {control: 0.5", "split: &s {control: 0.5"),
             "traffic.split"),
            ("deep.yaml", VALID.replace("description: a valid experiment",
                                        "description: " + "[" * 70 + "]" * 70), "description"),
        ]
        for name, text, field in cases:
            path, lines = self.one_problem(name, text)
            m = DIAG_RE.match(lines[0])
            self.assertIsNotNone(m, f"not FILE:LINE:COL: field: message: {lines[0]!r}")
            self.assertEqual(m["field"], field, lines[0])

    def test_seed_not_utf8_is_refused(self):
        # Hashing is over code points: a seed that is not UTF-8 has no defined hash.
        text = VALID.replace("phase: ab_test", 'phase: ab_test\nseed: "seed-\xff-x"')
        path = self.ws.write_experiment("seed.yaml", text.encode("latin-1"))
        lines = self.problems(path)
        self.assertEqual(len(lines), 1, lines)
        m = DIAG_RE.match(lines[0])
        self.assertIsNotNone(m, lines[0])
        self.assertEqual((m["file"], m["line"], m["field"]), (path, "6", "seed"), lines[0])
        self.assertIn("UTF-8", m["message"])

    def test_platform_salt_not_utf8_is_refused(self):
        text = self.ws.config_text({"platform_salt": '"salt-\xff"'})
        path = os.path.join(self.ws.root, "salt.yaml")
        h.write_atomic(path, text.encode("latin-1"))
        lines = self.problems(path, config=False)
        self.assertEqual(len(lines), 1, lines)
        m = DIAG_RE.match(lines[0])
        self.assertIsNotNone(m, lines[0])
        self.assertEqual((m["file"], m["line"], m["field"]), (path, "3", "assignment.platform_salt"),
                         lines[0])
        self.assertIn("UTF-8", m["message"])

    def test_platform_config_problems(self):
        text = self.ws.config_text({"read_timeout_ms": 5, "holdout": 0.7})
        text = text.replace("limits:", "limts:")
        path = os.path.join(self.ws.root, "broken.yaml")
        h.write_atomic(path, text)
        lines = self.problems(path, config=False)
        fields = sorted(DIAG_RE.match(l)["field"] for l in lines if DIAG_RE.match(l))
        self.assertEqual(fields, ["assignment.holdout", "limts"], lines)
        self.assertTrue(any('did you mean "limits"?' in l for l in lines), lines)


class AssignCommandTest(CliTestCase):

    EXP = {"key": "valid_exp", "phase": "ab_test", "coverage": 0.5,
           "namespace": ("portal_recs", 0.0, 0.5), "surface": "portal_home",
           "variants": [("control", "legacy_rules", 0.5), ("treatment", "recommender", 0.5)]}

    def setUp(self):
        super().setUp()
        self.ws.write_experiment("valid.yaml", VALID)

    def assign(self, *args):
        return self.run_abrec("assign", "--experiment", "valid_exp", "--config", self.ws.config_path,
                              *args)

    def users_by_bucket(self):
        out = {}
        for i in range(400):
            u = f"cli-{i}"
            out.setdefault(h.oracle_assign(u, self.EXP)["bucket"], u)
        return out

    def test_text_explanation(self):
        users = self.users_by_bucket()
        self.assertEqual(set(users), {"holdout", "exploration", "control", "treatment", "not_enrolled"})
        for bucket, u in sorted(users.items()):
            r = self.assign(u)
            self.assertEqual(r.returncode, 0, r.stderr)
            out = r.stdout.decode("utf-8")
            want = h.oracle_assign(u, self.EXP)
            self.assertIn(f'"{u}"', out)
            self.assertIn(f"{want['hashes']['population']:.4f}", out)
            self.assertIn(f"{want['hashes']['namespace']:.3f}", out)
            self.assertIn(f"{want['hashes']['experiment']:.4f}", out)
            self.assertRegex(out, r"(?m)^\s*bucket\s+" + re.escape(bucket) + r"\b")
            self.assertIn("abrec:population", out)
            self.assertIn("__portal_recs", out)

    def test_json_equals_get_assign(self):
        ids = ["José", "ユーザー42"] + list(self.users_by_bucket().values())
        r = self.assign("--format", "json", *ids)
        self.assertEqual(r.returncode, 0, r.stderr)
        cli_lines = r.stdout.decode("utf-8").splitlines()
        self.assertEqual(len(cli_lines), len(ids))
        svc = h.Service(self.ws.config_path).start()
        try:
            for uid, line in zip(ids, cli_lines):
                status, headers, body = svc.request(
                    "GET", "/v1/assign?" + urllib.parse.urlencode({"user_id": uid,
                                                                     "experiment": "valid_exp"}))
                self.assertEqual(status, 200)
                # The service adds what only a served request has: request_id and logged.
                self.assertEqual(json.loads(line), h.without_request(json.loads(body)), uid)
        finally:
            self.assertEqual(svc.stop(), 0, svc.stderr_text())
            svc.kill()

    def test_assign_is_read_only(self):
        r = self.assign("someone")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists(self.ws.var_dir),
                         f"abrec assign wrote {os.listdir(self.ws.var_dir) if os.path.exists(self.ws.var_dir) else ''}")

    def test_seed_json_defaults(self):
        # The JSON form without surface or phase: the platform's default surface, shadow.
        self.ws.remove_experiment("valid.yaml")
        self.ws.write_experiment("seed.json", json.dumps({
            "experiment_name": "Seed_Defaults", "traffic_split": 0.3,
            "variants": {"control": "Legacy_Rule_Based", "treatment": "Hybrid_LightFM"},
            "metrics": ["premium_lift"]}))
        r = self.run_abrec("assign", "--experiment", "Seed_Defaults", "--config",
                           self.ws.config_path, "--format", "json", "u1")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual((doc["surface"], doc["phase"]), ("portal_home", "shadow"))
        exp = {"key": "Seed_Defaults", "phase": "shadow", "coverage": 1.0, "namespace": None,
               "variants": [("control", "legacy_rules", 0.7), ("treatment", "recommender", 0.3)]}
        want = h.oracle_assign("u1", exp)
        self.assertEqual({k: doc[k] for k in want}, want)

    def test_unknown_experiment_and_invalid_id(self):
        r = self.run_abrec("assign", "--experiment", "nope", "--config", self.ws.config_path, "u")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, b"")
        self.assertIn(b"nope", r.stderr)
        r = h.run_cli([b"assign", b"--experiment", b"valid_exp", b"--config",
                       self.ws.config_path.encode(), b"\xff"], cwd=self.ws.root)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"UTF-8", r.stderr)


class PlanCommandTest(CliTestCase):
    """abrec plan: users per arm and days. The fixed-horizon figure is checked against
    statsmodels' NormalIndPower (Debian's /usr/bin/python3 runs these tests)."""

    def setUp(self):
        super().setUp()
        self.ws.write_config()
        self.ws.write_experiment("valid_exp.yaml", VALID)

    def plan(self, *args):
        r = self.run_abrec("plan", "valid_exp", "--config", self.ws.config_path, *args)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    @staticmethod
    def statsmodels_users(p, mde, alpha=0.05, power=0.8):
        from statsmodels.stats.power import NormalIndPower
        p2 = p * (1 + mde)
        es = (p2 - p) / ((p * (1 - p) + p2 * (1 - p2)) / 2) ** 0.5
        return NormalIndPower().solve_power(effect_size=es, alpha=alpha, power=power, ratio=1.0)

    def test_flags_give_users_and_days(self):
        code, out, err = self.plan("--baseline", "0.04", "--daily-users", "5000",
                                   "--format", "json")
        self.assertEqual(code, 0, err)
        doc = json.loads(out)
        expected = self.statsmodels_users(0.04, 0.05)
        self.assertLessEqual(abs(doc["users_per_arm"]["fixed"] - math.ceil(expected)), 1)
        self.assertGreater(doc["users_per_arm"]["sequential"], doc["users_per_arm"]["fixed"])
        # The experiment's arms: 0.9 of its users (holdout and exploration take 0.05 each),
        # split 50/50.
        self.assertAlmostEqual(doc["smallest_arm_share"], 0.45)
        self.assertEqual(doc["days"]["fixed"],
                         math.ceil(doc["users_per_arm"]["fixed"] / (5000 * 0.45)))
        # One treatment: its share of alpha is alpha; the users all arms need together for
        # analysis.planned_users; the tuning N* that needs the fewest users, no more than
        # the configured one's.
        self.assertEqual((doc["treatments"], doc["alpha_per_treatment"]), (1, 0.05))
        self.assertEqual(doc["planned_users"]["fixed"], 2 * doc["users_per_arm"]["fixed"])
        tuned = doc["recommended_tuning_n"]
        self.assertLessEqual(tuned["sequential_users_per_arm"], doc["users_per_arm"]["sequential"])
        self.assertGreater(tuned["n_star"], 0)
        code, out, err = self.plan("--baseline", "0.04", "--power", "0.9")
        self.assertEqual(code, 0, err)
        self.assertIn("power 0.9", out)
        self.assertIn("days        unknown", out)
        self.assertIn("tuning      N*", out)

    def database_with_control(self, **sums):
        """A database with abrec's schema (made by the service) and valid_exp's control
        bucket with these sums written in; the open connection."""
        svc = h.Service(self.ws.config_path)
        svc.start()
        svc.stop()
        con = sqlite3.connect(self.ws.db_path)
        with con:
            con.execute(f"INSERT INTO bucket_totals (experiment, bucket, {', '.join(sums)}) "
                        f"VALUES ('valid_exp', 'control', {', '.join('?' * len(sums))})",
                        tuple(sums.values()))
        return con

    def test_baseline_and_traffic_from_the_database(self):
        # A database with abrec's schema (made by the service), then a control bucket and
        # daily snapshots written in: 20,000 users of whom 800 bound (rate 0.04), and the
        # experiment growing from 10,000 to 20,000 users over 4 days (2,500 a day).
        con = self.database_with_control(users=20000, binders=800)
        with con:
            # The holdout changed only on the first day: its row carries forward.
            for bucket, day, users in (("control", "2026-11-01", 9000),
                                       ("holdout", "2026-11-01", 1000),
                                       ("control", "2026-11-05", 19000)):
                con.execute("INSERT INTO bucket_daily (experiment, bucket, day, users) VALUES "
                            "('valid_exp', ?, ?, ?)", (bucket, day, users))
        con.close()
        code, out, err = self.plan("--format", "json")
        self.assertEqual(code, 0, err)
        doc = json.loads(out)
        self.assertAlmostEqual(doc["baseline"], 0.04)
        self.assertIn("20000 users", doc["baseline_source"])
        self.assertAlmostEqual(doc["daily_users"], 2500)
        self.assertLessEqual(
            abs(doc["users_per_arm"]["fixed"] - math.ceil(self.statsmodels_users(0.04, 0.05))), 1)

    def test_revenue_per_user_from_the_database(self):
        # revenue_per_user as the primary metric: its baseline mean and per-user standard
        # deviation come from the control's revenue sums (cents). 10,000 users, 500 of whom
        # brought 60.00 of revenue: mean 3.0, sd sqrt(0.05 · 0.95) · 60.
        self.ws.write_experiment("valid_exp.yaml",
                                 VALID.replace("primary: bind_rate", "primary: revenue_per_user"))
        self.database_with_control(users=10000, binders=500, revenue_cents=500 * 6000,
                                   revenue_cents_sq=500 * 6000 * 6000).close()
        code, out, err = self.plan("--format", "json")
        self.assertEqual(code, 0, err)
        doc = json.loads(out)
        self.assertAlmostEqual(doc["baseline"], 3.0)
        sd = (500 * 60.0 ** 2 / 10000 - 3.0 ** 2) ** 0.5 * (10000 / 9999) ** 0.5
        # The effect to detect: 5% of the mean, in standard deviations (statsmodels).
        from statsmodels.stats.power import NormalIndPower
        expected = NormalIndPower().solve_power(effect_size=0.05 * 3.0 / sd, alpha=0.05,
                                                power=0.8, ratio=1.0)
        self.assertLessEqual(abs(doc["users_per_arm"]["fixed"] - math.ceil(expected)),
                             0.01 * expected)

    def test_an_older_schema_is_named_not_misread(self):
        # A database an older abrec wrote (schema 8, before revenue): the read-only commands
        # say what to do instead of failing on a missing column.
        con = self.database_with_control(users=100, binders=4)
        with con:
            con.execute("PRAGMA user_version = 8")
        con.close()
        code, _, err = self.plan("--format", "json")
        self.assertEqual(code, 1)
        self.assertIn("has schema version 8, older than this abrec's 13: start `abrec serve`", err)
        r = self.run_abrec("report", "valid_exp", "--config", self.ws.config_path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("schema version 8, older than this abrec's 13", r.stderr.decode())

    def test_errors_name_what_is_missing(self):
        code, _, err = self.plan()
        self.assertEqual(code, 1)
        self.assertIn("give --baseline", err)
        code, _, err = self.plan("--baseline", "x")
        self.assertEqual(code, 2)
        self.assertIn("--baseline must be a number", err)
        r = self.run_abrec("plan", "nope", "--config", self.ws.config_path)
        self.assertEqual(r.returncode, 1)
        self.assertIn('no experiment "nope"', r.stderr.decode())


class BackupCommandTest(CliTestCase):
    """abrec backup PATH: an online copy of the event database while the service writes, checked
    for integrity; a PATH that exists and a missing database are refused."""

    def test_a_copy_taken_while_the_service_runs_holds_the_committed_events(self):
        self.ws.write_config()
        self.ws.write_experiment("valid_exp.yaml", VALID)
        target = os.path.join(self.ws.root, "copy.db")
        r = self.run_abrec("backup", "--config", self.ws.config_path, target)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no database at", r.stderr.decode())
        svc = h.Service(self.ws.config_path).start()
        try:
            events = [{"event_id": f"b-{i}", "type": "click", "user_id": f"u{i}",
                       "product_id": "home_contents"} for i in range(50)]
            status, doc = svc.post_json("/v1/events", {"events": events})
            self.assertEqual((status, doc["accepted"]), (202, 50), doc)
            r = self.run_abrec("backup", "--config", self.ws.config_path, target)
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            self.assertRegex(r.stdout.decode(), r"^backed up .* to .*copy\.db \(\d+ bytes, "
                             r"integrity ok\)")
            r = self.run_abrec("backup", "--config", self.ws.config_path, target)
            self.assertEqual(r.returncode, 1)
            self.assertIn("exists; choose a new path", r.stderr.decode())
        finally:
            self.assertEqual(svc.stop(), 0)
        con = sqlite3.connect(target)
        try:
            ids = {row[0] for row in con.execute("SELECT event_id FROM events")}
            self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        finally:
            con.close()
        self.assertEqual(ids, {e["event_id"] for e in events})


class SimulateCommandTest(CliTestCase):
    """abrec simulate: the studies' tables, in DESIGN.md's JSON shape for aa."""

    def simulate(self, *args):
        r = self.run_abrec("simulate", *args)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def test_aa_json_has_the_contract_fields_and_the_guarantee(self):
        code, out, err = self.simulate("aa", "--simulations", "500", "--format", "json")
        self.assertEqual(code, 0, err)
        doc = json.loads(out)
        # DESIGN.md's fields first (fpr_sequential: the report's decision path, ever ship,
        # clickbait or stop_guardrail), then the decision codes in detail.
        self.assertEqual(list(doc), ["simulations", "looks", "alpha", "fpr_sequential",
                                     "fpr_sequential_se", "fpr_fixed_peeking",
                                     "fpr_fixed_final", "decisions"])
        self.assertEqual((doc["simulations"], doc["looks"], doc["alpha"]), (500, 100, 0.05))
        self.assertLessEqual(doc["fpr_sequential"], 0.05)
        self.assertGreater(doc["fpr_fixed_peeking"], 0.10)
        d = doc["decisions"]
        self.assertEqual(d["wrong_decision"]["rate"], doc["fpr_sequential"])
        self.assertEqual(sorted(d["ever"]), ["clickbait", "continue", "ship", "stop_guardrail",
                                             "untrustworthy_srm"])
        self.assertEqual(len(d["by_look"]), 100)
        wrong = sum(d["ever"][c]["rate"] for c in ("ship", "clickbait", "stop_guardrail"))
        self.assertGreaterEqual(wrong + 1e-12, doc["fpr_sequential"])
        # Seeded: the same options, the same numbers.
        self.assertEqual(self.simulate("aa", "--simulations", "500", "--format", "json")[1], out)

    def test_power_and_srm_tables(self):
        code, out, err = self.simulate("power", "--effect", "0.3", "--runs", "200",
                                       "--variants", "2", "--format", "json")
        self.assertEqual(code, 0, err)
        row = json.loads(out)["rows"][0]
        self.assertEqual((row["effect"], row["treatments"]), (0.3, 2))
        self.assertGreater(row["shipped_effect"]["rate"], 0.9)
        code, out, err = self.simulate("srm", "--totals", "5000000", "--simulations", "100")
        self.assertEqual(code, 0, err)
        self.assertIn("5000000  1.000", out)

    def test_bad_input_is_a_usage_error(self):
        for args, message in [(("nope",), 'unknown study "nope"'),
                              (("aa", "--looks", "x"), "--looks must be a number"),
                              (("power", "--effect", "0.1,,2"), "--effect must be a comma-separated"),
                              (("aa", "--variants", "9"), "--variants must be a number"),
                              (("aa", "--metric", "ctr"), "--metric must be one of"),
                              ((), "give one STUDY")]:
            code, _, err = self.simulate(*args)
            self.assertEqual(code, 2, args)
            self.assertIn(message, err)


class TrainCommandTest(CliTestCase):
    """abrec train --format synthetic: a model folder with its evaluation."""

    def test_synthetic_training_writes_a_model_folder(self):
        out = os.path.join(self.ws.root, "model")
        catalog = os.path.join(h.SOURCE_DIR, "config", "catalog.yaml")
        r = self.run_abrec("train", "--format", "synthetic", "--out", out, "--customers", "3000",
                           "--catalog", catalog, "--mf-epochs", "12", "--gbm-rounds", "60")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn("P(click):        AUC", r.stdout.decode())
        self.assertIn("factorisation:", r.stderr.decode())  # progress lines
        self.assertEqual(sorted(os.listdir(out)),
                         ["bind.json", "click.json", "legacy_rules.json", "metadata.json",
                          "mf.bin"])
        with open(os.path.join(out, "metadata.json")) as f:
            meta = json.load(f)
        self.assertGreater(meta["evaluation"]["click_auc"], 0.6)
        self.assertIn("hit@1", r.stdout.decode())
        ranking = meta["evaluation"]["ranking"]
        self.assertGreater(ranking["model"]["hit_at_1"], ranking["popularity"]["hit_at_1"])
        self.assertEqual(set(ranking["by_group"]["sex"]), {"F", "M"})
        self.assertIn("ece", meta["evaluation"]["probabilities"]["click"]["raw"])
        self.assertEqual(meta["data"], {"format": "synthetic", "customers": 3000,
                                        "seed": 20261129})
        self.assertEqual(meta["parameters"]["mf_epochs"], 12)
        self.assertEqual(meta["parameters"]["gbm_rounds"], 60)
        again = self.run_abrec("train", "--format", "synthetic", "--out", out, "--catalog",
                               catalog)
        self.assertEqual(again.returncode, 1)
        self.assertIn("exists: choose a new folder", again.stderr.decode())

    def test_the_gate_refuses_a_biased_model_and_passes_a_fair_one(self):
        catalog = os.path.join(h.SOURCE_DIR, "config", "catalog.yaml")
        models = {}
        for name, extra in (("fair", []), ("fair2", ["--seed", "7"]),
                            ("biased", ["--withhold-from-women", "auto"])):
            models[name] = os.path.join(self.ws.root, name)
            r = self.run_abrec("train", "--format", "synthetic", "--out", models[name],
                               "--customers", "4000", "--catalog", catalog, *extra)
            self.assertEqual(r.returncode, 0, r.stderr.decode())
        common = ["--catalog", catalog,
                  "--ranking", os.path.join(h.SOURCE_DIR, "config", "ranking.yaml"),
                  "--rules", os.path.join(h.SOURCE_DIR, "config", "gate.yaml"),
                  "--customers", "3000"]
        r = self.run_abrec("gate", "--candidate", models["biased"], "--baseline", models["fair"],
                           *common)
        self.assertEqual(r.returncode, 1, r.stderr.decode())
        out = r.stdout.decode()
        self.assertIn("REFUSED", out)
        self.assertRegex(out, r"parity: auto_\w+ is recommended to sex [\d.]+% of M and [\d.]+% of F")
        r = self.run_abrec("gate", "--candidate", models["fair2"], "--baseline", models["fair"],
                           *common, "--format", "json")
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())
        doc = json.loads(r.stdout)
        self.assertTrue(doc["passed"])
        self.assertEqual(doc["failures"], [])
        r = self.run_abrec("gate", "--candidate", models["fair2"])
        self.assertEqual(r.returncode, 2)

    def test_bad_arguments(self):
        r = self.run_abrec("train", "--format", "zimnat", "--out", "x")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--format zimnat needs --data FILE", r.stderr.decode())
        r = self.run_abrec("train", "--format", "parquet", "--out", "x")
        self.assertEqual(r.returncode, 2)
        self.assertIn("expected synthetic, zimnat, coil or csv", r.stderr.decode())
        r = self.run_abrec("train", "--out", "x")
        self.assertEqual(r.returncode, 2)
        r = self.run_abrec("train", "--format", "synthetic", "--out", "x", "--customers", "5")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--customers must be a number in [100,", r.stderr.decode())
        r = self.run_abrec("train", "--format", "synthetic", "--out", "x", "--gbm-rounds", "0")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--gbm-rounds must be a number in [1,", r.stderr.decode())
        r = self.run_abrec("train", "--format", "csv", "--data", "x.csv", "--out", "x",
                           "--mf-epochs", "3")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--gbm-rounds and --target go with --format synthetic only",
                      r.stderr.decode())
        r = self.run_abrec("train", "--format", "synthetic", "--out", "x", "--target", "views")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--target views: expected click, bind or balanced", r.stderr.decode())


def portfolio_csv(customers=120, seed=5):
    """abrec's portfolio CSV with structure to learn: home follows motor, travel favours
    women, funeral one region."""
    import random
    rng = random.Random(seed)
    lines = ["customer_id,age,sex,region,occupation,holdings"]
    for i in range(customers):
        sex = rng.choice("FM")
        region = rng.choice(["north", "south", "east"])
        motor = rng.random() < 0.6
        held = ["motor"] if motor else []
        for name, p in (("home", 0.7 if motor else 0.15), ("travel", 0.5 if sex == "F" else 0.1),
                        ("funeral", 0.6 if region == "south" else 0.05), ("life", 0.2)):
            if rng.random() < p:
                held.append(name)
        lines.append(f"c{i:04d},{rng.randint(20, 69)},{sex},{region},clerk,{';'.join(held)}")
    return "\n".join(lines) + "\n"


class PortfolioCommandTest(CliTestCase):
    """abrec train --format csv and abrec recommend --format csv on a small generated file."""

    def write(self, name, text):
        path = os.path.join(self.ws.root, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_train_then_recommend(self):
        data = self.write("portfolio.csv", portfolio_csv())
        model = os.path.join(self.ws.root, "model")
        r = self.run_abrec("train", "--format", "csv", "--data", data, "--out", model,
                           "--seed", "7")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn("hidden product: hit@1", r.stdout.decode())
        self.assertIn("ranker rows:", r.stderr.decode())  # progress lines
        self.assertEqual(sorted(os.listdir(model)), ["metadata.json", "mf.bin", "ranker.json"])
        with open(os.path.join(model, "metadata.json")) as f:
            meta = json.load(f)
        self.assertEqual(meta["kind"], "portfolio")
        self.assertEqual(meta["data"]["format"], "csv")
        self.assertEqual(meta["products"], ["funeral", "home", "life", "motor", "travel"])
        self.assertEqual(meta["parameters"]["seed"], 7)
        self.assertIn("sex=F", meta["evaluation"]["by_group"])
        self.assertGreater(meta["evaluation"]["hit_at_3"], 0.5)

        out = os.path.join(self.ws.root, "scores.csv")
        r = self.run_abrec("recommend", "--model", model, "--input", data, "--format", "csv",
                           "--output", out)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn("scored 120 customers", r.stdout.decode())
        with open(out) as f:
            rows = f.read().splitlines()
        self.assertEqual(rows[0], "customer_id,product_id,score")
        held = {line.split(",")[0]: set(filter(None, line.split(",")[5].split(";")))
                for line in portfolio_csv().splitlines()[1:]}
        self.assertEqual(len(rows) - 1, sum(5 - len(h) for h in held.values()))
        for row in rows[1:]:
            customer, product, score = row.split(",")
            self.assertNotIn(product, held[customer])
            self.assertTrue(0 < float(score) < 1, row)

        # A product the model does not know, and a model folder that is not one.
        bad = self.write("unknown.csv", "customer_id,age,sex,region,occupation,holdings\n"
                                        "x1,40,F,north,clerk,motor;boat\n")
        r = self.run_abrec("recommend", "--model", model, "--input", bad, "--format", "csv",
                           "--output", out)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{bad}:2:27: holdings: product \"boat\" is not one of the model's 5 "
                      "products", r.stderr.decode())
        r = self.run_abrec("recommend", "--model", self.ws.root, "--input", data, "--format",
                           "csv", "--output", out)
        self.assertEqual(r.returncode, 1)
        self.assertIn("metadata.json", r.stderr.decode())

    def test_bad_csv_is_reported_with_file_line_col(self):
        text = portfolio_csv(20).splitlines()
        text[3] = "c0002,4x,F,north,clerk,motor"
        data = self.write("bad.csv", "\n".join(text) + "\n")
        model = os.path.join(self.ws.root, "model")
        r = self.run_abrec("train", "--format", "csv", "--data", data, "--out", model)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, b"")
        self.assertIn(f"{data}:4:7: age: expected empty or a whole number 0 to 120, got \"4x\"",
                      r.stderr.decode())
        self.assertFalse(os.path.exists(model))
        r = self.run_abrec("recommend", "--model", model, "--input", data, "--format", "csv")
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
