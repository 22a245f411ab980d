#!/usr/bin/python3
"""POST /v1/events under load with the service killed (SIGKILL three times): nothing
acknowledged is lost, nothing is stored twice or in part, and the aggregates equal their
recomputation from the raw events (events_support.py).
"""

import os
import random
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402

from events_support import (  # noqa: E402
    CONNECTION_ERRORS,
    EventsTestMixin,
    Poster,
    TYPE_CODE,
    bind,
    body_of,
    bucket_of,
    click,
    exposure,
    items_list,
    make_events_workspace,
    now_us,
    oracle_exp,
    recompute,
    ts_of,
)


CRASH_EXP = oracle_exp("exp_crash")
CRASH_USERS = [f"cu-{i}" for i in range(3000)]
CRASH_BATCH = 100
CRASH_TARGET_EVENTS_PER_S = 10_000
CRASH_CLIENTS = 2
CRASH_KILLS = 3


class ServiceHolder:
    """The current service of a test that restarts it; clients wait here while it is down."""

    def __init__(self, svc):
        self.cv = threading.Condition()
        self.svc = svc
        self.generation = 0
        self.up = True

    def current(self):
        with self.cv:
            return self.svc, self.generation, self.up

    def going_down(self):
        with self.cv:
            self.up = False

    def came_up(self, svc):
        with self.cv:
            self.svc = svc
            self.generation += 1
            self.up = True
            self.cv.notify_all()

    def wait_newer_than(self, generation, stop):
        with self.cv:
            while self.generation == generation and not stop.is_set():
                self.cv.wait(0.05)


