#!/usr/bin/python3
"""The HTTP API of `abrec serve`: /v1/assign (GET and POST) against an independent GrowthBook
oracle, error responses, keep-alive, /v1/experiments, /healthz, /readyz and /metrics. Over 400
lines: its six cases check one set of definitions (the constants below) against one oracle."""

import json
import os
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402

# Experiments of the shared service. Written order of variants is deliberately not the
# alphabetical one, nor the order of traffic.split.
EXP_AB = {
    "key": "exp_ab", "seed": "Custom-Seed", "phase": "ab_test", "coverage": 0.8,
    "namespace": ("portal_recs", 0.0, 0.6), "surface": "portal_home",
    "variants": [("treatment", "recommender", 0.3), ("control", "legacy_rules", 0.5),
                 ("alt", "recommender", 0.2)],
}
EXP_AB_YAML = h.experiment_yaml(
    "exp_ab", phase="ab_test", coverage=0.8, seed="Custom-Seed",
    namespace=("portal_recs", 0.0, 0.6),
    variants=[("treatment", "recommender", "hybrid"), ("control", "legacy_rules", None),
              ("alt", "recommender", "alt_model")],
    split=[("control", 0.5), ("treatment", 0.3), ("alt", 0.2)])

# Shadow phase on a surface whose default policy is "none".
EXP_SHADOW = {
    "key": "exp_shadow", "phase": "shadow", "coverage": 0.9,
    "namespace": ("checkout_ns", 0.1, 0.9), "surface": "checkout",
    "variants": [("control", "legacy_rules", 0.4), ("treatment", "recommender", 0.6)],
}
EXP_SHADOW_YAML = h.experiment_yaml(
    "exp_shadow", phase="shadow", coverage=0.9, surface="checkout",
    namespace=("checkout_ns", 0.1, 0.9),
    split=[("control", 0.4), ("treatment", 0.6)])

# Rollout (coverage is ignored: the whole namespace range gets the rollout variant) and a
# stopped experiment, whose namespace range may overlap the others because it enrolls nobody.
EXP_ROLLOUT = {
    "key": "exp_rollout", "phase": "rollout", "coverage": 0.3,
    "namespace": ("portal_recs", 0.6, 0.9), "surface": "portal_home",
    "variants": [("control", "legacy_rules", 0.5), ("treatment", "recommender", 0.5)],
}
EXP_ROLLOUT_YAML = h.experiment_yaml("exp_rollout", phase="rollout", coverage=0.3,
                                     namespace=("portal_recs", 0.6, 0.9))
EXP_STOPPED = {
    "key": "exp_stopped", "phase": "stopped", "coverage": 1.0,
    "namespace": ("portal_recs", 0.0, 1.0), "surface": "portal_home",
    "variants": [("control", "legacy_rules", 0.5), ("treatment", "recommender", 0.5)],
}
EXP_STOPPED_YAML = h.experiment_yaml("exp_stopped", phase="stopped",
                                     namespace=("portal_recs", 0.0, 1.0))

# The seed document's JSON form (copied from config/experiments) and one with a 0.3 split.
SEED_SOURCE = {
    "key": "RecSys_V2_Hybrid_Renewal", "phase": "shadow", "coverage": 1.0, "namespace": None,
    "surface": "renewal_page",
    "variants": [("control", "legacy_rules", 0.5), ("treatment", "recommender", 0.5)],
}
SEED_30_JSON = json.dumps({
    "experiment_name": "Seed_Split_30",
    "description": "seed JSON form with a 0.3 split",
    "surface": "mobile_app",
    "traffic_split": 0.3,
    "variants": {"control": "Legacy_Rule_Based", "treatment": "Hybrid_LightFM"},
    "metrics": ["premium_lift", "click_rate", "bind_rate"],
}, indent=2)
SEED_30 = {
    "key": "Seed_Split_30", "phase": "shadow", "coverage": 1.0, "namespace": None,
    "surface": "mobile_app",
    "variants": [("control", "legacy_rules", 0.7), ("treatment", "recommender", 0.3)],
}

