#!/usr/bin/python3
"""Writes the seed corpora of fuzz/corpus/TARGET from the tests' inputs (the configs of
config/, the bodies of tests/integration/test_events_*.py, the queries of
tests/server/query_string_test.cc, the raw requests of tests/integration/test_http_limits.py,
the portfolio rows of tests/recommender/). Run from anywhere; rewrites the seed_* files only,
so inputs added from fuzzing runs (other names) stay."""

import json
import os
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
# The fuzzing platform's clock (fuzz/fuzz_platform.h): 2026-12-01T00:00:00Z.
TS = "2026-11-30T23:59:00.000000Z"


def write(target, name, data):
    d = HERE / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    (d / f"seed_{name}").write_bytes(data)


def events_seeds():
    items = [{"product_id": f"prod-{k}", "position": k + 1, "propensity": 0.5} for k in range(3)]
    bodies = {
        "exposure": [{"event_id": "e1", "type": "exposure", "user_id": "user-1",
                      "experiment": "exp", "timestamp": TS, "items": items,
                      "model_version": "synthetic-v1", "features": {"age": 34}}],
        "click_bind": [
            {"event_id": "c1", "type": "click", "user_id": "user-1", "request_id": "r1",
             "product_id": "motor", "position": 1, "timestamp": TS},
            {"event_id": "b1", "type": "bind", "user_id": "user-1", "product_id": "motor",
             "position": 1, "premium": 1234.56}],
        "invalid": [
            {"event_id": "x1", "type": "purchase", "user_id": "u"},
            {"event_id": "x2", "type": "bind", "user_id": "u", "premium": -1},
            {"event_id": "x3", "type": "exposure", "user_id": "u", "experiment": "exp",
             "bucket": "nope"},
            {"event_id": "x4", "type": "click", "user_id": "u", "timestamp": "yesterday"},
            {"event_id": "x5", "type": "exposure", "user_id": "u", "experiment": "exp",
             "items": [{"product_id": 7, "position": 0, "propensity": 2}]},
            7, None, "s"],
        "empty": [],
    }
    for name, events in bodies.items():
        write("event_reader", name, json.dumps({"events": events}))
    write("event_reader", "not_a_batch", '{"events": {"a": 1}, "extra": [[[[1]]]]}')
    write("event_reader", "utf8", '{"events": [{"event_id": "\u00e9\\ud83d\\ude00", '
          '"type": "click", "user_id": "Jos\u00e9"}]}')


def experiment_seeds():
    for p in sorted((ROOT / "config" / "experiments").iterdir()):
        write("experiment_reader", p.name, p.read_bytes())
    write("experiment_reader", "abrec.yaml", (ROOT / "config" / "abrec.yaml").read_bytes())
    write("experiment_reader", "minimal.yaml", """experiment: exp
surface: portal_home
phase: ab_test
traffic: {coverage: 1.0, split: {control: 0.5, treatment: 0.5}}
variants:
  control: {policy: legacy_rules}
  treatment: {policy: recommender}
metrics: {primary: bind_rate}
""")
    write("experiment_reader", "bad.yaml", "experiment: [a, b\nsurface: &x 1\nphase: *x\n")


