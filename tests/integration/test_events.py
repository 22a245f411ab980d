#!/usr/bin/python3
"""POST /v1/events and exposure logging, end to end against the real service and its SQLite
database: crash safety under load (SIGKILL three times), hostile and invalid input,
idempotency, concurrent clients, and attribution of clicks and binds to experiments.

The aggregates (user_totals, bucket_totals, bucket_daily, and the latest step of each user's
amount history in user_amounts) are checked against an independent recomputation, in Python,
from the raw events table: per (experiment, user) the first
exposure by (ts_us, seq) gives the bucket; clicks and binds of that user count when
first_ts <= ts <= first_ts + attribution window.
"""

import calendar
import collections
import http.client
import json
import os
import random
import signal
import socket
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402

TYPE_CODE = {"exposure": 0, "click": 1, "bind": 2}
TOTALS_COLUMNS = ["users", "exposures", "impressions", "impressions_sq", "clicks", "clicks_sq",
                  "clicks_x_impressions", "clicking_users", "binders", "binds", "binds_sq",
                  "premium_cents", "premium_cents_sq"]
USER_COLUMNS = ["bucket", "first_ts_us", "first_seq", "exposures", "impressions", "clicks",
                "binds", "premium_cents"]
DAY_US = 86_400 * 1_000_000
DEFAULT_WINDOW_DAYS = 30
MAX_EVENTS = 10_000          # events.max_events_per_request in config/abrec.yaml
MAX_EVENT_BYTES = 16_384     # events.max_event_bytes
MAX_PAST_S = 604_800         # events.max_past_s
MAX_FUTURE_S = 300           # events.max_future_s
TWO_ARMS = [("control", "legacy_rules", 0.5), ("treatment", "recommender", 0.5)]
CONNECTION_ERRORS = (ConnectionError, http.client.HTTPException, socket.timeout, OSError)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

def now_us():
    return time.time_ns() // 1000


def rfc3339(us):
    """Microseconds since the epoch as RFC 3339 UTC with 6 fractional digits."""
    secs, frac = divmod(us, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:06d}Z"


def oracle_exp(key, coverage=1.0, phase="ab_test", namespace=None, variants=TWO_ARMS):
    return {"key": key, "phase": phase, "coverage": coverage, "namespace": namespace,
            "variants": list(variants)}


def bucket_of(user, exp):
    return h.oracle_assign(user, exp)["bucket"]