SURFACE_DEFAULTS = {"portal_home": "legacy_rules", "renewal_page": "legacy_rules",
                    "checkout": "none", "mobile_app": "recommender"}
EXTRA_SURFACES = [("checkout", "none"), ("mobile_app", "recommender")]

SPECIAL_IDS = ["José", "ユーザー42", "Zoë", "用户123", "Ελένη", "Дмитрий", "naïve café",
               "😀-astral", "a+b", "a b", "a&b=c", "100%", "x/y?z#w", "ÅÄÖ", "عربي", "हिन्दी",
               "CaseSensitive", "casesensitive"]
USER_IDS = SPECIAL_IDS + [f"user-{i}" for i in range(500 - len(SPECIAL_IDS))]

REQUIRED_FIELDS = ["user_id", "experiment", "phase", "bucket", "variant", "policy", "hashes",
                   "hash_version"]


def oracle(user_id, exp):
    out = h.oracle_assign(user_id, exp, surface_default_policy=SURFACE_DEFAULTS[exp["surface"]])
    out["surface"] = exp["surface"]
    return out


def make_api_workspace():
    ws = h.Workspace()
    ws.write_config(extra_surfaces=EXTRA_SURFACES)
    ws.write_experiment("exp_ab.yaml", EXP_AB_YAML)
    ws.write_experiment("exp_shadow.yaml", EXP_SHADOW_YAML)
    ws.write_experiment("exp_rollout.yaml", EXP_ROLLOUT_YAML)
    ws.write_experiment("exp_stopped.yaml", EXP_STOPPED_YAML)
    ws.copy_source_experiment("renewal_recs_seed.json")
    ws.write_experiment("seed_split_30.json", SEED_30_JSON)
    return ws


class ApiTestCase(h.ServiceTestCase):
    """One service for the read-only API tests of a class."""

    @classmethod
    def make_workspace(cls):
        return make_api_workspace()

    def get_all(self, key, ids):
        """GET /v1/assign for each id over one keep-alive connection."""
        conn = self.svc.connection()
        out = []
        try:
            for uid in ids:
                q = urllib.parse.urlencode({"user_id": uid, "experiment": key},
                                           quote_via=urllib.parse.quote)
                conn.request("GET", "/v1/assign?" + q)
                resp = conn.getresponse()
                body = resp.read()
                self.assertEqual(resp.status, 200, (uid, body))
                out.append(json.loads(body.decode("utf-8")))
        finally:
            conn.close()
        return out


