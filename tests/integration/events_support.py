"""What the event tests share (test_events_*.py): the independent recomputation of the
aggregates from the raw events table, the database reader, the posting client, the event
builders and the service fixture.

The aggregates (user_totals, bucket_totals, bucket_daily, and the latest step of each user's
amount history in user_amounts) are checked against an independent recomputation, in Python,
from the raw events table: per (experiment, user) the first exposure by (ts_us, seq) gives the
bucket; clicks and binds of that user count when first_ts <= ts <= first_ts + attribution
window.
"""

import calendar
import collections
import http.client
import json
import os
import random
import socket
import sys
import time

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


def ts_of(ev):
    """The microseconds of an event's RFC 3339 timestamp as written by rfc3339()."""
    s = ev["timestamp"]
    secs = time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")
    return calendar.timegm(secs) * 1_000_000 + int(s[20:26])


# ---------------------------------------------------------------------------------------------
# 2. Bad input
# ---------------------------------------------------------------------------------------------