def canonical(event):
    """The event as the service canonicalises it (nlohmann dump: sorted keys, no spaces)."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def body_of(events):
    return json.dumps({"events": events}).encode("utf-8")


def click(eid, user, ts=None, **extra):
    e = {"event_id": eid, "type": "click", "user_id": user}
    if ts is not None:
        e["timestamp"] = rfc3339(ts)
    e.update(extra)
    return e


def bind(eid, user, premium, ts=None, **extra):
    e = {"event_id": eid, "type": "bind", "user_id": user, "premium": premium}
    if ts is not None:
        e["timestamp"] = rfc3339(ts)
    e.update(extra)
    return e


def exposure(eid, user, experiment, ts=None, items=None, **extra):
    e = {"event_id": eid, "type": "exposure", "user_id": user, "experiment": experiment}
    if ts is not None:
        e["timestamp"] = rfc3339(ts)
    if items is not None:
        e["items"] = items
    e.update(extra)
    return e


# Products of config/catalog.yaml: exposures naming others are rejected.
CATALOG_IDS = ["pet", "gadget", "roadside", "funeral", "umbrella", "earthquake"]


def items_list(n):
    return [{"product_id": CATALOG_IDS[k], "position": k + 1, "propensity": 0.5}
            for k in range(n)]


class Poster:
    """POST /v1/events over one keep-alive connection (reconnecting after a failure)."""

    def __init__(self, port, timeout=h.HTTP_TIMEOUT_S):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def post(self, body):
        """Returns (status, headers lower-cased, parsed JSON or raw bytes); raises on a
        connection failure."""
        if self.conn is None:
            self.conn = h.KeyedConnection("127.0.0.1", self.port, timeout=self.timeout,
                                          key=h.key_for_port(self.port))
        try:
            self.conn.request("POST", "/v1/events", body=body,
                              headers={"Content-Type": "application/json"})
            resp = self.conn.getresponse()
            data = resp.read()
            headers = {k.lower(): v for k, v in resp.getheaders()}
            if resp.will_close:
                self.close()
        except BaseException:
            self.close()
            raise
        try:
            doc = json.loads(data.decode("utf-8"))
        except ValueError:
            doc = data
        return resp.status, headers, doc

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ---------------------------------------------------------------------------------------------
# The database and the independent recomputation
# ---------------------------------------------------------------------------------------------

class DbState:
    """One consistent snapshot of the tables the tests check."""

    def __init__(self, path):
        con = h.open_db_readonly(path)
        try:
            con.execute("BEGIN")
            self.events = con.execute(
                "SELECT seq, event_id, type, user_id, ts_us, product_id, position, premium_cents, "
                "experiment, bucket, variant, counterfactual_variant, policy, model_version, "
                "n_items, request_id FROM events ORDER BY seq").fetchall()
            self.bucket_totals = {
                (r[0], r[1]): tuple(r[2:]) for r in con.execute(
                    f"SELECT experiment, bucket, {', '.join(TOTALS_COLUMNS)} FROM bucket_totals")}
            user_rows = con.execute(
                f"SELECT experiment, user_id, {', '.join(USER_COLUMNS)} FROM user_totals").fetchall()
            self.user_totals = {(r[0], r[1]): tuple(r[2:]) for r in user_rows}
            # user_totals has no unique key on disk (the writer keeps its rowids in memory):
            # one row per (experiment, user) is checked here.
            if len(self.user_totals) != len(user_rows):
                raise AssertionError(f"user_totals holds {len(user_rows)} rows for "
                                     f"{len(self.user_totals)} (experiment, user) pairs")
            self.bucket_daily = {
                (r[0], r[1], r[2]): tuple(r[3:]) for r in con.execute(
                    f"SELECT experiment, bucket, day, {', '.join(TOTALS_COLUMNS)} "
                    "FROM bucket_daily")}
            # Each (experiment, user)'s latest step of the amount history: (bucket, premium).
            self.latest_steps = {}
            for exp, user, bucket, premium in con.execute(
                    "SELECT experiment, user_id, bucket, premium_cents FROM user_amounts "
                    "ORDER BY experiment, id"):
                self.latest_steps[(exp, user)] = (bucket, premium)
            con.execute("COMMIT")
        finally:
            con.close()

    def by_id(self):
        out = {}
        for row in self.events:
            out.setdefault(row[1], []).append(row)
        return out

    def nonzero_bucket_totals(self, experiment=None):
        return {k: v for k, v in self.bucket_totals.items()
                if any(v) and (experiment is None or k[0] == experiment)}


def recompute(events, window_days=DEFAULT_WINDOW_DAYS):
    """(user_totals, bucket_totals) from raw event rows, independently of the service."""
    window = window_days * DAY_US
    exposures = collections.defaultdict(list)  # (experiment, user) -> [(ts, seq, bucket, n)]
    outcomes = collections.defaultdict(list)   # user -> [(ts, type, premium_cents)]
    for row in events:
        seq, _eid, typ, user, ts, _p, _pos, premium, exp, bucket = row[:10]
        n_items = row[14]
        if typ == 0:
            exposures[(exp, user)].append((ts, seq, bucket, n_items))
        else:
            outcomes[user].append((ts, typ, premium))
    users = {}
    for (exp, user), exps in exposures.items():
        exps.sort()
        first_ts, first_seq, bucket, _ = exps[0]
        clicks = binds = premium = 0
        for ts, typ, p in outcomes.get(user, ()):
            if first_ts <= ts <= first_ts + window:
                if typ == 1:
                    clicks += 1
                else:
                    binds += 1
                    premium += p
        users[(exp, user)] = (bucket, first_ts, first_seq, len(exps),
                              sum(e[3] for e in exps), clicks, binds, premium)
    buckets = {}
    for (exp, _user), (bucket, _f, _s, n_exp, imp, clicks, binds, prem) in users.items():
        t = buckets.setdefault((exp, bucket), [0] * len(TOTALS_COLUMNS))
        for i, v in enumerate((1, n_exp, imp, imp * imp, clicks, clicks * clicks, clicks * imp,
                               1 if clicks else 0, 1 if binds else 0, binds, binds * binds, prem,
                               prem * prem)):
            t[i] += v
    return users, {k: tuple(v) for k, v in buckets.items()}


def named(totals):
    return dict(zip(TOTALS_COLUMNS, totals))


class EventsTestMixin:
    """Checks shared by the test classes; `self.ws` and `self.svc` come from the class."""

    window_days = DEFAULT_WINDOW_DAYS

    def db(self):
        return DbState(self.ws.db_path)

    def post(self, events, svc=None):
        svc = svc or self.svc
        status, headers, data = svc.request("POST", "/v1/events", body=body_of(events),
                                            headers={"Content-Type": "application/json"})
        doc = json.loads(data.decode("utf-8")) if data else None
        return status, headers, doc

    def post_ok(self, events, accepted=None, duplicates=0, rejected=()):
        """POSTs a batch, expects 202 with exactly these counts; returns the rejections."""
        status, headers, doc = self.post(events)
        self.assertEqual(status, 202, doc)
        self.assertTrue(headers.get("content-type", "").startswith("application/json"), headers)
        self.assertEqual(list(doc.keys()), ["accepted", "duplicates", "rejected"], doc)
        if accepted is None:
            accepted = len(events) - duplicates - len(rejected)
        self.assertEqual((doc["accepted"], doc["duplicates"]), (accepted, duplicates), doc)
        got = [(r["index"], r["event_id"], r["error"]["code"], r["error"]["field"])
               for r in doc["rejected"]]
        self.assertEqual(got, list(rejected), doc)
        for r in doc["rejected"]:
            self.assertEqual(sorted(r["error"].keys()), ["code", "field", "message"], r)
            self.assertTrue(r["error"]["message"], r)
        return doc["rejected"]

    def assert_aggregates_match(self, state=None, experiments=None):
        """user_totals, bucket_totals and the latest bucket_daily snapshot equal the
        recomputation from the events table."""
        state = state or self.db()
        users, buckets = recompute(state.events, self.window_days)
        got_users = dict(state.user_totals)
        got_buckets = state.nonzero_bucket_totals()
        if experiments is not None:
            users = {k: v for k, v in users.items() if k[0] in experiments}
            buckets = {k: v for k, v in buckets.items() if k[0] in experiments}
            got_users = {k: v for k, v in got_users.items() if k[0] in experiments}
            got_buckets = {k: v for k, v in got_buckets.items() if k[0] in experiments}
        wrong_users = {k: {"service": got_users.get(k), "recomputed": users.get(k)}
                       for k in sorted(set(users) | set(got_users))
                       if users.get(k) != got_users.get(k)}
        if wrong_users:
            self.fail(f"user_totals differ from the recomputation for {len(wrong_users)} of "
                      f"{len(users)} (experiment, user) pairs; columns {USER_COLUMNS}; first "
                      f"ones: {dict(list(wrong_users.items())[:10])}")
        wrong_buckets = {k: {"service": named(got_buckets[k]) if k in got_buckets else None,
                             "recomputed": named(buckets[k]) if k in buckets else None}
                         for k in sorted(set(buckets) | set(got_buckets))
                         if buckets.get(k) != got_buckets.get(k)}
        if wrong_buckets:
            self.fail(f"bucket_totals differ from the recomputation: {wrong_buckets}")
        latest = {}
        for (exp, bucket, day), v in state.bucket_daily.items():
            if (exp, bucket) not in latest or day > latest[(exp, bucket)][0]:
                latest[(exp, bucket)] = (day, v)
        stale = {k: {"bucket_totals": named(v), "latest_daily": named(latest[k][1])
                     if k in latest else None}
                 for k, v in got_buckets.items() if k not in latest or latest[k][1] != v}
        self.assertEqual(stale, {}, "the latest bucket_daily snapshot differs from bucket_totals")
        # The amount history: a user with premium has a latest step holding it and their
        # bucket; a user with a step has the premium it says (it may have fallen to 0).
        steps = state.latest_steps
        if experiments is not None:
            steps = {k: v for k, v in steps.items() if k[0] in experiments}
        want = {k: (v[0], v[7]) for k, v in users.items() if v[7] != 0 or k in steps}
        wrong_steps = {k: {"latest_step": steps.get(k), "recomputed": want.get(k)}
                       for k in sorted(set(want) | set(steps)) if want.get(k) != steps.get(k)}
        if wrong_steps:
            self.fail(f"user_amounts' latest steps differ from the recomputation for "
                      f"{len(wrong_steps)} (experiment, user) pairs: "
                      f"{dict(list(wrong_steps.items())[:10])}")
        return state

    def assert_still_serving(self, svc=None):
        svc = svc or self.svc
        try:
            status, doc = svc.get_json("/healthz")
            self.assertEqual((status, doc), (200, {"status": "ok"}))
            eid = f"alive-{random.getrandbits(64):016x}"
            status, _, doc = self.post([click(eid, "alive-user")], svc=svc)
        except CONNECTION_ERRORS as e:
            time.sleep(0.2)
            self.fail(f"the service stopped serving ({e!r}); exit status {svc.proc.poll()}; "
                      f"stderr tail:\n{svc.stderr_text()[-3000:]}")
        self.assertEqual(status, 202, doc)
        self.assertEqual((doc["accepted"], doc["duplicates"], doc["rejected"]), (1, 0, []), doc)


def make_events_workspace(experiments, extra_values=None):
    """`experiments`: [(file name, yaml text)], each on its own surface (extra surfaces s1..)."""
    ws = h.Workspace(prefix="abrec-events-")
    ws.write_config(values=extra_values or {},
                    extra_surfaces=[(f"s{i}", "legacy_rules") for i in range(1, 10)])
    for name, text in experiments:
        ws.write_experiment(name, text)
    return ws


class EventsServiceTestCase(EventsTestMixin, h.ServiceTestCase):
    experiments = ()
    config_values = None

    @classmethod
    def make_workspace(cls):
        return make_events_workspace(cls.experiments, cls.config_values)


# ---------------------------------------------------------------------------------------------
# 1. Crash safety under load
# ---------------------------------------------------------------------------------------------

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


def ts_of(ev):
    """The microseconds of an event's RFC 3339 timestamp as written by rfc3339()."""
    s = ev["timestamp"]
    secs = time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")
    return calendar.timegm(secs) * 1_000_000 + int(s[20:26])


