#!/usr/bin/python3
"""The Redis candidate cache (recommender.cache: redis) through the real service, against a
redis-server the test starts on a free loopback port: `abrec precompute` fills it, GET
/v1/recommend/{user_id} is served from it, and when Redis is killed in the middle of a stream
of requests none fails: they are served with candidates computed on the fly ("fallback":
"cache_down", counted in /metrics); once Redis is back, the cache is used again."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402
from test_recommend import ADULT, install_model, metric  # noqa: E402

REDIS_SERVER = "/usr/bin/redis-server"
RECS = {"key": "recs", "phase": "ab_test", "coverage": 1.0, "namespace": None,
        "surface": "portal_home",
        "variants": [("control", "legacy_rules", 0.5), ("treatment", "recommender", 0.5)]}
PRECOMPUTED = 300  # customers cust-000000 ... cust-000299


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """redis-server in the foreground on `port`, without persistence."""

    def __init__(self, port):
        self.port = port
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def accepts():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        h.wait_until(accepts, timeout=10, interval=0.05, message="redis-server accepts")

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


def treatment(user):
    return h.oracle_assign(user, RECS)["bucket"] == "treatment"


@unittest.skipUnless(os.path.exists(REDIS_SERVER), f"{REDIS_SERVER} is not installed")
class RedisCacheTest(unittest.TestCase):
    def setUp(self):
        self.redis = RedisServer(free_port())
        self.redis.start()
        self.addCleanup(self.redis.kill)
        self.ws = h.Workspace()
        self.addCleanup(self.ws.cleanup)
        # A timeout well above loopback latency, so that a slow (sanitizer) build is not
        # mistaken for a Redis that is down.
        self.ws.write_config({"cache": "redis",
                              "redis_address": f"127.0.0.1:{self.redis.port}",
                              "redis_timeout_ms": 200})
        self.ws.write_experiment("recs.yaml", h.experiment_yaml("recs"))
        install_model(self.ws)

    def precompute(self):
        r = h.run_cli(["precompute", "--config", self.ws.config_path,
                       "--customers", str(PRECOMPUTED)])
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn(f"precomputed {PRECOMPUTED} customers".encode(), r.stdout)
        self.assertIn(b"into the redis cache", r.stdout)

    def test_served_from_redis_and_without_it(self):
        self.precompute()
        svc = h.Service(self.ws.config_path)
        svc.start()
        self.addCleanup(svc.kill)
        known = [f"cust-{i:06d}" for i in range(PRECOMPUTED)]
        known_treatment = [u for u in known if treatment(u)]
        self.assertGreater(len(known_treatment), 30)

        # Cache hits for the treatment users, whose lists the recommender computes.
        for user in known_treatment[:30]:
            status, doc = svc.get_json(f"/v1/recommend/{user}?k=2")
            self.assertEqual(status, 200, doc)
            self.assertEqual((doc["candidates"], doc["fallback"]), ("cache", None), user)
        status, doc = svc.get_json("/v1/recommend/never-precomputed")
        self.assertEqual((status, doc["error"]["field"]), (404, "user_id"))
        down_before = metric(svc, "abrec_recommend_fallbacks_total", reason="cache_down")
        self.assertEqual(down_before, 0)

        # A stream of requests from two threads; Redis is killed in the middle of it.
        stop = threading.Event()
        killed = threading.Event()
        failures = []
        answers_while_down = []
        lock = threading.Lock()

        def client(worker):
            i = 0
            while not stop.is_set():
                user = known_treatment[(i * 2 + worker) % len(known_treatment)]
                i += 1
                try:
                    down = killed.is_set()
                    if i % 2:
                        status, doc = svc.post_json(
                            "/v1/recommend", {"user_id": user, "attributes": ADULT, "k": 3})
                        kind = "post"
                    else:
                        status, doc = svc.get_json(f"/v1/recommend/{user}?k=3")
                        kind = "get"
                except Exception as e:  # noqa: BLE001 - any failure is the finding
                    with lock:
                        failures.append((user, repr(e)))
                    continue
                with lock:
                    if status != 200 or not doc.get("items"):
                        failures.append((kind, user, status, doc))
                    elif down:
                        answers_while_down.append((kind, doc))

        threads = [threading.Thread(target=client, args=(w,)) for w in range(2)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        self.redis.kill()
        killed.set()
        time.sleep(2.5)  # more than the reconnect interval (1 s): the retries happen too
        stop.set()
        for t in threads:
            t.join(timeout=30)
        self.assertEqual(failures, [])
        self.assertGreater(len(answers_while_down), 20)
        # While Redis is down: POSTs carry the attributes, GETs of known users get a
        # cold-start list; both say why the cache was not used.
        for kind, doc in answers_while_down:
            self.assertEqual(doc["candidates"], "computed", (kind, doc))
            self.assertEqual(doc["fallback"], "cache_down", (kind, doc))
            self.assertEqual(doc["model_version"], "v1", (kind, doc))
        self.assertEqual({kind for kind, _ in answers_while_down}, {"get", "post"})
        down_after = metric(svc, "abrec_recommend_fallbacks_total", reason="cache_down")
        self.assertGreaterEqual(down_after, len(answers_while_down))

        # Redis back (empty: no persistence), refilled: the cache is used again.
        self.redis.start()
        self.precompute()

        def cache_hit():
            status, doc = svc.get_json(f"/v1/recommend/{known_treatment[0]}")
            return status == 200 and doc["candidates"] == "cache"
        h.wait_until(cache_hit, timeout=10, message="served from Redis again")
        self.assertEqual(svc.stop(), 0, svc.stderr_text())
        self.assertIn("is unreachable", svc.stderr_text())
        self.assertIn("is reachable again", svc.stderr_text())


if __name__ == "__main__":
    unittest.main()