class CrashSafetyTest(EventsTestMixin, unittest.TestCase):
    """Load from client threads; the service is killed with SIGKILL three times and restarted
    on the same database. Nothing acknowledged may be lost, nothing stored counted twice, and
    each request's events are committed all or none."""

    def setUp(self):
        self.ws = make_events_workspace([("exp_crash.yaml", h.experiment_yaml("exp_crash"))])
        self.services = []
        self.seed = int(os.environ.get("ABREC_TEST_SEED", random.randrange(1 << 30)))
        self.rng = random.Random(self.seed)
        self.buckets = {u: bucket_of(u, CRASH_EXP) for u in CRASH_USERS}

    def tearDown(self):
        for s in self.services:
            s.kill()
        self.ws.cleanup()

    def start_service(self):
        svc = h.Service(self.ws.config_path)
        self.services.append(svc)
        svc.start()
        return svc

    def make_batch(self, rng, client, number, base_us):
        events = []
        for j in range(CRASH_BATCH):
            eid = f"k{client}-{number}-{j}"
            user = rng.choice(CRASH_USERS)
            # Within the last hour, in random order: clicks often arrive before the exposure
            # they belong to, and exposures older than the user's first one arrive late.
            ts = base_us - rng.randrange(3600 * 1_000_000)
            r = rng.random()
            if r < 0.35:
                e = exposure(eid, user, "exp_crash", ts, items=items_list(rng.randrange(0, 6)))
                if rng.random() < 0.5:
                    e["bucket"] = self.buckets[user]
                if rng.random() < 0.3:
                    e["model_version"] = "hybrid-7"
            elif r < 0.8:
                e = click(eid, user, ts, product_id=f"prod-{rng.randrange(5)}",
                          position=rng.randrange(1, 6))
            else:
                e = bind(eid, user, rng.randrange(1, 500_000) / 100, ts,
                         product_id=f"prod-{rng.randrange(5)}")
            events.append(e)
        return events

    def client(self, holder, index, stop, log, problems):
        rng = random.Random(self.seed * 31 + index)
        number = 0
        start = time.monotonic()
        sent_events = 0
        poster = None
        poster_generation = -1
        while not stop.is_set():
            svc, generation, up = holder.current()
            if not up:
                holder.wait_newer_than(generation, stop)
                continue
            if generation != poster_generation:
                if poster is not None:
                    poster.close()
                poster = Poster(svc.port)
                poster_generation = generation
            # Pace to the target rate (shared by the clients).
            ahead = sent_events / (CRASH_TARGET_EVENTS_PER_S / CRASH_CLIENTS) - (
                time.monotonic() - start)
            if ahead > 0:
                time.sleep(min(ahead, 0.05))
                continue
            events = self.make_batch(rng, index, number, now_us())
            number += 1
            body = body_of(events)
            entry = {"events": events, "body": body, "generation": generation}
            sent_events += len(events)
            try:
                status, headers, doc = poster.post(body)
            except CONNECTION_ERRORS as e:
                entry["outcome"] = "failed"
                entry["error"] = repr(e)
                log.append(entry)
                _, now_generation, now_up = holder.current()
                if now_generation == generation and now_up:
                    problems.append(f"client {index}: connection failed while the service was "
                                    f"up: {e!r}")
                    time.sleep(0.05)
                else:
                    holder.wait_newer_than(generation, stop)
                continue
            entry["status"] = status
            if status == 202:
                entry["outcome"] = "acked"
                if doc != {"accepted": len(events), "duplicates": 0, "rejected": []}:
                    problems.append(f"client {index}: batch {number - 1}: expected all "
                                    f"{len(events)} accepted, got {doc}")
            elif status == 503:
                entry["outcome"] = "503"
                if "retry-after" not in headers:
                    problems.append(f"503 without Retry-After: {headers}")
            else:
                entry["outcome"] = "failed"
                problems.append(f"client {index}: unexpected status {status}: {doc}")
            log.append(entry)
        if poster is not None:
            poster.close()

    def repost(self, port, entries, results):
        poster = Poster(port, timeout=60)
        try:
            for entry in entries:
                status, _, doc = poster.post(entry["body"])
                results.append((entry, status, doc))
        finally:
            poster.close()

    def test_sigkill_during_load_loses_no_acknowledged_event(self):
        started = time.monotonic()
        holder = ServiceHolder(self.start_service())
        stop = threading.Event()
        logs = [[] for _ in range(CRASH_CLIENTS)]
        problems = []
        threads = [threading.Thread(target=self.client, args=(holder, i, stop, logs[i], problems),
                                    daemon=True) for i in range(CRASH_CLIENTS)]
        for t in threads:
            t.start()
        pauses = []
        try:
            for _ in range(CRASH_KILLS):
                pause = self.rng.uniform(0.5, 2.0)
                pauses.append(round(pause, 3))
                time.sleep(pause)
                holder.going_down()
                old = holder.svc
                old.send_signal(signal.SIGKILL)
                self.assertEqual(old.wait_exit(), -signal.SIGKILL)
                holder.came_up(self.start_service())
            time.sleep(self.rng.uniform(0.5, 2.0))
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
        self.assertFalse(any(t.is_alive() for t in threads), "a client thread hung")
        context = f"(ABREC_TEST_SEED={self.seed}, kills after {pauses} s)"
        self.assertEqual(problems, [], context)
        log = [e for lg in logs for e in lg]
        acked = [e for e in log if e["outcome"] == "acked"]
        unacked = [e for e in log if e["outcome"] != "acked"]
        n_acked = sum(len(e["events"]) for e in acked)
        elapsed = time.monotonic() - started
        print(f"\ncrash test {context}: {len(log)} batches, {len(acked)} acknowledged "
              f"({n_acked} events, {n_acked / elapsed:.0f} events/s over {elapsed:.1f} s "
              f"including restarts), {len(unacked)} not acknowledged", file=sys.stderr)
        self.assertGreater(len(acked), 4 * CRASH_KILLS, context)
        self.assertTrue(all(len(e["events"]) == CRASH_BATCH for e in log))
        # Every generation of the service acknowledged something (the kills hit real load).
        self.assertEqual(sorted({e["generation"] for e in acked}), list(range(CRASH_KILLS + 1)),
                         context)
        svc = holder.svc

        # (a) Every acknowledged event is stored exactly once, as it was sent; every other
        #     request is stored all or nothing (and a 503 nothing).
        state = self.db()
        stored = state.by_id()
        self.assertEqual(len(stored), len(state.events), "an event_id is stored twice")
        missing = [ev["event_id"] for e in acked for ev in e["events"]
                   if ev["event_id"] not in stored]
        self.assertEqual(missing[:20], [], f"{len(missing)} acknowledged events are missing "
                         f"after SIGKILL {context}")
        for e in acked + unacked:
            for ev in e["events"]:
                rows = stored.get(ev["event_id"])
                if rows:
                    self.assert_row_is(rows[0], ev)
        unacked_stored = []
        for e in unacked:
            present = [ev["event_id"] in stored for ev in e["events"]]
            self.assertIn(sum(present), (0, len(present)),
                          f"a request was stored in part: {sum(present)} of {len(present)} "
                          f"events {context}")
            if e["outcome"] == "503":
                self.assertEqual(sum(present), 0, "a request answered 503 was stored")
            unacked_stored.append(all(present))
        print(f"crash test: {sum(unacked_stored)} of the {len(unacked)} requests not "
              "acknowledged were stored", file=sys.stderr)
        posted_ids = {ev["event_id"] for e in log for ev in e["events"]}
        self.assertEqual(set(stored) - posted_ids, set(), "events nobody sent were stored")

        # The scenarios the aggregation must handle did occur: a click stored before the
        # exposure it is attributed to, and an exposure older than the user's first one
        # arriving later.
        users, _ = recompute(state.events)
        earliest = {}
        late_older_exposure = 0
        for row in state.events:  # in seq order
            if row[2] == 0:
                key = (row[8], row[3])
                if key in earliest and row[4] < earliest[key]:
                    late_older_exposure += 1
                earliest[key] = min(earliest.get(key, row[4]), row[4])
        early_clicks = sum(
            1 for row in state.events if row[2] in (1, 2) and ("exp_crash", row[3]) in users
            and row[0] < users[("exp_crash", row[3])][2]
            and users[("exp_crash", row[3])][1] <= row[4])
        self.assertGreater(early_clicks, 0, "no attributed click was stored before its exposure")
        self.assertGreater(late_older_exposure, 0, "no exposure older than the first arrived late")

        # (c) The aggregates equal the recomputation from the raw events.
        before = self.assert_aggregates_match(state)
        self.assertEqual(sorted(b for (_, b) in before.nonzero_bucket_totals("exp_crash")),
                         ["control", "exploration", "holdout", "treatment"])

        # (b) Re-posting every acknowledged request gives only duplicates; the others give
        #     duplicates when they were stored and are accepted now when they were not.
        work = acked + unacked
        results = []
        parts = [work[i::4] for i in range(4)]
        repost_threads = [threading.Thread(target=self.repost, args=(svc.port, p, results),
                                           daemon=True) for p in parts]
        for t in repost_threads:
            t.start()
        for t in repost_threads:
            t.join(timeout=90)
        self.assertEqual(len(results), len(work), "re-posting did not finish")
        was_stored = {id(e): s for e, s in zip(unacked, unacked_stored)}
        for entry, status, doc in results:
            n = len(entry["events"])
            self.assertEqual(status, 202, doc)
            if entry["outcome"] == "acked" or was_stored[id(entry)]:
                self.assertEqual(doc, {"accepted": 0, "duplicates": n, "rejected": []})
            else:
                self.assertEqual(doc, {"accepted": n, "duplicates": 0, "rejected": []})

        after = self.assert_aggregates_match()
        acked_ids = {ev["event_id"] for e in acked for ev in e["events"]}
        self.assertEqual(len(after.events), len(posted_ids))
        if all(unacked_stored):  # then re-posting added nothing
            self.assertEqual(before.bucket_totals, after.bucket_totals)
        self.assertTrue(acked_ids <= set(after.by_id()))
        # A clean stop (SIGTERM, exit 0) after all this keeps everything too.
        self.assertEqual(svc.stop(), 0, svc.stderr_text())
        final = self.assert_aggregates_match()
        self.assertEqual((final.events, final.bucket_totals, final.user_totals),
                         (after.events, after.bucket_totals, after.user_totals))

    def assert_row_is(self, row, ev):
        seq, eid, typ, user, ts, product, position, premium, exp, bucket = row[:10]
        self.assertEqual((eid, typ, user, ts),
                         (ev["event_id"], TYPE_CODE[ev["type"]], ev["user_id"],
                          ts_of(ev)), row)
        if ev["type"] == "exposure":
            self.assertEqual((exp, bucket, row[14]),
                             ("exp_crash", self.buckets[user], len(ev.get("items", []))), row)
        else:
            self.assertEqual((product, position), (ev.get("product_id"), ev.get("position")), row)
            self.assertEqual(premium, round(ev["premium"] * 100) if ev["type"] == "bind" else 0,
                             row)


if __name__ == "__main__":
    unittest.main(verbosity=2)