# ---------------------------------------------------------------------------------------------
# 2. Bad input
# ---------------------------------------------------------------------------------------------

BAD_EXP = oracle_exp("exp_bad")
HALF_EXP = oracle_exp("exp_half", coverage=0.5)


class BadInputTest(EventsServiceTestCase):
    """Each malformed request or event is refused precisely; the good events of a batch are
    kept; the service keeps serving."""

    experiments = [
        ("exp_bad.yaml", h.experiment_yaml("exp_bad")),
        ("exp_half.yaml", h.experiment_yaml("exp_half", coverage=0.5, surface="s1")),
        ("exp_stopped.yaml", h.experiment_yaml("exp_stopped", phase="stopped", surface="s2")),
    ]

    def setUp(self):
        self.prefix = f"{self._testMethodName}-"

    def tearDown(self):
        self.assert_still_serving()
        # Whatever was accepted is aggregated exactly, the refused events not at all.
        self.assert_aggregates_match()

    def id_(self, n):
        return f"{self.prefix}{n}"

    def assert_stored(self, present=(), absent=()):
        stored = self.db().by_id()
        self.assertEqual([i for i in present if i not in stored], [], "expected stored")
        self.assertEqual([i for i in absent if i in stored], [], "expected not stored")

    def raw_post(self, body, content_type="application/json"):
        return self.svc.request("POST", "/v1/events", body=body,
                                headers={"Content-Type": content_type})

    def test_malformed_json_is_400_body(self):
        for body in (b'{"events": [', b'{"events": [{"event_id": "x",}]}', b"events",
                     b'{"events": [{"event_id": \'x\'}]}', b"\xff\xfe{}", b" ",
                     b'{"events": [{"event_id": "\\ud800", "type": "click", "user_id": "u"}]}',
                     b'{"events": [{"event_id": "a", "type": "click", "user_id": "\xc3\x28"}]}'):
            status, headers, data = self.raw_post(body)
            h.error_of(self, status, headers, data, 400, field="body", code="invalid_argument")
        status, headers, data = self.svc.request("POST", "/v1/events", body=b"",
                                                 headers={"Content-Type": "application/json"})
        h.error_of(self, status, headers, data, 400, field="body")

    def test_not_an_events_object_is_400(self):
        for body, field in ((b"[]", "events"), (b'{"events": {}}', "events"),
                            (b'{"event": []}', "events"), (b"null", "events"),
                            (b'{"events": [], "extra": 1}', "extra")):
            status, headers, data = self.raw_post(body)
            h.error_of(self, status, headers, data, 400, field=field)
        status, headers, data = self.raw_post(b'{"events": []}', content_type="text/plain")
        h.error_of(self, status, headers, data, 400, field="content-type")
        self.post_ok([], accepted=0)

    def test_wrong_types_are_per_event_errors(self):
        u = "typed-user"
        events = [
            click(self.id_(0), u),                                               # good
            bind(self.id_(1), u, "12.50"),                                       # premium string
            click(self.id_(2), u, position=0),                                   # position 0
            {"event_id": self.id_(3), "type": "click", "user_id": 12345},        # user_id number
            {"event_id": 7, "type": "click", "user_id": u},                      # event_id number
            {"event_id": self.id_(5), "type": 1, "user_id": u},                  # type number
            click(self.id_(6), u, timestamp=1764379680),                         # timestamp number
            click(self.id_(7), u, position="3"),                                 # position string
            click(self.id_(8), u, position=2.5),                                 # position fraction
            click(self.id_(9), u, position=1001),                                # position > 1000
            bind(self.id_(10), u, None),                                         # premium null
            {"event_id": self.id_(11), "type": "bind", "user_id": u},            # no premium
            exposure(self.id_(12), u, "exp_bad", items={"product_id": "p"}),     # items object
            exposure(self.id_(13), u, "exp_bad", features=[1, 2]),               # features list
            exposure(self.id_(14), u, "exp_bad", items=[{"product_id": "p", "position": 0}]),
            exposure(self.id_(15), u, "exp_bad",
                     items=[{"product_id": "p", "position": 1, "propensity": 0}]),
            "not an object",
            {"event_id": "", "type": "click", "user_id": u},                     # empty id
            {"event_id": "x" * 129, "type": "click", "user_id": u},              # id too long
            {"type": "click", "user_id": u},                                     # no event_id
            {"event_id": self.id_(20), "type": "click"},                         # no user_id
            click(self.id_(21), "u" * 257),                                      # user_id too long
            exposure(self.id_(22), u, None),                                     # no experiment
            click(self.id_(23), u, position=1000, product_id="prod-1"),          # good
            bind(self.id_(24), u, 99.99, position=1),                            # good
            exposure(self.id_(25), u, "exp_bad", items=items_list(3),
                     features={"age": 41}, model_version="m-1"),                 # good
        ]
        del events[22]["experiment"]
        bad = [(1, self.id_(1), "invalid_argument", "events[1].premium"),
               (2, self.id_(2), "invalid_argument", "events[2].position"),
               (3, self.id_(3), "invalid_argument", "events[3].user_id"),
               (4, None, "invalid_argument", "events[4].event_id"),
               (5, self.id_(5), "invalid_argument", "events[5].type"),
               (6, self.id_(6), "invalid_argument", "events[6].timestamp"),
               (7, self.id_(7), "invalid_argument", "events[7].position"),
               (8, self.id_(8), "invalid_argument", "events[8].position"),
               (9, self.id_(9), "invalid_argument", "events[9].position"),
               (10, self.id_(10), "invalid_argument", "events[10].premium"),
               (11, self.id_(11), "invalid_argument", "events[11].premium"),
               (12, self.id_(12), "invalid_argument", "events[12].items"),
               (13, self.id_(13), "invalid_argument", "events[13].features"),
               (14, self.id_(14), "invalid_argument", "events[14].items[0]"),
               (15, self.id_(15), "invalid_argument", "events[15].items[0].propensity"),
               (16, None, "invalid_argument", "events[16]"),
               (17, None, "invalid_argument", "events[17].event_id"),
               (18, "x" * 129, "invalid_argument", "events[18].event_id"),
               (19, None, "invalid_argument", "events[19].event_id"),
               (20, self.id_(20), "invalid_argument", "events[20].user_id"),
               (21, self.id_(21), "invalid_argument", "events[21].user_id"),
               (22, self.id_(22), "invalid_argument", "events[22].experiment")]
        self.post_ok(events, accepted=4, rejected=bad)
        self.assert_stored(present=[self.id_(i) for i in (0, 23, 24, 25)],
                           absent=[self.id_(i) for i in range(1, 23)] + ["7", "x" * 129])
        rows = self.db().by_id()
        self.assertEqual(rows[self.id_(24)][0][7], 9999)
        self.assertEqual(rows[self.id_(25)][0][14], 3)
        self.assertEqual(rows[self.id_(23)][0][5:7], ("prod-1", 1000))

    def test_huge_numbers_are_per_event_errors(self):
        u = "huge-user"
        events = [
            bind(self.id_(0), u, 1e300),
            bind(self.id_(1), u, -0.01),
            bind(self.id_(2), u, 1_000_000.01),
            bind(self.id_(3), u, 18446744073709551615),
            click(self.id_(4), u, position=18446744073709551615),
            click(self.id_(5), u, position=-9223372036854775808),
            bind(self.id_(6), u, 1_000_000),                       # the maximum premium: good
            bind(self.id_(7), u, 0),                               # zero premium: good
            bind(self.id_(8), u, 123.45),                          # good
        ]
        bad = [(i, self.id_(i), "invalid_argument", f"events[{i}].{f}")
               for i, f in ((0, "premium"), (1, "premium"), (2, "premium"), (3, "premium"),
                            (4, "position"), (5, "position"))]
        self.post_ok(events, accepted=3, rejected=bad)
        rows = self.db().by_id()
        self.assertEqual([rows[self.id_(i)][0][7] for i in (6, 7, 8)], [100_000_000, 0, 12345])
        self.assert_stored(absent=[self.id_(i) for i in range(6)])

    def test_non_finite_literals_are_invalid_json(self):
        for literal in (b"NaN", b"Infinity", b"-Infinity", b"nan", b"inf"):
            body = (b'{"events": [{"event_id": "nf", "type": "bind", "user_id": "u", '
                    b'"premium": ' + literal + b"}]}")
            status, headers, data = self.raw_post(body)
            h.error_of(self, status, headers, data, 400, field="body")
        self.assert_stored(absent=["nf"])

    def test_nesting_10000_deep_is_400(self):
        for body in (b"[" * 10000 + b"]" * 10000,
                     b'{"events": [{"event_id": "deep", "type": "exposure", "user_id": "u", '
                     b'"experiment": "exp_bad", "features": ' + b'{"a": ' * 10000 + b"1"
                     + b"}" * 10000 + b"}]}"):
            status, headers, data = self.raw_post(body)
            h.error_of(self, status, headers, data, 400, field="body")
        self.assert_stored(absent=["deep"])

    def test_body_of_10_mb_is_413(self):
        # A syntactically valid batch of about 10 MB (fewer than 10,000 events).
        pad = "p" * 1400
        events = [exposure(f"big-{i}", "big-user", "exp_bad", features={"pad": pad})
                  for i in range(7000)]
        body = body_of(events)
        self.assertGreater(len(body), 10_000_000)
        s = self.svc.raw_socket()
        try:
            s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                      + self.svc.auth_header().encode()
                      + f"Content-Length: {len(body)}\r\n\r\n".encode())

            def send_body():
                try:
                    s.sendall(body)
                except OSError:
                    pass  # the server closes once it has answered

            sender = threading.Thread(target=send_body, daemon=True)
            sender.start()
            status, headers, data = h.read_http_response(s)
            h.error_of(self, status, headers, data, 413, field="body")
            sender.join(timeout=30)
        finally:
            s.close()
        self.assert_stored(absent=["big-0", "big-6999"])

    def test_event_over_16_kib_is_a_per_event_error(self):
        def sized(eid, size):
            e = exposure(eid, "sized-user", "exp_bad", features={"pad": ""})
            e["features"]["pad"] = "z" * (size - len(canonical(e).encode()))
            self.assertEqual(len(canonical(e).encode()), size)
            return e
        events = [click(self.id_(0), "sized-user"),
                  sized(self.id_(1), MAX_EVENT_BYTES + 1),
                  sized(self.id_(2), MAX_EVENT_BYTES),
                  sized(self.id_(3), 100_000)]
        self.post_ok(events, accepted=2, rejected=[
            (1, self.id_(1), "resource_exhausted", "events[1]"),
            (3, self.id_(3), "resource_exhausted", "events[3]")])
        self.assert_stored(present=[self.id_(0), self.id_(2)], absent=[self.id_(1), self.id_(3)])

    def test_unknown_event_types(self):
        u = "type-user"
        events = [click(self.id_(0), u)] + [
            {"event_id": self.id_(i), "type": t, "user_id": u}
            for i, t in ((1, "view"), (2, "Click"), (3, "EXPOSURE"), (4, ""), (5, "click "),
                         (6, "purchase"))]
        bad = [(i, self.id_(i), "invalid_argument", f"events[{i}].type") for i in range(1, 7)]
        self.post_ok(events, accepted=1, rejected=bad)
        self.assert_stored(present=[self.id_(0)], absent=[self.id_(i) for i in range(1, 7)])

    def test_unknown_fields(self):
        u = "field-user"
        events = [
            click(self.id_(0), u, premium=10),                  # a bind field on a click
            click(self.id_(1), u, experiment="exp_bad"),        # clients send no experiment
            exposure(self.id_(2), u, "exp_bad", position=1),    # a click field on an exposure
            bind(self.id_(3), u, 10, bucket="control"),
            click(self.id_(4), u, Event_ID="x"),                # keys are case-sensitive
            exposure(self.id_(5), u, "exp_bad", variant="control"),
            bind(self.id_(6), u, 10, product_id="prod-2"),      # good
        ]
        bad = [(0, self.id_(0), "invalid_argument", "events[0].premium"),
               (1, self.id_(1), "invalid_argument", "events[1].experiment"),
               (2, self.id_(2), "invalid_argument", "events[2].position"),
               (3, self.id_(3), "invalid_argument", "events[3].bucket"),
               (4, self.id_(4), "invalid_argument", "events[4].Event_ID"),
               (5, self.id_(5), "invalid_argument", "events[5].variant")]
        self.post_ok(events, accepted=1, rejected=bad)
        self.assert_stored(present=[self.id_(6)], absent=[self.id_(i) for i in range(6)])

    def test_duplicate_ids_in_one_batch(self):
        u = "dup-user"
        a, b = self.id_("a"), self.id_("b")
        events = [click(a, u), click(b, u), click(a, u), bind(a, u, 5), click(b, u)]
        self.post_ok(events, accepted=2, rejected=[
            (2, a, "duplicate_in_batch", "events[2].event_id"),
            (3, a, "duplicate_in_batch", "events[3].event_id"),
            (4, b, "duplicate_in_batch", "events[4].event_id")])
        rows = self.db().by_id()
        self.assertEqual(rows[a][0][2], 1, "the first occurrence is the one stored")

    def test_timestamp_outside_window(self):
        u = "ts-user"
        now = now_us()
        events = [
            click(self.id_(0), u, now - (MAX_PAST_S + 3600) * 1_000_000),   # 8 days ago
            click(self.id_(1), u, now + (MAX_FUTURE_S + 600) * 1_000_000),  # 15 minutes ahead
            click(self.id_(2), u, timestamp="1970-01-01T00:00:00Z"),
            click(self.id_(3), u, timestamp="2026-13-01T00:00:00Z"),
            click(self.id_(4), u, timestamp=rfc3339(now).replace("T", " ")),
            click(self.id_(5), u, timestamp=rfc3339(now)[:-1]),              # no zone
            click(self.id_(6), u, timestamp="yesterday"),
            click(self.id_(7), u, now - (MAX_PAST_S - 3600) * 1_000_000),   # 6 days 23 h: good
            click(self.id_(8), u, now + 60 * 1_000_000),                    # 1 minute ahead: good
            click(self.id_(9), u, timestamp=rfc3339(now - 3_600_000_000)[:19] + "+02:00"),
        ]
        bad = [(i, self.id_(i), "invalid_argument", f"events[{i}].timestamp") for i in range(7)]
        self.post_ok(events, accepted=3, rejected=bad)
        rows = self.db().by_id()
        self.assertEqual(rows[self.id_(7)][0][4], now - (MAX_PAST_S - 3600) * 1_000_000)
        # "+02:00": the same wall clock reading is two hours earlier in UTC.
        self.assertEqual(rows[self.id_(9)][0][4],
                         (now - 3_600_000_000) // 1_000_000 * 1_000_000 - 7200 * 1_000_000)

    def test_exposure_unknown_experiment_or_wrong_bucket(self):
        now = now_us()
        users = [f"bucket-user-{i}" for i in range(40)]
        right = bucket_of(users[0], BAD_EXP)
        wrong = {"control": "treatment", "treatment": "control"}.get(right, "control")
        not_enrolled = next(u for u in users if bucket_of(u, HALF_EXP) == "not_enrolled")
        events = [
            exposure(self.id_(0), users[0], "no_such_experiment", now),
            exposure(self.id_(1), users[0], "exp_bad", now, bucket=wrong),
            exposure(self.id_(2), users[0], "EXP_BAD", now),                 # case-sensitive
            exposure(self.id_(3), not_enrolled, "exp_half", now),
            exposure(self.id_(4), users[0], "exp_stopped", now),
            exposure(self.id_(5), users[0], "exp_bad", now, bucket="holdout_typo"),
            exposure(self.id_(6), users[0], "exp_bad", now, bucket=right),   # good
            exposure(self.id_(7), users[1], "exp_bad", now),                 # good
        ]
        bad = [(0, self.id_(0), "not_found", "events[0].experiment"),
               (1, self.id_(1), "invalid_argument", "events[1].bucket"),
               (2, self.id_(2), "not_found", "events[2].experiment"),
               (3, self.id_(3), "invalid_argument", "events[3].experiment"),
               (4, self.id_(4), "invalid_argument", "events[4].experiment"),
               (5, self.id_(5), "invalid_argument", "events[5].bucket")]
        self.post_ok(events, accepted=2, rejected=bad)
        rows = self.db().by_id()
        self.assertEqual((rows[self.id_(6)][0][8], rows[self.id_(6)][0][9]), ("exp_bad", right))
        self.assertEqual(rows[self.id_(7)][0][9], bucket_of(users[1], BAD_EXP))
        self.assert_stored(absent=[self.id_(i) for i in range(6)])
        state = self.db()
        self.assertNotIn(("exp_half", not_enrolled), state.user_totals)
        self.assertFalse([k for k in state.bucket_totals if k[0] in ("exp_stopped", "exp_half")])

    def test_more_than_max_events_per_request_is_413(self):
        events = [click(f"many-{i}", f"many-user-{i % 50}") for i in range(MAX_EVENTS + 1)]
        status, headers, data = self.raw_post(body_of(events))
        h.error_of(self, status, headers, data, 413, field="events", code="resource_exhausted")
        self.assert_stored(absent=["many-0", f"many-{MAX_EVENTS}"])
        # Exactly the limit is one request, all accepted.
        self.post_ok(events[:MAX_EVENTS], accepted=MAX_EVENTS)
        self.assert_stored(present=["many-0", f"many-{MAX_EVENTS - 1}"],
                           absent=[f"many-{MAX_EVENTS}"])

    def test_query_parameters_are_refused(self):
        status, headers, data = self.svc.request("POST", "/v1/events?dry_run=1",
                                                 body=body_of([click("q-0", "q-user")]),
                                                 headers={"Content-Type": "application/json"})
        h.error_of(self, status, headers, data, 400, field="query")
        self.assert_stored(absent=["q-0"])


class NumberOverflowTest(EventsServiceTestCase):
    """1e309 is not a finite double: the body must be refused as invalid JSON (400), not crash
    the service. Its own service, so a crash does not take other tests with it."""

    experiments = [("exp_bad.yaml", h.experiment_yaml("exp_bad"))]

    @classmethod
    def tearDownClass(cls):
        if cls.svc.proc.poll() is not None:  # it died: the test has already reported how
            cls.svc.wait_exit()
            cls.ws.cleanup()
            return
        super().tearDownClass()

    def test_number_overflow_1e309_is_400(self):
        for number in (b"1e309", b"-1e309", b"123456789e999"):
            body = (b'{"events": [{"event_id": "ovf", "type": "bind", "user_id": "u", '
                    b'"premium": ' + number + b"}]}")
            try:
                status, headers, data = self.svc.request(
                    "POST", "/v1/events", body=body, headers={"Content-Type": "application/json"})
            except CONNECTION_ERRORS as e:
                time.sleep(0.3)
                self.fail(f"premium {number.decode()}: no answer ({e!r}); the service's exit "
                          f"status: {self.svc.proc.poll()}; stderr tail:\n"
                          f"{self.svc.stderr_text()[-1500:]}")
            h.error_of(self, status, headers, data, 400, field="body")
            self.assert_still_serving()


class QueueFullTest(EventsServiceTestCase):
    """storage.queue_capacity: 1, so a batch of two events can never be queued: 503 with
    Retry-After, nothing stored; a single event still goes through."""

    experiments = [("exp_q.yaml", h.experiment_yaml("exp_q"))]
    config_values = {"queue_capacity": 1}

    def test_queue_full_is_503_with_retry_after(self):
        status, headers, doc = self.post([click("qf-0", "qf-user"), click("qf-1", "qf-user")])
        self.assertEqual(status, 503, doc)
        self.assertIn("retry-after", headers)
        self.assertGreaterEqual(int(headers["retry-after"]), 1)
        self.assertEqual(doc["error"]["code"], "unavailable", doc)
        self.assertEqual(doc["error"]["field"], "storage", doc)
        stored = self.db().by_id()
        self.assertNotIn("qf-0", stored)
        self.assertNotIn("qf-1", stored)
        self.post_ok([click("qf-0", "qf-user")], accepted=1)
        self.assert_still_serving()


# ---------------------------------------------------------------------------------------------
# 3. Idempotency
# ---------------------------------------------------------------------------------------------

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
