#!/usr/bin/python3
"""POST /v1/events with hostile and invalid input: every field checked with a 4xx naming it,
numbers past their range, the body and per-event limits, a full queue answering 503.
"""

import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402

from events_support import (  # noqa: E402
    CONNECTION_ERRORS,
    EventsServiceTestCase,
    MAX_EVENTS,
    MAX_EVENT_BYTES,
    MAX_FUTURE_S,
    MAX_PAST_S,
    bind,
    body_of,
    bucket_of,
    canonical,
    click,
    exposure,
    items_list,
    now_us,
    oracle_exp,
    rfc3339,
)


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


if __name__ == "__main__":
    unittest.main(verbosity=2)
