#!/usr/bin/python3
"""POST /v1/events idempotent by event_id (a duplicate, or a conflict for a changed payload),
also across concurrent clients; the aggregates equal their recomputation.
"""

import json
import os
import random
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402

from events_support import (  # noqa: E402
    EventsServiceTestCase,
    Poster,
    TYPE_CODE,
    bind,
    body_of,
    bucket_of,
    click,
    exposure,
    items_list,
    named,
    now_us,
    oracle_exp,
    recompute,
    rfc3339,
    ts_of,
)


IDEM_EXP = oracle_exp("exp_idem")


class IdempotencyTest(EventsServiceTestCase):

    experiments = [("exp_idem.yaml", h.experiment_yaml("exp_idem"))]

    def test_retried_batch_is_counted_once(self):
        now = now_us()
        users = [f"idem-{i}" for i in range(8)]
        events = []
        for i, u in enumerate(users):
            events.append(click(f"r-c0-{i}", u, now - 50_000_000))          # before exposure
            events.append(exposure(f"r-e-{i}", u, "exp_idem", now - 60_000_000,
                                   items=items_list(i % 4)))
            events.append(click(f"r-c1-{i}", u, now - 10_000_000, position=2))
            if i % 2:
                events.append(bind(f"r-b-{i}", u, 10.5 * i, now - 5_000_000))
        self.post_ok(events, accepted=len(events))
        first = self.assert_aggregates_match()
        for _ in range(2):
            self.post_ok(events, accepted=0, duplicates=len(events))
            again = self.assert_aggregates_match()
            self.assertEqual(again.events, first.events)
            self.assertEqual(again.bucket_totals, first.bucket_totals)
            self.assertEqual(again.user_totals, first.user_totals)
        # Key order and whitespace are not part of the payload.
        reordered = [dict(reversed(list(e.items()))) for e in events]
        body = json.dumps({"events": reordered}, indent=3).encode()
        status, _, data = self.svc.request("POST", "/v1/events", body=body,
                                           headers={"Content-Type": "application/json"})
        self.assertEqual(status, 202, data)
        self.assertEqual(json.loads(data), {"accepted": 0, "duplicates": len(events),
                                            "rejected": []})
        # The exact values for one user: exposed 60 s ago, clicked 50 and 10 s ago, bound.
        state = self.db()
        bucket = bucket_of(users[3], IDEM_EXP)
        self.assertEqual(state.user_totals[("exp_idem", users[3])][0], bucket)
        self.assertEqual(state.user_totals[("exp_idem", users[3])][3:],
                         (1, 3, 2, 1, 3150))

    def test_same_id_other_payload_is_conflict(self):
        now = now_us()
        original = click("cf-1", "cf-user", now - 1_000_000, product_id="prod-1", position=1)
        self.post_ok([original], accepted=1)
        variants = [
            dict(original, product_id="prod-2"),
            dict(original, position=2),
            dict(original, user_id="cf-other"),
            dict(original, timestamp=rfc3339(now - 2_000_000)),
            {k: v for k, v in original.items() if k != "position"},
            dict(bind("cf-1", "cf-user", 1.0, now - 1_000_000), product_id="prod-1"),
        ]
        for n, v in enumerate(variants):
            self.post_ok([click(f"cf-good-{n}", "cf-user"), v], accepted=1,
                         rejected=[(1, "cf-1", "conflict", "events[1].event_id")])
            self.post_ok([original], accepted=0, duplicates=1)
        state = self.db()
        rows = state.by_id()["cf-1"]
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][2:7], (1, "cf-user", now - 1_000_000, "prod-1", 1))
        self.assert_aggregates_match(state)

    def test_event_without_timestamp_retried_is_duplicate(self):
        events = [click("nt-c", "nt-user", product_id="prod-3"),
                  bind("nt-b", "nt-user", 42.0),
                  exposure("nt-e", "nt-user", "exp_idem")]
        t0 = now_us()
        self.post_ok(events, accepted=3)
        t1 = now_us()
        stored = {i: r[0][4] for i, r in self.db().by_id().items() if i.startswith("nt-")}
        for ts in stored.values():
            self.assertTrue(t0 <= ts <= t1, (t0, ts, t1))
        time.sleep(0.05)
        self.post_ok(events, accepted=0, duplicates=3)
        # The stored time is the first arrival's.
        again = {i: r[0][4] for i, r in self.db().by_id().items() if i.startswith("nt-")}
        self.assertEqual(again, stored)
        # With an explicit timestamp the payload differs: conflict.
        self.post_ok([dict(events[0], timestamp=rfc3339(stored["nt-c"]))], accepted=0,
                     rejected=[(0, "nt-c", "conflict", "events[0].event_id")])
        self.assert_aggregates_match()

    def test_assign_request_id_reused_as_event_id(self):
        # The exposure logged by GET /v1/assign is stored under its request_id; a client
        # posting another event under that id is told it conflicts, not silently dropped.
        status, doc = self.svc.assign("rid-user", "exp_idem")
        self.assertEqual(status, 200, doc)
        self.assertTrue(doc["logged"])
        self.post_ok([click(doc["request_id"], "rid-user")], accepted=0, rejected=[
            (0, doc["request_id"], "conflict", "events[0].event_id")])