class AssignOracleTest(ApiTestCase):

    def check_against_oracle(self, exp):
        got = self.get_all(exp["key"], USER_IDS)
        seen_rules = set()
        for uid, g in zip(USER_IDS, got):
            want = oracle(uid, exp)
            for f in REQUIRED_FIELDS + ["counterfactual_variant", "surface"]:
                self.assertIn(f, g, (uid, g))
            for k, v in want.items():
                self.assertEqual(g[k], v, f"user {uid!r}, field {k}: service {g!r}, oracle {want!r}")
            seen_rules.add(g.get("rule"))
        return got, seen_rules

    def test_assign_ab_test_matches_growthbook_oracle(self):
        got, _ = self.check_against_oracle(EXP_AB)
        buckets = {g["bucket"] for g in got}
        # The 500 ids exercise every rule: holdout, exploration, each variant, not enrolled.
        self.assertEqual(buckets, {"holdout", "exploration", "treatment", "control", "alt",
                                   "not_enrolled"})
        # Not enrolled both through the namespace and through coverage.
        outside_ns = [g for g in got if g["hashes"]["namespace"] >= 0.6]
        outside_cov = [g for g in got if g["hashes"]["namespace"] < 0.6 and
                       h.choose_variation(g["hashes"]["experiment"],
                                          h.bucket_ranges(0.8, [0.3, 0.5, 0.2])) < 0]
        self.assertTrue(outside_ns and all(g["bucket"] == "not_enrolled" for g in outside_ns))
        self.assertTrue(outside_cov and all(g["bucket"] == "not_enrolled" for g in outside_cov))

    def test_assign_holdout_and_exploration_carry_counterfactual_variant(self):
        got = self.get_all("exp_ab", USER_IDS)
        held = [g for g in got if g["bucket"] == "holdout"]
        explored = [g for g in got if g["bucket"] == "exploration"]
        self.assertTrue(held and explored)
        for g in held:
            self.assertIsNone(g["variant"], g)
            self.assertIn(g["counterfactual_variant"], {"treatment", "control", "alt"}, g)
            self.assertEqual(g["policy"], "none", g)
            self.assertLess(g["hashes"]["population"], 0.05, g)
        for g in explored:
            self.assertIsNone(g["variant"], g)
            self.assertIn(g["counterfactual_variant"], {"treatment", "control", "alt"}, g)
            self.assertEqual(g["policy"], "random", g)
            self.assertTrue(0.05 <= g["hashes"]["population"] < 0.10, g)

    def test_assign_shadow_phase_shows_control_policy(self):
        got, _ = self.check_against_oracle(EXP_SHADOW)
        treated = [g for g in got if g["bucket"] == "treatment"]
        self.assertTrue(treated)
        for g in treated:
            self.assertEqual(g["phase"], "shadow")
            self.assertEqual(g["variant"], "treatment", g)
            self.assertEqual(g["policy"], "legacy_rules", g)  # control's policy is shown
        # Not enrolled users on this surface get its default policy ("none").
        idle = [g for g in got if g["bucket"] == "not_enrolled" and
                g["hashes"]["population"] >= 0.10]
        self.assertTrue(idle)
        self.assertEqual({g["policy"] for g in idle}, {"none"})

    def test_assign_rollout_phase_ignores_coverage(self):
        got, _ = self.check_against_oracle(EXP_ROLLOUT)
        in_ns = [g for g in got if 0.6 <= g["hashes"]["namespace"] < 0.9]
        self.assertTrue(in_ns)
        self.assertEqual({g["bucket"] for g in in_ns}, {"holdout", "exploration", "treatment"})
        self.assertEqual({g["counterfactual_variant"] for g in in_ns
                          if g["bucket"] in ("holdout", "exploration")}, {"treatment"})

    def test_assign_stopped_phase_enrolls_nobody(self):
        got, _ = self.check_against_oracle(EXP_STOPPED)
        self.assertEqual({g["bucket"] for g in got}, {"not_enrolled"})
        self.assertEqual({g["counterfactual_variant"] for g in got}, {None})

    def test_assign_seed_json_experiment_matches_oracle(self):
        got, _ = self.check_against_oracle(SEED_SOURCE)
        self.assertEqual({g["hashes"]["namespace"] for g in got}, {None})
        got30, _ = self.check_against_oracle(SEED_30)
        self.assertEqual({g["bucket"] for g in got30},
                         {"holdout", "exploration", "control", "treatment"})

    def test_assign_wire_format(self):
        status, doc = self.svc.assign("José", "exp_ab")
        self.assertEqual(status, 200)
        for f in REQUIRED_FIELDS:
            self.assertIn(f, doc)
        self.assertEqual(doc["user_id"], "José")
        self.assertEqual(doc["experiment"], "exp_ab")
        self.assertEqual(doc["phase"], "ab_test")
        self.assertIs(doc["hash_version"], 2)
        self.assertEqual(sorted(doc["hashes"].keys()), ["experiment", "namespace", "population"])
        want = oracle("José", EXP_AB)
        self.assertEqual(doc["hashes"], want["hashes"])
        self.assertEqual(doc["bucket"], want["bucket"])
        status, headers, _ = self.svc.request("GET", "/v1/assign?user_id=x&experiment=exp_ab")
        self.assertEqual(headers.get("content-type"), "application/json")

    def test_assign_decodes_query_values(self):
        cases = [("a+b", "a b"), ("a%2Bb", "a+b"), ("a%26b%3Dc", "a&b=c"), ("100%25", "100%"),
                 ("Jos%C3%A9", "José"), ("%E3%83%A6%E3%83%BC%E3%82%B6%E3%83%BC42", "ユーザー42")]
        for raw, decoded in cases:
            status, doc = self.svc.get_json(f"/v1/assign?experiment=exp_ab&user_id={raw}")
            self.assertEqual(status, 200, (raw, doc))
            self.assertEqual(doc["user_id"], decoded)
            self.assertEqual(doc["hashes"], oracle(decoded, EXP_AB)["hashes"], raw)

    def test_keys_are_case_sensitive(self):
        status, _ = self.svc.assign("u1", "EXP_AB")
        self.assertEqual(status, 404)
        a = self.svc.assign("CaseSensitive", "exp_ab")[1]
        b = self.svc.assign("casesensitive", "exp_ab")[1]
        self.assertNotEqual(a["hashes"], b["hashes"])


