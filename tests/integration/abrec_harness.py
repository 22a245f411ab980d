"""Shared helpers for the integration tests: they run the real `abrec` binary. Over 400
lines on purpose: the one module every integration test imports (workspaces, the service's
start and stop, HTTP with keys, the GrowthBook oracle), so that a test imports one thing.

Environment (set by CTest, see CMakeLists.txt):
  ABREC_BIN         the abrec executable
  ABREC_SOURCE_DIR  the project's source folder (for config/abrec.yaml and config/experiments)

Each service runs in its own temporary folder: a copy of config/abrec.yaml adjusted so that
every path it writes (audit log, accepted versions, database, admin token) lies inside that
folder, the experiments folder is one the test fills, the reload interval is short and the
read timeout small enough for slow-client tests. The port is 0, and the chosen port is read
from the "listening on http://127.0.0.1:PORT" line of the service's stderr.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

ABREC_BIN = os.environ.get("ABREC_BIN", "")
SOURCE_DIR = os.environ.get(
    "ABREC_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

if not ABREC_BIN:
    ABREC_BIN = os.path.join(SOURCE_DIR, "build", "abrec")

# Generous: the tests also run against sanitizer builds, which are several times slower.
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
HTTP_TIMEOUT_S = 15.0

READ_TIMEOUT_MS = 1000
RELOAD_INTERVAL_MS = 200
SHUTDOWN_GRACE_MS = 200

LISTENING_RE = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


# ---------------------------------------------------------------------------------------------
# The assignment oracle: GrowthBook's published hash, written independently of the service.
# ---------------------------------------------------------------------------------------------

def fnv1a32(text):
    """fnv1a32 over the string's Unicode code points (as the DESIGN specifies)."""
    h = 2166136261
    for ch in text:
        h ^= ord(ch)
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def hash_v2(seed, user_id):
    return (fnv1a32(str(fnv1a32(seed + user_id))) % 10000) / 10000


def hash_v1(seed, user_id):
    return (fnv1a32(user_id + seed) % 1000) / 1000


def bucket_ranges(coverage, weights):
    """GrowthBook's getBucketRanges for valid weights: ranges in the order given."""
    coverage = min(max(coverage, 0.0), 1.0)
    out = []
    cumulative = 0.0
    for w in weights:
        start = cumulative
        cumulative += w
        out.append((start, start + coverage * w))
    return out


def choose_variation(n, ranges):
    for i, (lo, hi) in enumerate(ranges):
        if lo <= n < hi:
            return i
    return -1


def oracle_assign(user_id, exp, platform_salt="abrec", holdout=0.05, exploration=0.05,
                  surface_default_policy="legacy_rules"):
    """What GET /v1/assign must answer. `exp` is a dict:
    {key, seed?, phase, coverage, namespace: (name, start, end) | None, rollout_variant?,
     variants: [(name, policy, weight), ...] in the written order}."""
    pop = hash_v2(platform_salt + ":population", user_id)
    seed = exp.get("seed") or exp["key"]
    n = hash_v2(seed, user_id)
    ns = exp.get("namespace")
    ns_hash = None
    in_ns = True
    if ns is not None:
        ns_hash = hash_v1("__" + ns[0], user_id)
        in_ns = ns[1] <= ns_hash < ns[2]
    names = [v[0] for v in exp["variants"]]
    policies = {v[0]: v[1] for v in exp["variants"]}
    ranges = bucket_ranges(exp["coverage"], [v[2] for v in exp["variants"]])
    if exp["phase"] == "stopped":
        idx = -1  # nobody is enrolled
    elif exp["phase"] == "rollout":
        # Everyone in the namespace gets the rollout variant, whatever the coverage.
        idx = names.index(exp.get("rollout_variant", "treatment")) if in_ns else -1
    else:
        idx = choose_variation(n, ranges) if in_ns else -1
    assigned = names[idx] if idx >= 0 else None
    out = {
        "user_id": user_id,
        "experiment": exp["key"],
        "phase": exp["phase"],
        "hashes": {"population": pop, "namespace": ns_hash, "experiment": n},
        "hash_version": 2,
    }
    if assigned is not None and pop < holdout:
        out.update(bucket="holdout", variant=None, counterfactual_variant=assigned, policy="none",
                   population="holdout")
    elif assigned is not None and pop < holdout + exploration:
        out.update(bucket="exploration", variant=None, counterfactual_variant=assigned,
                   policy="random", population="exploration")
    elif assigned is not None:
        shown = "control" if exp["phase"] == "shadow" else assigned
        out.update(bucket=assigned, variant=assigned, counterfactual_variant=None,
                   policy=policies[shown], population="experiment")
    else:
        population = ("holdout" if pop < holdout else
                      "exploration" if pop < holdout + exploration else "experiment")
        policy = {"holdout": "none", "exploration": "random"}.get(population,
                                                                   surface_default_policy)
        out.update(bucket="not_enrolled", variant=None, counterfactual_variant=None,
                   policy=policy, population=population)
    return out


