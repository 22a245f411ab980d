#!/usr/bin/python3
"""The command line: `abrec hash`, `abrec validate` and `abrec assign`."""

import json
import os
import re
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402,F401
from cli_support import DIAG_RE, SUMMARY_RE, LOOSE_DIAG_RE, VALID, valid_with, CliTestCase  # noqa: E402


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


if __name__ == "__main__":
    unittest.main(verbosity=2)