class PostAssignTest(ApiTestCase):

    def test_post_batch_equals_get_in_order(self):
        ids = list(reversed(USER_IDS[:300]))
        status, doc = self.svc.post_json("/v1/assign", {"experiment": "exp_ab", "user_ids": ids,
                                                        "log": False})
        self.assertEqual(status, 200, doc)
        results = doc["results"]
        self.assertEqual(len(results), len(ids))
        self.assertEqual([r["user_id"] for r in results], ids)
        self.assertEqual([h.without_request(r) for r in results],
                         [h.without_request(r) for r in self.get_all("exp_ab", ids)])

    def test_post_batch_of_exactly_1000_is_accepted(self):
        ids = [f"batch-{i}" for i in range(1000)]
        status, doc = self.svc.post_json("/v1/assign", {"experiment": "exp_shadow", "user_ids": ids})
        self.assertEqual(status, 200)
        self.assertEqual(len(doc["results"]), 1000)
        for i in (0, 999):
            want = oracle(f"batch-{i}", EXP_SHADOW)
            self.assertEqual({k: doc["results"][i][k] for k in want}, want)

    def test_post_more_than_1000_ids_is_413(self):
        ids = [f"batch-{i}" for i in range(1001)]
        status, headers, body = self.svc.request("POST", "/v1/assign",
                                                 body={"experiment": "exp_ab", "user_ids": ids})
        h.error_of(self, status, headers, body, 413, field="user_ids")

    def test_post_non_string_id_is_400_with_index(self):
        status, headers, body = self.svc.request("POST", "/v1/assign",
                                                 body={"experiment": "exp_ab", "user_ids": ["a", 7, "b"]})
        h.error_of(self, status, headers, body, 400, field="user_ids[1]", code="invalid_argument")

    def test_post_invalid_utf8_id_is_400_with_index(self):
        body = b'{"experiment": "exp_ab", "user_ids": ["ok", "bad\xff"]}'
        status, headers, data = self.svc.request("POST", "/v1/assign", body=body,
                                                 headers={"Content-Type": "application/json"})
        self.assertEqual(status, 400, data)

    def test_post_unknown_field_is_400(self):
        status, headers, body = self.svc.request(
            "POST", "/v1/assign", body={"experiment": "exp_ab", "user_ids": ["a"], "userids": ["b"]})
        h.error_of(self, status, headers, body, 400, field="userids")

    def test_post_missing_experiment_is_400(self):
        status, headers, body = self.svc.request("POST", "/v1/assign", body={"user_ids": ["a"]})
        h.error_of(self, status, headers, body, 400, field="experiment")

    def test_post_unknown_experiment_is_404(self):
        status, headers, body = self.svc.request("POST", "/v1/assign",
                                                 body={"experiment": "nope", "user_ids": ["a"]})
        h.error_of(self, status, headers, body, 404, field="experiment")

    def test_post_brackets_inside_strings_do_not_count_as_nesting(self):
        uid = "[" * 200 + "{" * 20
        status, doc = self.svc.post_json("/v1/assign", {"experiment": "exp_ab", "user_ids": [uid]})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["results"][0]["hashes"], oracle(uid, EXP_AB)["hashes"])


