#!/usr/bin/python3
"""Attribution of clicks and binds to experiments (the first exposure, the window, late
exposures) and exposure logging by /v1/assign.
"""

import os
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402

from events_support import (  # noqa: E402
    DAY_US,
    EventsServiceTestCase,
    TOTALS_COLUMNS,
    bind,
    bucket_of,
    click,
    exposure,
    items_list,
    named,
    now_us,
    oracle_exp,
)


WINDOW_DAYS = 1  # this class's events.attribution_window_days, so the window's end is testable
ATTR_EXPS = {
    "exp_api": oracle_exp("exp_api"),
    "exp_late": oracle_exp("exp_late"),
    "exp_a": oracle_exp("exp_a"),
    "exp_b": oracle_exp("exp_b"),
    "exp_window": oracle_exp("exp_window"),
    "exp_half": oracle_exp("exp_half", coverage=0.5),
    "exp_pop": oracle_exp("exp_pop"),
}


class AttributionTest(EventsServiceTestCase):

    experiments = [
        ("exp_api.yaml", h.experiment_yaml("exp_api", surface="portal_home")),
        ("exp_late.yaml", h.experiment_yaml("exp_late", surface="renewal_page")),
        ("exp_a.yaml", h.experiment_yaml("exp_a", surface="s1")),
        ("exp_b.yaml", h.experiment_yaml("exp_b", surface="s2")),
        ("exp_window.yaml", h.experiment_yaml("exp_window", surface="s3")),
        ("exp_half.yaml", h.experiment_yaml("exp_half", surface="s4", coverage=0.5)),
        ("exp_pop.yaml", h.experiment_yaml("exp_pop", surface="s5")),
        ("exp_off.yaml", h.experiment_yaml("exp_off", surface="s6", phase="stopped")),
    ]
    config_values = {"attribution_window_days": WINDOW_DAYS}
    window_days = WINDOW_DAYS

    def assign(self, user, exp, log=None):
        q = {"user_id": user, "experiment": exp}
        if log is not None:
            q["log"] = log
        status, doc = self.svc.get_json("/v1/assign?" + urllib.parse.urlencode(q))
        self.assertEqual(status, 200, doc)
        return doc

    def totals(self, exp, bucket, state=None):
        state = state or self.db()
        return named(state.bucket_totals.get((exp, bucket), (0,) * len(TOTALS_COLUMNS)))

    def test_assign_then_click_and_bind(self):
        user = "attr-api-user"
        t0 = now_us()
        doc = self.assign(user, "exp_api")
        t1 = now_us()
        bucket = bucket_of(user, ATTR_EXPS["exp_api"])
        self.assertEqual(h.without_request(doc)["bucket"], bucket)
        self.assertIs(doc["logged"], True)
        self.assertRegex(doc["request_id"], r"^[0-9a-f]{32}$")
        rows = [r for r in self.db().events if r[3] == user]
        self.assertEqual(len(rows), 1, rows)
        row = rows[0]
        self.assertEqual((row[1], row[2], row[8], row[9], row[15]),
                         (doc["request_id"], 0, "exp_api", bucket, doc["request_id"]))
        self.assertTrue(t0 <= row[4] <= t1, (t0, row[4], t1))
        self.post_ok([click("api-c", user, product_id="prod-1", position=1,
                            request_id=doc["request_id"]),
                      bind("api-b", user, 123.45, product_id="prod-1",
                           request_id=doc["request_id"])], accepted=2)
        self.assertEqual(self.totals("exp_api", bucket), {
            "users": 1, "exposures": 1, "impressions": 0, "impressions_sq": 0, "clicks": 1,
            "clicks_sq": 1, "clicks_x_impressions": 0, "clicking_users": 1, "binders": 1,
            "binds": 1, "binds_sq": 1, "premium_cents": 12345, "premium_cents_sq": 12345 ** 2})
        self.assertEqual(self.db().nonzero_bucket_totals("exp_api"),
                         {("exp_api", bucket): tuple(self.totals("exp_api", bucket).values())})
        self.assert_aggregates_match()

    def test_click_before_exposure_counts_once_an_earlier_exposure_arrives(self):
        user = "attr-late-user"
        bucket = bucket_of(user, ATTR_EXPS["exp_late"])
        doc = self.assign(user, "exp_late")
        exposed_at = self.db().by_id()[doc["request_id"]][0][4]
        # Clicked and bound 60 s before the exposure the assignment logged: not attributed.
        self.post_ok([click("late-c", user, exposed_at - 60_000_000),
                      bind("late-b", user, 20.0, exposed_at - 50_000_000)], accepted=2)
        t = self.totals("exp_late", bucket)
        self.assertEqual((t["users"], t["exposures"], t["clicks"], t["binds"],
                          t["premium_cents"]), (1, 1, 0, 0, 0))
        self.assert_aggregates_match()
        # A click at the very microsecond of the exposure counts ("at or before").
        self.post_ok([click("late-c0", user, exposed_at)], accepted=1)
        self.assertEqual(self.totals("exp_late", bucket)["clicks"], 1)
        # An exposure logged later but timestamped before the first one moves the window's
        # start: the earlier click and bind now count.
        self.post_ok([exposure("late-e", user, "exp_late", exposed_at - 120_000_000,
                               items=items_list(2))], accepted=1)
        t = self.totals("exp_late", bucket)
        self.assertEqual((t["users"], t["exposures"], t["impressions"], t["clicks"], t["binds"],
                          t["premium_cents"], t["clicks_x_impressions"]),
                         (1, 2, 2, 2, 1, 2000, 4))
        state = self.assert_aggregates_match()
        self.assertEqual(state.user_totals[("exp_late", user)][1:3],
                         (exposed_at - 120_000_000, state.by_id()["late-e"][0][0]))

    def test_outcome_counts_in_every_exposed_experiment(self):
        user = "attr-multi-user"
        now = now_us()
        self.post_ok([exposure("m-ea", user, "exp_a", now - 300_000_000),
                      exposure("m-eb", user, "exp_b", now - 100_000_000)], accepted=2)
        # Between the two exposures: only exp_a; after both: both.
        self.post_ok([click("m-c1", user, now - 200_000_000),
                      bind("m-b1", user, 7.77, now - 50_000_000)], accepted=2)
        state = self.db()
        ua = state.user_totals[("exp_a", user)]
        ub = state.user_totals[("exp_b", user)]
        self.assertEqual((ua[0], ua[3:]), (bucket_of(user, ATTR_EXPS["exp_a"]), (1, 0, 1, 1, 777)))
        self.assertEqual((ub[0], ub[3:]), (bucket_of(user, ATTR_EXPS["exp_b"]), (1, 0, 0, 1, 777)))
        # A user exposed nowhere: the click is stored but attributed to nothing.
        self.post_ok([click("m-none", "attr-nobody", now)], accepted=1)
        state = self.assert_aggregates_match()
        self.assertFalse([k for k in state.user_totals if k[1] == "attr-nobody"])

    def test_attribution_window_end(self):
        user = "attr-window-user"
        bucket = bucket_of(user, ATTR_EXPS["exp_window"])
        now = now_us()
        first = now - 3 * DAY_US
        window_end = first + WINDOW_DAYS * DAY_US
        self.post_ok([exposure("w-e", user, "exp_window", first),
                      click("w-c-in", user, window_end),            # the last counted microsecond
                      click("w-c-out", user, window_end + 1),
                      bind("w-b-out", user, 5.0, now - DAY_US),
                      bind("w-b-in", user, 3.0, first + 1)], accepted=5)
        t = self.totals("exp_window", bucket)
        self.assertEqual((t["users"], t["clicks"], t["binds"], t["premium_cents"]), (1, 1, 1, 300))
        # A later exposure does not move the window (it runs from the first exposure).
        self.post_ok([exposure("w-e2", user, "exp_window", now - 1_000_000)], accepted=1)
        t = self.totals("exp_window", bucket)
        self.assertEqual((t["exposures"], t["clicks"], t["binds"], t["premium_cents"]),
                         (2, 1, 1, 300))
        self.assert_aggregates_match()

    def test_holdout_and_exploration_users_are_logged(self):
        users = [f"pop-{i}" for i in range(400)]
        by_pop = {}
        for u in users:
            by_pop.setdefault(bucket_of(u, ATTR_EXPS["exp_pop"]), u)
        self.assertIn("holdout", by_pop)
        self.assertIn("exploration", by_pop)
        for bucket in ("holdout", "exploration", "control", "treatment"):
            u = by_pop[bucket]
            doc = self.assign(u, "exp_pop")
            self.assertEqual((doc["bucket"], doc["logged"]), (bucket, True), doc)
            self.post_ok([click(f"pop-c-{bucket}", u), bind(f"pop-b-{bucket}", u, 1.0)],
                         accepted=2)
        state = self.db()
        for bucket in ("holdout", "exploration", "control", "treatment"):
            t = self.totals("exp_pop", bucket, state)
            self.assertEqual((t["users"], t["exposures"], t["clicks"], t["binds"],
                              t["premium_cents"]), (1, 1, 1, 1, 100), bucket)
        row = [r for r in state.events if r[3] == by_pop["holdout"] and r[2] == 0][0]
        self.assertEqual((row[9], row[10], row[12]), ("holdout", "", "none"))
        self.assertIn(row[11], ("control", "treatment"))
        self.assert_aggregates_match(state)

    def test_log_false_and_not_enrolled_log_nothing(self):
        before = self.db()
        user = "attr-nolog-user"
        doc = self.assign(user, "exp_api", log="false")
        self.assertIs(doc["logged"], False)
        self.assertIn("request_id", doc)
        half = next(u for u in (f"half-{i}" for i in range(100))
                    if bucket_of(u, ATTR_EXPS["exp_half"]) == "not_enrolled")
        doc = self.assign(half, "exp_half")
        self.assertEqual((doc["bucket"], doc["logged"]), ("not_enrolled", False))
        doc = self.assign(user, "exp_off")
        self.assertIs(doc["logged"], False)
        # A holdout user outside the experiment's coverage is not the experiment's holdout.
        outside = next(u for u in (f"hold-{i}" for i in range(5000))
                       if h.oracle_assign(u, ATTR_EXPS["exp_half"])["population"] == "holdout"
                       and bucket_of(u, ATTR_EXPS["exp_half"]) == "not_enrolled")
        doc = self.assign(outside, "exp_half")
        self.assertEqual((doc["bucket"], doc["logged"]), ("not_enrolled", False))
        status, doc = self.svc.post_json("/v1/assign", {"experiment": "exp_api",
                                                        "user_ids": [user, half], "log": False})
        self.assertEqual(status, 200, doc)
        self.assertEqual([r["logged"] for r in doc["results"]], [False, False])
        after = self.db()
        self.assertEqual(after.events, before.events)
        self.assertEqual(after.bucket_totals, before.bucket_totals)
        # POST /v1/assign with logging stores one exposure per enrolled user.
        status, doc = self.svc.post_json("/v1/assign", {"experiment": "exp_half",
                                                        "user_ids": [half, "half-x", "half-y"]})
        self.assertEqual(status, 200, doc)
        logged = {r["request_id"]: r for r in doc["results"] if r["logged"]}
        self.assertEqual(set(logged), {r["request_id"] for r in doc["results"]
                                       if r["bucket"] != "not_enrolled"})
        stored = self.db().by_id()
        for rid, r in logged.items():
            self.assertEqual(stored[rid][0][3], r["user_id"])
            self.assertEqual(stored[rid][0][9], r["bucket"])
        self.assertEqual([r for r in self.db().events if r[3] in (user, half, outside)], [])
        # ... but one inside it is, in the holdout bucket.
        inside = next(u for u in (f"hold-{i}" for i in range(5000))
                      if bucket_of(u, ATTR_EXPS["exp_half"]) == "holdout")
        doc = self.assign(inside, "exp_half")
        self.assertEqual((doc["bucket"], doc["logged"]), ("holdout", True))
        self.assertEqual(self.db().by_id()[doc["request_id"]][0][8:10], ("exp_half", "holdout"))
        self.assert_aggregates_match()


if __name__ == "__main__":
    unittest.main(verbosity=2)