# ---------------------------------------------------------------------------------------------
# Config and experiment files
# ---------------------------------------------------------------------------------------------

def read_source_config():
    with open(os.path.join(SOURCE_DIR, "config", "abrec.yaml"), encoding="utf-8") as f:
        return f.read()


def set_config_value(text, key, value):
    """Replaces the value of `key:` (block or flow style; the key must occur exactly once)."""
    pattern = re.compile(r"(?<![\w.])(" + re.escape(key) + r":[ \t]*)([^,}\n#]*?)([ \t]*(?=[,}\n#]))")
    matches = pattern.findall(text)
    if len(matches) != 1:
        raise AssertionError(f"config/abrec.yaml: expected exactly one '{key}:', found {len(matches)}")
    return pattern.sub(lambda m: m.group(1) + str(value) + m.group(3), text, count=1)


def insert_after_key(text, key, line):
    """Inserts `line` after the (block-style) line of `key:`, with the same indentation."""
    m = re.search(r"^([ \t]*)" + re.escape(key) + r":.*$", text, re.M)
    if not m:
        raise AssertionError(f"config/abrec.yaml: no block-style '{key}:' line")
    return text[:m.end()] + "\n" + m.group(1) + line + text[m.end():]


class Workspace:
    """A temporary folder with a platform config and an experiments folder."""

    def __init__(self, prefix="abrec-it-"):
        self.root = tempfile.mkdtemp(prefix=prefix)
        self.experiments_dir = os.path.join(self.root, "experiments")
        os.makedirs(self.experiments_dir)
        self.var_dir = os.path.join(self.root, "var")
        self.config_path = os.path.join(self.root, "abrec.yaml")
        self.audit_log = os.path.join(self.var_dir, "audit.log")
        self.db_path = os.path.join(self.var_dir, "abrec.db")  # storage.path, see config_text
        self.write_config()

    def config_text(self, values=None, extra_assignment_lines=(), extra_surfaces=()):
        text = read_source_config()
        settings = {
            "dir": "experiments",
            "reload_interval_ms": RELOAD_INTERVAL_MS,
            "audit_log": "var/audit.log",
            "accepted_dir": "var/experiments-accepted",
            "path": "var/abrec.db",
            "token_file": "var/admin.token",
            "keys_file": "var/api-keys.json",
            "model_dir": "var/models",
            "catalog": os.path.join(SOURCE_DIR, "config", "catalog.yaml"),
            "ranking": os.path.join(SOURCE_DIR, "config", "ranking.yaml"),
            "gate": os.path.join(SOURCE_DIR, "config", "gate.yaml"),
            "cache_path": "var/candidates.db",
            "poll_interval_ms": RELOAD_INTERVAL_MS,
            "read_timeout_ms": READ_TIMEOUT_MS,
            "shutdown_grace_ms": SHUTDOWN_GRACE_MS,
            # Alerts and the dashboards' index as of the latest commit: tests read them
            # right after posting.
            "alerts_max_age_ms": 0,
            "port": 0,
        }
        settings.update(values or {})
        for k, v in settings.items():
            text = set_config_value(text, k, v)
        for line in extra_assignment_lines:
            text = insert_after_key(text, "exploration", line)
        for name, policy in extra_surfaces:
            text = insert_after_key(text, "renewal_page", f"{name}: {{default_policy: {policy}}}")
        if "../" in re.sub(r"#.*", "", text):
            raise AssertionError("the adjusted config still points outside the workspace:\n" + text)
        return text

    def write_config(self, values=None, extra_assignment_lines=(), extra_surfaces=()):
        write_atomic(self.config_path,
                     self.config_text(values, extra_assignment_lines, extra_surfaces))

    def experiment_path(self, name):
        return os.path.join(self.experiments_dir, name)

    def write_experiment(self, name, text):
        path = self.experiment_path(name)
        write_atomic(path, text)
        return path

    def remove_experiment(self, name):
        os.remove(self.experiment_path(name))

    def copy_source_experiment(self, name):
        shutil.copyfile(os.path.join(SOURCE_DIR, "config", "experiments", name),
                        self.experiment_path(name))
        return self.experiment_path(name)

    def audit_entries(self):
        if not os.path.exists(self.audit_log):
            return []
        with open(self.audit_log, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


def write_atomic(path, text):
    """Writes a file (str, or bytes as they are) the way editors and the admin API do: a hidden temp file, then rename."""
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, "." + name + ".tmp")
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def experiment_yaml(key, *, phase="ab_test", coverage=1.0, split=None, variants=None,
                    namespace=None, surface="portal_home", seed=None, allow_reshuffle=None,
                    primary="bind_rate"):
    """A native-form experiment. `variants`: [(name, policy, model|None)] in the written order;
    `split`: [(name, weight)] in the written order; `namespace`: (name, start, end)."""
    variants = variants or [("control", "legacy_rules", None), ("treatment", "recommender", "hybrid")]
    split = split or [("control", 0.5), ("treatment", 0.5)]
    lines = [f"experiment: {key}", f"description: integration test experiment {key}"]
    if surface:
        lines.append(f"surface: {surface}")
    lines.append("owner: integration-tests@example.com")
    lines.append(f"phase: {phase}")
    if seed is not None:
        lines.append(f"seed: {json.dumps(seed)}")
    if allow_reshuffle is not None:
        lines.append(f"allow_reshuffle: {json.dumps(allow_reshuffle)}")
    lines.append("traffic:")
    lines.append(f"  coverage: {coverage!r}")
    lines.append("  split: {" + ", ".join(f"{n}: {w!r}" for n, w in split) + "}")
    if namespace:
        lines.append(f"namespace: {{name: {namespace[0]}, range: [{namespace[1]!r}, {namespace[2]!r}]}}")
    lines.append("variants:")
    for name, policy, model in variants:
        body = f"policy: {policy}" + (f", model: {model}" if model else "")
        lines.append(f"  {name}: {{{body}}}")
    lines.append("metrics:")
    lines.append(f"  primary: {primary}")
    lines.append("  secondary: [click_rate]")
    lines.append("  guardrails:")
    lines.append("    - {metric: latency_p99_ms, max: 200}")
    lines.append("analysis: {alpha: 0.05, sequential: true, tuning_n: 5000, mde: 0.05}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# The service
# ---------------------------------------------------------------------------------------------

_HARNESS_KEYS = {}
_KEY_BY_PORT = {}
_LAST_KEY = [None]


def last_key():
    """The harness key of the service started last."""
    return _LAST_KEY[0]


def key_for_port(port):
    """The harness key of the service listening on `port` (for clients given only a port)."""
    return _KEY_BY_PORT[port]


def harness_key(config_path):
    """An API key with every scope for the service of `config_path` (created once per config
    with `abrec keys create`), which the request helpers send unless told otherwise."""
    if config_path not in _HARNESS_KEYS:
        out = subprocess.run(
            [ABREC_BIN, "keys", "create", "--config", config_path, "--scope", "serve,read,admin",
             "--name", f"it-harness-{len(_HARNESS_KEYS)}", "--format", "json"],
            capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            # An invalid config (a test of the service refusing it): no key to make.
            return None
        _HARNESS_KEYS[config_path] = json.loads(out.stdout)["key"]
    return _HARNESS_KEYS[config_path]


def create_key(config_path, scope, name):
    """A new API key (the key string) with `scope` ("serve", "read,admin", ...)."""
    out = subprocess.run([ABREC_BIN, "keys", "create", "--config", config_path, "--scope", scope,
                          "--name", name, "--format", "json"],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError(f"abrec keys create failed: {out.stderr}")
    return json.loads(out.stdout)["key"]


class KeyedConnection(http.client.HTTPConnection):
    """HTTPConnection that adds `Authorization: Bearer KEY` to requests without one."""

    def __init__(self, *args, key=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.key = key

    def request(self, method, url, body=None, headers=None, **kwargs):
        headers = dict(headers or {})
        if self.key and not any(k.lower() == "authorization" for k in headers):
            headers["Authorization"] = f"Bearer {self.key}"
        return super().request(method, url, body=body, headers=headers, **kwargs)


class KeyProxy:
    """A forwarding proxy on 127.0.0.1 that adds `Authorization: Bearer KEY` to each request:
    what an API gateway holding the key does, for a client that sends none (the shared
    contract checker). Use as a context manager; `url` is its address."""

    def __init__(self, port, key):
        import http.server

        target, bearer = port, f"Bearer {key}"

        class Handler(http.server.BaseHTTPRequestHandler):
            def forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection", "authorization")}
                headers["Authorization"] = bearer
                conn = http.client.HTTPConnection("127.0.0.1", target, timeout=HTTP_TIMEOUT_S)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = forward

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class Service:
    """`abrec serve --config FILE --port 0`, with its stderr collected by a thread. Its
    request helpers send a harness key with every scope (harness_key) unless auth=False."""

    def __init__(self, config_path, extra_args=()):
        self.config_path = config_path
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.key = None
        self.lines = []
        self._cv = threading.Condition()
        self._reader = None
        self._stderr_closed = False

    def start(self, expect_listening=True):
        self.key = harness_key(self.config_path)
        self.proc = subprocess.Popen(
            [ABREC_BIN, "serve", "--config", self.config_path, "--port", "0"] + self.extra_args,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        if expect_listening:
            self.port = self.wait_for_listening()
            _KEY_BY_PORT[self.port] = self.key
            _LAST_KEY[0] = self.key
        return self

    def _read_stderr(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cv:
                self.lines.append(line)
                self._cv.notify_all()
        with self._cv:
            self._stderr_closed = True
            self._cv.notify_all()

    def stderr_text(self):
        with self._cv:
            return "\n".join(self.lines)

    def wait_for_line(self, regex, timeout=START_TIMEOUT_S):
        pattern = re.compile(regex)
        deadline = time.monotonic() + timeout
        with self._cv:
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    m = pattern.search(line)
                    if m:
                        return m
                seen = len(self.lines)
                if self._stderr_closed:
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cv.wait(left)

    def wait_for_listening(self):
        m = self.wait_for_line(LISTENING_RE.pattern)
        if m is None:
            status = self.proc.poll()
            raise AssertionError(
                f"abrec serve did not report 'listening on' within {START_TIMEOUT_S} s "
                f"(exit status {status}); stderr:\n{self.stderr_text()}")
        return int(m.group(1))

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=STOP_TIMEOUT_S):
        try:
            status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"abrec serve did not exit within {timeout} s; stderr:\n"
                                 f"{self.stderr_text()}")
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        return status

    def stop(self, sig=signal.SIGTERM):
        """Stops the service with `sig` and returns its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    # --- HTTP -------------------------------------------------------------------------------

    def connection(self, timeout=HTTP_TIMEOUT_S, auth=True):
        """A keep-alive connection whose requests carry the harness key (unless auth=False
        or the request sets its own Authorization)."""
        return KeyedConnection("127.0.0.1", self.port, timeout=timeout,
                               key=self.key if auth else None)

    def auth_header(self):
        """The harness key's header line, for raw-socket requests."""
        return f"Authorization: Bearer {self.key}\r\n"

    def request(self, method, path, body=None, headers=None, auth=True):
        """One request on a fresh connection: (status, headers dict lower-cased, body bytes).
        Sends the harness key unless `auth` is False or `headers` has an Authorization."""
        conn = self.connection(auth=False)
        try:
            headers = dict(headers or {})
            if auth and not any(k.lower() == "authorization" for k in headers):
                headers["Authorization"] = f"Bearer {self.key}"
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode("utf-8")
                headers.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def get_json(self, path):
        status, headers, data = self.request("GET", path)
        return status, json.loads(data.decode("utf-8")) if data else None

    def post_json(self, path, payload):
        status, headers, data = self.request("POST", path, body=payload)
        return status, json.loads(data.decode("utf-8")) if data else None

    def assign(self, user_id, experiment):
        query = urllib.parse.urlencode({"user_id": user_id, "experiment": experiment})
        return self.get_json("/v1/assign?" + query)

    def raw_socket(self, timeout=HTTP_TIMEOUT_S):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return s


def without_request(doc):
    """An assignment answer without what differs per request (its request id and whether
    its exposure was logged), for comparing answers of separate requests."""
    return {k: v for k, v in doc.items() if k not in ("request_id", "logged")}


class ServiceTestCase(unittest.TestCase):
    """One service per test class, over the workspace the subclass's make_workspace() builds;
    stopping it must end with exit status 0."""

    @classmethod
    def make_workspace(cls):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.ws = cls.make_workspace()
        cls.svc = Service(cls.ws.config_path)
        try:
            cls.svc.start()
        except BaseException:
            cls.svc.kill()
            cls.ws.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            status = cls.svc.stop()
            if status != 0:
                raise AssertionError(f"abrec serve exited with status {status}; stderr:\n"
                                     f"{cls.svc.stderr_text()}")
        finally:
            cls.svc.kill()
            cls.ws.cleanup()


class RawReader:
    """Reads HTTP/1.1 responses (with Content-Length) from a raw socket, keeping whatever
    arrives after one response for the next one (pipelining)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self, what):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before {what}; received {self.buf[:200]!r}")
        self.buf += chunk

    def response(self, timeout=HTTP_TIMEOUT_S):
        self.sock.settimeout(timeout)
        while b"\r\n\r\n" not in self.buf:
            self._fill("a full response header")
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            self._fill("the end of a response body")
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body


def read_http_response(sock, timeout=HTTP_TIMEOUT_S):
    """One response from a raw socket: (status, headers dict lower-cased, body bytes)."""
    return RawReader(sock).response(timeout)


def wait_closed(sock, timeout):
    """Reads until the peer closes the connection (EOF or reset); returns the bytes read.
    Raises socket.timeout (TimeoutError) when it stays open longer than `timeout`."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def wait_until(predicate, timeout=15.0, interval=0.1, message="condition"):
    """Polls `predicate` until it returns a truthy value; returns that value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}; last value: {last!r}")


def open_db_readonly(path, timeout=30.0):
    """The service's SQLite database, read-only (WAL lets it be read while the service
    writes). Autocommit mode: run "BEGIN" for one consistent snapshot over several reads."""
    return sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True,
                           timeout=timeout, isolation_level=None)


def run_cli(args, timeout=60, cwd=None):
    """Runs `abrec ARGS...`; returns CompletedProcess with bytes stdout and stderr."""
    return subprocess.run([ABREC_BIN] + list(args), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, cwd=cwd)


# ---------------------------------------------------------------------------------------------
# Response checks
# ---------------------------------------------------------------------------------------------

PROM_LINE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
PROM_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text):
    """Prometheus text format -> {(name, ((label, value), ...)): float}. Raises on a line that
    is neither a comment nor a sample."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = PROM_LINE_RE.match(line)
        if not m:
            raise AssertionError(f"not a Prometheus sample line: {line!r}")
        labels = tuple(sorted(PROM_LABEL_RE.findall(m.group(3) or "")))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples


def labels(**kw):
    return tuple(sorted(kw.items()))


def error_of(testcase, status, headers, body, expected_status, field=None, code=None):
    """Asserts a JSON error response {"error": {"code", "message", "field"}} and returns it."""
    testcase.assertEqual(status, expected_status, body)
    testcase.assertTrue(headers.get("content-type", "").startswith("application/json"), headers)
    doc = json.loads(body.decode("utf-8"))
    testcase.assertEqual(list(doc.keys()), ["error"], doc)
    err = doc["error"]
    testcase.assertEqual(sorted(err.keys()), ["code", "field", "message"], err)
    testcase.assertIsInstance(err["message"], str)
    testcase.assertTrue(err["message"], err)
    if field is not None:
        testcase.assertEqual(err["field"], field, err)
    if code is not None:
        testcase.assertEqual(err["code"], code, err)
    return err