class ErrorResponseTest(ApiTestCase):

    def get(self, path):
        return self.svc.request("GET", path)

    def test_missing_user_id(self):
        h.error_of(self, *self.get("/v1/assign?experiment=exp_ab"), 400, field="user_id",
                   code="invalid_argument")

    def test_empty_user_id(self):
        h.error_of(self, *self.get("/v1/assign?user_id=&experiment=exp_ab"), 400, field="user_id")

    def test_unknown_experiment(self):
        err = h.error_of(self, *self.get("/v1/assign?user_id=a&experiment=no_such_exp"), 404,
                         field="experiment", code="not_found")
        self.assertIn("no_such_exp", err["message"])

    def test_malformed_query_string(self):
        h.error_of(self, *self.get("/v1/assign?user_id=%ZZ&experiment=exp_ab"), 400,
                   field="user_id")

    def test_unknown_query_parameter_suggests_user_id(self):
        err = h.error_of(self, *self.get("/v1/assign?usr_id=a&experiment=exp_ab"), 400,
                         field="usr_id")
        self.assertIn('did you mean "user_id"', err["message"])

    def test_user_id_not_utf8(self):
        err = h.error_of(self, *self.get("/v1/assign?user_id=%FF&experiment=exp_ab"), 400,
                         field="user_id")
        self.assertIn("UTF-8", err["message"])

    def test_user_id_too_long(self):
        h.error_of(self, *self.get("/v1/assign?experiment=exp_ab&user_id=" + "u" * 257), 400,
                   field="user_id")
        status, _, _ = self.get("/v1/assign?experiment=exp_ab&user_id=" + "u" * 256)
        self.assertEqual(status, 200)

    def test_bad_log_flag(self):
        h.error_of(self, *self.get("/v1/assign?user_id=a&experiment=exp_ab&log=maybe"), 400,
                   field="log")

    def test_bad_json_body(self):
        h.error_of(self, *self.svc.request("POST", "/v1/assign", body=b'{"experiment": "exp_ab",',
                                           headers={"Content-Type": "application/json"}),
                   400, field="body")

    def test_wrong_method_is_405_with_allow(self):
        status, headers, body = self.svc.request("DELETE", "/v1/assign")
        h.error_of(self, status, headers, body, 405)
        self.assertEqual(headers.get("allow"), "GET, POST")
        status, headers, body = self.svc.request("POST", "/v1/experiments")
        h.error_of(self, status, headers, body, 405)
        self.assertEqual(headers.get("allow"), "GET")

    def test_unknown_path_is_404_json(self):
        err = h.error_of(self, *self.get("/v1/no/such/endpoint"), 404, code="not_found")
        self.assertIn("/v1/no/such/endpoint", err["message"])

    def test_unknown_experiment_definition_is_404(self):
        h.error_of(self, *self.get("/v1/experiments/no_such_exp"), 404, field="experiment")


class KeepAliveTest(ApiTestCase):

    def test_requests_share_one_connection(self):
        conn = self.svc.connection()
        try:
            paths = ["/healthz", "/v1/assign?user_id=a&experiment=exp_ab", "/v1/experiments",
                     "/v1/assign?user_id=b&experiment=exp_shadow", "/v1/no/such", "/readyz"]
            first_sock = None
            local = None
            for p in paths:
                conn.request("GET", p)
                resp = conn.getresponse()
                resp.read()
                self.assertIn(resp.status, (200, 404), p)
                self.assertNotEqual((resp.getheader("Connection") or "").lower(), "close", p)
                self.assertIsNotNone(conn.sock, p)
                if first_sock is None:
                    first_sock, local = conn.sock, conn.sock.getsockname()
                self.assertIs(conn.sock, first_sock, p)
                self.assertEqual(conn.sock.getsockname(), local, p)
        finally:
            conn.close()

    def test_pipelined_requests_answered_in_order(self):
        s = self.svc.raw_socket()
        try:
            req = b"".join(
                f"GET /v1/assign?user_id={u}&experiment=exp_ab HTTP/1.1\r\nHost: t\r\n"
                f"{self.svc.auth_header()}\r\n".encode()
                for u in ("p1", "p2", "p3"))
            s.sendall(req)
            reader = h.RawReader(s)
            for u in ("p1", "p2", "p3"):
                status, _, body = reader.response()
                self.assertEqual(status, 200)
                self.assertEqual(json.loads(body)["user_id"], u)
        finally:
            s.close()


