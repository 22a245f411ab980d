"""The HTTP part of the golden workload (tests/golden/golden.py): one `abrec serve` over a
fresh workspace with the shipped experiment and the golden run's trained model, and the answers
of assign (single and batch), recommend, events (with duplicates, a conflict and a late
exposure older than the user's first), covariates, erasure, the audit record, the report,
the dashboards, alerts and the experiment definitions.

What differs per run is left out or normalised by golden.py: request ids (32 hex digits),
measured latencies, times. The random lists of the exploration bucket come from a
clock-seeded generator (platform_recommend.cc), so those users are assigned but not sent to
recommend (the report's off-policy section then has the exposures of assign alone). Events carry no timestamp (the
service's clock: after the exposures they follow) except the late exposure, dated an hour
before the run.
"""
import datetime
import json
import os
import shutil
import sys
import urllib.parse

EXPERIMENT = "recsys_v2_hybrid"
USERS = [f"golden-{i:04d}" for i in range(400)]
ADULT = {"age": 41, "sex": "F", "region": "coast", "occupation": "employed",
         "holdings": ["auto_third_party"]}


def _harness(root, abrec):
    os.environ["ABREC_BIN"] = abrec
    os.environ["ABREC_SOURCE_DIR"] = root
    sys.path.insert(0, os.path.join(root, "tests", "integration"))
    import abrec_harness  # noqa: E402  (needs the environment above)
    return abrec_harness


def _dump(status, doc):
    return f"{status}\n{json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False)}\n"


def _request_json(svc, method, path, body=None):
    status, _, data = svc.request(method, path, body=body)
    try:
        return status, json.loads(data.decode("utf-8")) if data else None
    except ValueError:
        return status, data.decode("utf-8", "replace")


def run(root, abrec, model_dir, answers):
    """Fills `answers` (name -> text) with the HTTP answers; `model_dir` is a trained model."""
    h = _harness(root, abrec)
    ws = h.Workspace(prefix="abrec-golden-http-")
    svc = None
    try:
        ws.copy_source_experiment(EXPERIMENT + ".yaml")
        dest = os.path.join(ws.var_dir, "models", "hybrid", "v1")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copytree(model_dir, dest)
        svc = h.Service(ws.config_path).start()
        hour_ago = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1))
        hour_ago = hour_ago.strftime("%Y-%m-%dT%H:%M:%SZ")
        out = []

        # Assign: single (logged) for the first 40, one batch for the rest.
        for u in USERS[:40]:
            q = urllib.parse.urlencode({"user_id": u, "experiment": EXPERIMENT})
            out.append(_dump(*_request_json(svc, "GET", "/v1/assign?" + q)))
        out.append(_dump(*_request_json(svc, "POST", "/v1/assign",
                                        {"experiment": EXPERIMENT, "user_ids": USERS[40:],
                                         "log": True})))
        answers["http_assign.txt"] = "".join(out)

        # Recommend (logs an exposure with the list) for 60 users, POST and GET forms.
        out, request_ids = [], {}
        exploration = {u for u in USERS if h.oracle_assign(
            u, {"key": EXPERIMENT, "phase": "ab_test", "coverage": 1.0,
                "variants": [("control", "", 0.5), ("treatment", "", 0.5)]})["bucket"] ==
                "exploration"}
        for i, u in enumerate(u for u in USERS[:70] if u not in exploration):
            if i % 2 == 0:
                status, doc = _request_json(svc, "POST", "/v1/recommend",
                                            {"user_id": u, "surface": "portal_home",
                                             "attributes": ADULT, "k": 5})
            else:
                status, doc = _request_json(svc, "GET", f"/v1/recommend/{u}?surface=portal_home")
            if isinstance(doc, dict):
                request_ids[u] = doc.get("request_id")
                doc.pop("latency_us", None)
            out.append(_dump(status, doc))
        answers["http_recommend.txt"] = "".join(out)

        # Events: clicks and binds by a fixed pattern, a duplicate batch, a conflict, a late
        # exposure, bad input; then covariates.
        events = []
        for i, u in enumerate(USERS):
            if i % 3 == 0:
                events.append({"event_id": f"click-{u}", "type": "click", "user_id": u,
                               "product_id": "home_contents", "position": 1 + i % 5,
                               "request_id": request_ids.get(u)})
            if i % 7 == 0:
                events.append({"event_id": f"bind-{u}", "type": "bind", "user_id": u,
                               "product_id": "home_contents", "premium": 120 + (i * 37) % 900})
        for ev in events:
            if ev.get("request_id") is None:
                ev.pop("request_id", None)
        out = []
        for start in range(0, len(events), 100):
            out.append(_dump(*_request_json(svc, "POST", "/v1/events",
                                            {"events": events[start:start + 100]})))
        out.append(_dump(*_request_json(svc, "POST", "/v1/events", {"events": events[:50]})))
        changed = dict(events[0], position=5)
        out.append(_dump(*_request_json(svc, "POST", "/v1/events", {"events": [changed]})))
        late = {"event_id": "late-exposure-1", "type": "exposure", "user_id": USERS[3],
                "timestamp": hour_ago}
        out.append(_dump(*_request_json(svc, "POST", "/v1/events", {"events": [late]})))
        out.append(_dump(*_request_json(svc, "POST", "/v1/events",
                                        {"events": [{"event_id": "x", "type": "purchase",
                                                     "user_id": "u"}]})))
        covariates = [{"user_id": u, "premium_before": (i * 53) % 1200,
                       "products_held": i % 4} for i, u in enumerate(USERS)]
        out.append(_dump(*_request_json(svc, "POST", "/v1/covariates",
                                        {"covariates": covariates})))
        answers["http_events.txt"] = "".join(out)

        # Erasure of one user, then the audit record of an erased and a kept request.
        served = [u for u in USERS if u in request_ids]
        out = [_dump(*_request_json(svc, "DELETE", "/v1/users/" + served[1]))]
        for u in served[1:3]:
            rid = request_ids.get(u)
            status, doc = _request_json(svc, "GET", f"/v1/audit/{rid}")
            if isinstance(doc, dict):
                doc.pop("latency_us", None)
            out.append(_dump(status, doc))
        answers["http_erasure.txt"] = "".join(out)

        # Reading: the report, definitions, alerts, dashboards.
        answers["http_report.json"] = _dump(*_request_json(
            svc, "GET", f"/v1/experiments/{EXPERIMENT}/report"))
        answers["http_experiments.json"] = (
            _dump(*_request_json(svc, "GET", "/v1/experiments")) +
            _dump(*_request_json(svc, "GET", f"/v1/experiments/{EXPERIMENT}")))
        answers["http_alerts.json"] = _dump(*_request_json(svc, "GET", "/v1/alerts"))
        for name, path in (("http_dashboard_index.html", "/dashboards/"),
                           ("http_dashboard.html", f"/dashboards/{EXPERIMENT}")):
            status, _, data = svc.request("GET", path)
            answers[name] = f"{status}\n" + data.decode("utf-8", "replace")
        status = svc.stop()
        answers["http_stop.txt"] = f"exit {status}\n"
    finally:
        if svc is not None:
            svc.kill()
        ws.cleanup()
    return ws.root
