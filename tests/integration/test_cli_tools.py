#!/usr/bin/python3
"""The command line's tools on a database and a world: `abrec plan`, `abrec backup` and
`abrec simulate`."""

import json
import math
import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402,F401
from cli_support import VALID, CliTestCase  # noqa: E402


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


if __name__ == "__main__":
    unittest.main(verbosity=2)