class ExperimentsEndpointTest(ApiTestCase):

    def test_list_experiments_with_phase(self):
        status, doc = self.svc.get_json("/v1/experiments")
        self.assertEqual(status, 200)
        listed = {e["key"]: e["phase"] for e in doc["experiments"]}
        self.assertEqual(listed, {"exp_ab": "ab_test", "exp_shadow": "shadow",
                                  "exp_rollout": "rollout", "exp_stopped": "stopped",
                                  "RecSys_V2_Hybrid_Renewal": "shadow", "Seed_Split_30": "shadow"})
        self.assertEqual([e["key"] for e in doc["experiments"]], sorted(listed))
        self.assertEqual(doc["errors"], [])

    def test_definition_keeps_written_variant_order(self):
        status, doc = self.svc.get_json("/v1/experiments/exp_ab")
        self.assertEqual(status, 200)
        self.assertEqual(doc["key"], "exp_ab")
        self.assertEqual(doc["phase"], "ab_test")
        self.assertEqual(doc["seed"], "Custom-Seed")
        self.assertEqual([v["name"] for v in doc["variants"]], ["treatment", "control", "alt"])
        self.assertEqual([v["policy"] for v in doc["variants"]],
                         ["recommender", "legacy_rules", "recommender"])
        self.assertEqual(doc["traffic"]["coverage"], 0.8)
        self.assertEqual(doc["traffic"]["split"], {"treatment": 0.3, "control": 0.5, "alt": 0.2})
        self.assertEqual(list(doc["traffic"]["split"].keys()), ["treatment", "control", "alt"])
        self.assertEqual(doc["namespace"], {"name": "portal_recs", "range": [0.0, 0.6]})
        self.assertEqual([tuple(v["bucket_range"]) for v in doc["variants"]],
                         h.bucket_ranges(0.8, [0.3, 0.5, 0.2]))

    def test_seed_json_source_file_mapping(self):
        status, doc = self.svc.get_json("/v1/experiments/RecSys_V2_Hybrid_Renewal")
        self.assertEqual(status, 200)
        self.assertEqual(doc["phase"], "shadow")
        self.assertEqual(doc["surface"], "renewal_page")
        self.assertEqual(doc["traffic"], {"coverage": 1.0, "split": {"control": 0.5, "treatment": 0.5}})
        self.assertEqual([(v["name"], v["policy"], v["model"]) for v in doc["variants"]],
                         [("control", "legacy_rules", None), ("treatment", "recommender", "hybrid")])
        self.assertEqual(doc["metrics"]["primary"], "click_rate")
        self.assertEqual(doc["metrics"]["secondary"], ["bind_rate", "premium_per_user"])

    def test_seed_json_split_mapping(self):
        status, doc = self.svc.get_json("/v1/experiments/Seed_Split_30")
        self.assertEqual(status, 200)
        self.assertEqual(doc["phase"], "shadow")
        self.assertEqual(doc["traffic"]["split"], {"control": 0.7, "treatment": 0.3})
        self.assertEqual(doc["metrics"]["primary"], "premium_per_user")
        self.assertEqual(doc["metrics"]["secondary"], ["click_rate", "bind_rate"])
        self.assertEqual([(v["name"], v["policy"], v["model"]) for v in doc["variants"]],
                         [("control", "legacy_rules", None), ("treatment", "recommender", "hybrid")])

    def test_healthz_and_readyz(self):
        status, doc = self.svc.get_json("/healthz")
        self.assertEqual((status, doc), (200, {"status": "ok"}))
        status, doc = self.svc.get_json("/readyz")
        self.assertEqual(status, 200)
        self.assertEqual(doc["status"], "ready")
        self.assertEqual(doc["experiments"], 6)
        self.assertEqual(doc["errors"], [])