# ---------------------------------------------------------------------------------------------
# 4. Concurrent clients
# ---------------------------------------------------------------------------------------------

CONC_EXP = oracle_exp("exp_conc")


class ConcurrentClientsTest(EventsServiceTestCase):

    experiments = [("exp_conc.yaml", h.experiment_yaml("exp_conc"))]

    def test_overlapping_batches_from_four_threads(self):
        rng = random.Random(7)
        now = now_us()
        users = [f"conc-{i}" for i in range(300)]
        pool = []
        for i in range(3000):
            u = rng.choice(users)
            ts = now - rng.randrange(1800 * 1_000_000)
            kind = rng.random()
            if kind < 0.35:
                pool.append(exposure(f"cc-{i}", u, "exp_conc", ts,
                                     items=items_list(rng.randrange(4))))
            elif kind < 0.8:
                pool.append(click(f"cc-{i}", u, ts, position=rng.randrange(1, 4)))
            elif kind < 0.97:
                pool.append(bind(f"cc-{i}", u, rng.randrange(100, 90_000) / 100, ts))
            else:
                pool.append(click(f"cc-{i}", u))  # no timestamp: a retry must still match
        results = [[] for _ in range(4)]
        errors = []
        barrier = threading.Barrier(4)

        def worker(k):
            order = list(range(len(pool)))
            random.Random(100 + k).shuffle(order)
            # Thread k posts every event once and half the pool a second time.
            order += order[: len(pool) // 2]
            poster = Poster(self.svc.port)
            try:
                barrier.wait()
                for start in range(0, len(order), 60):
                    chunk = []
                    seen = set()
                    for i in order[start:start + 60]:
                        if i not in seen:
                            seen.add(i)
                            chunk.append(pool[i])
                    status, _, doc = poster.post(body_of(chunk))
                    results[k].append((len(chunk), status, doc))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))
            finally:
                poster.close()

        threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=90)
        self.assertEqual(errors, [])
        posted = accepted = duplicates = 0
        for k in range(4):
            for n, status, doc in results[k]:
                self.assertEqual(status, 202, doc)
                self.assertEqual(doc["rejected"], [], doc)
                self.assertEqual(doc["accepted"] + doc["duplicates"], n, doc)
                posted += n
                accepted += doc["accepted"]
                duplicates += doc["duplicates"]
        self.assertEqual(accepted, len(pool), "every distinct event is accepted exactly once")
        self.assertEqual(duplicates, posted - len(pool))
        state = self.assert_aggregates_match()
        stored = state.by_id()
        self.assertEqual(len(state.events), len(pool))
        self.assertEqual(sorted(stored), sorted(e["event_id"] for e in pool))
        for e in pool:
            row = stored[e["event_id"]][0]
            self.assertEqual((row[2], row[3]), (TYPE_CODE[e["type"]], e["user_id"]), row)
            if "timestamp" in e:
                self.assertEqual(row[4], ts_of(e), row)
            if e["type"] == "exposure":
                self.assertEqual(row[9], bucket_of(e["user_id"], CONC_EXP), row)
        _, buckets = recompute(state.events)
        self.assertEqual(sum(named(v)["users"] for v in buckets.values()),
                         len({e["user_id"] for e in pool if e["type"] == "exposure"}))


# ---------------------------------------------------------------------------------------------
# 5. Attribution through the API
# ---------------------------------------------------------------------------------------------


if __name__ == "__main__":
    unittest.main(verbosity=2)