def portfolio_seeds():
    csv = ("customer_id,age,sex,region,occupation,holdings\n"
           "c-0001,34,F,harare,teacher,motor;funeral\r\nc-0002,,M,bulawayo,,\n\n")
    # Two invented rows (SYN ids, made-up branch and occupation codes, three product columns)
    # in the wide layout the Zimnat reader takes: nothing from ../shared/data.
    wide = ("ID,join_date,sex,marital_status,birth_year,branch_code,occupation_code,"
              "occupation_category_code,P5DA,RIBP,K6QO\n"
              "SYN0001,1/8/2019,F,M,1983,BR01,OC01,OCAT1,0,1,1\r\n"
              "SYN0002,1/8/2017,M,M,1986,BR02,OC02,OCAT2,1,0,1\r\n")
    row86 = "\t".join(str(i % 10 if i <= 43 else 5 if i <= 64 else 2 if i == 65 else
                          1 if i == 86 else 0) for i in range(1, 87))
    row85 = row86.rsplit("\t", 1)[0]
    # The first byte picks the reader (fuzz/portfolio_fuzz.cc): 0 csv, 1 zimnat, 2 CoIL with
    # CARAVAN, 3 without; +4 reads against a model's product list.
    write("portfolio", "csv", b"\x00" + csv.encode())
    write("portfolio", "csv_model", b"\x04" + csv.encode())
    write("portfolio", "wide_synthetic", b"\x01" + wide.encode())
    write("portfolio", "wide_synthetic_model", b"\x05" + wide.encode())
    write("portfolio", "coil_train", b"\x02" + (row86 + "\r\n" + row86 + "\n").encode())
    write("portfolio", "coil_eval", b"\x03" + (row85 + "\n").encode())


def query_seeds():
    for i, q in enumerate(["user_id=Jos%C3%A9+Z&experiment=a%2Fb&log=false", "",
                           "&&user_id=x&", "user_id", "user_id=%ZZ", "user_id=abc%4",
                           "usr_id=1", "user_id=a&user_id=b", "surface=portal_home&k=5"]):
        write("query_string", str(i), q)


def http_seeds():
    reqs = {
        "get_assign": b"GET /v1/assign?user_id=user-1&experiment=exp&log=false HTTP/1.1\r\n"
                      b"Host: t\r\n\r\n",
        "post_assign": None,
        "post_events_chunked": None,
        "pipelined": b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\nHEAD /readyz HTTP/1.1\r\n"
                     b"Host: t\r\n\r\nGET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        "absolute_form": b"GET http://t:8080/v1/experiments/exp?x=1 HTTP/1.1\r\nHost: t\r\n\r\n",
        "cl_and_te": b"POST /v1/assign HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "http10": b"GET /v1/assign?user_id=old&experiment=exp HTTP/1.0\r\n\r\n",
        "garbage": b"HELLO\x01 WORLD\r\n\r\n",
        "recommend": b"GET /v1/recommend/user-1?surface=portal_home&k=3 HTTP/1.1\r\nHost: t\r\n\r\n",
        "admin": b"POST /v1/experiments/exp/phase HTTP/1.1\r\nHost: t\r\n"
                 b"Authorization: Bearer 0123\r\nContent-Length: 20\r\n\r\n{\"phase\": \"stopped\"}",
        "dashboards": b"GET /dashboards/exp HTTP/1.1\r\nHost: t\r\n\r\n",
        "report": b"GET /v1/experiments/exp/report HTTP/1.1\r\nHost: t\r\n\r\n",
    }
    body = json.dumps({"experiment": "exp", "user_ids": ["a", "b", "c"]}).encode()
    reqs["post_assign"] = (b"POST /v1/assign HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                           b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    ev = json.dumps({"events": [{"event_id": "h1", "type": "exposure", "user_id": "user-1",
                                 "experiment": "exp", "timestamp": TS}]}).encode()
    half = len(ev) // 2
    reqs["post_events_chunked"] = (
        b"POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % half + ev[:half] + b"\r\n" +
        b"%x;ext=1\r\n" % (len(ev) - half) + ev[half:] + b"\r\n0\r\nX-Trailer: t\r\n\r\n")
    rec = json.dumps({"user_id": "user-2", "k": 3, "attributes": {"age": 40, "sex": "F"}}).encode()
    reqs["post_recommend"] = (b"POST /v1/recommend HTTP/1.1\r\nHost: t\r\nContent-Type: "
                              b"application/json\r\nContent-Length: %d\r\n\r\n" % len(rec) + rec)
    for name, data in reqs.items():
        write("http_request", name, data)


if __name__ == "__main__":
    events_seeds()
    experiment_seeds()
    portfolio_seeds()
    query_seeds()
    http_seeds()