class MetricsTest(unittest.TestCase):
    """Each test has its own service, so the counters start at zero."""

    def setUp(self):
        self.ws = make_api_workspace()
        self.svc = h.Service(self.ws.config_path)
        try:
            self.svc.start()
        except BaseException:
            self.svc.kill()
            self.ws.cleanup()
            raise

    def tearDown(self):
        try:
            self.assertEqual(self.svc.stop(), 0, self.svc.stderr_text())
        finally:
            self.svc.kill()
            self.ws.cleanup()

    def metrics(self):
        status, headers, body = self.svc.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain"), headers)
        return h.parse_prometheus(body.decode("utf-8"))

    def test_metrics_count_requests_and_assignments(self):
        get_ids = [f"m-{i}" for i in range(60)]
        post_ids = [f"n-{i}" for i in range(40)] + ["José"]
        conn = self.svc.connection()
        for uid in get_ids:
            conn.request("GET", "/v1/assign?" + urllib.parse.urlencode(
                {"user_id": uid, "experiment": "exp_ab"}))
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
        conn.close()
        status, _ = self.svc.post_json("/v1/assign", {"experiment": "exp_ab", "user_ids": post_ids})
        self.assertEqual(status, 200)
        self.assertEqual(self.svc.assign("x", "missing_exp")[0], 404)

        m = self.metrics()
        route = "/v1/assign"
        self.assertEqual(m[("abrec_http_requests_total", h.labels(route=route, code="200"))], 61)
        self.assertEqual(m[("abrec_http_requests_total", h.labels(route=route, code="404"))], 1)
        self.assertEqual(m[("abrec_http_request_duration_seconds_count", h.labels(route=route))], 62)
        self.assertEqual(
            m[("abrec_http_request_duration_seconds_bucket", h.labels(route=route, le="+Inf"))], 62)
        self.assertIn(("abrec_http_request_duration_seconds_sum", h.labels(route=route)), m)
        buckets = sorted(
            ((float(dict(lb)["le"]), v) for (name, lb), v in m.items()
             if name == "abrec_http_request_duration_seconds_bucket" and dict(lb)["route"] == route
             and dict(lb)["le"] != "+Inf"))
        self.assertGreaterEqual(len(buckets), 5)
        counts = [v for _, v in buckets]
        self.assertEqual(counts, sorted(counts), "histogram buckets must be cumulative")

        expected = {}
        for uid in get_ids + post_ids:
            b = oracle(uid, EXP_AB)["bucket"]
            expected[b] = expected.get(b, 0) + 1
        got = {dict(lb)["bucket"]: v for (name, lb), v in m.items()
               if name == "abrec_assignments_total" and dict(lb)["experiment"] == "exp_ab"}
        self.assertEqual(got, expected)
        self.assertFalse([k for k in m if k[0] == "abrec_assignments_total" and
                          dict(k[1])["experiment"] != "exp_ab"])

    def test_rejected_batch_counts_no_assignments(self):
        # The batch is refused as a whole (400): none of its users was served an assignment.
        status, headers, body = self.svc.request(
            "POST", "/v1/assign",
            body={"experiment": "exp_shadow", "user_ids": ["first", "second", 3]})
        h.error_of(self, status, headers, body, 400, field="user_ids[2]")
        m = self.metrics()
        counted = {k: v for k, v in m.items() if k[0] == "abrec_assignments_total"}
        self.assertEqual(counted, {}, "a rejected request must not count assignments")
        self.assertEqual(
            m[("abrec_http_requests_total", h.labels(route="/v1/assign", code="400"))], 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
