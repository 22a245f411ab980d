"""Soak test of `abrec serve` (issue 14): mixed traffic for a long time, with config reloads and
a SIGKILL + restart every few minutes; RSS over time, latency per route over time, and a check
that no acknowledged event was lost or doubled. Standard library only. Over 400 lines on
purpose: one run's traffic, reloads, kills and final audit share its state (what was
acknowledged, when each process lived); split, they would pass it through files.

  python3 bench/soak.py [BUILD_DIR]          (default: build/ of this checkout; `make soak`)

1. A temporary workspace made as bench/lib.sh's abrec_workspace makes one (the shipped
   config/abrec.yaml, every written file under WS/var), except that the experiments folder is
   a copy (WS/experiments), since the soak rewrites a file in it. An API key of every scope
   (`abrec keys create`), a small synthetic model (`abrec train --format synthetic
   --customers 2000 --out WS/var/models/hybrid/v1`) and its candidates (`abrec precompute`).
2. `abrec serve --port 0`; the port is read from "listening on http://127.0.0.1:PORT".
3. For SOAK_SECONDS, SOAK_THREADS clients (keep-alive connections, paced to SOAK_RATE
   requests/s in all) send a mix: GET /v1/assign (logs an exposure), POST /v1/assign (log
   false), POST /v1/recommend with attributes, POST /v1/events (exposures with catalog product
   ids, clicks, binds with premium; unique event ids), GET report, GET /dashboards/ and
   /dashboards/KEY, GET /metrics. An event batch that gets no answer (the service was killed)
   or a 503 is sent again, same ids, once the service is back: the service is idempotent by
   event_id, so a retry of an already committed event comes back as a duplicate. Every id of
   a 202 that is not in `rejected` (accepted or duplicate) is "acknowledged".
4. Every SOAK_RELOAD_EVERY s the description of one experiment file is rewritten (write, then
   rename) and GET /v1/experiments/KEY is polled until it shows the new text (hot reload).
5. Every SOAK_KILL_EVERY s: SIGKILL, then the service is started again on the same
   workspace; the time from the kill to GET /healthz answering is the restart time, which must
   stay under SOAK_RESTART_LIMIT s.
6. VmRSS of the service (/proc/PID/status) every 5 s; least-squares slope in MB/hour per
   process lifetime and pooled over lifetimes (one slope, an intercept per lifetime).
7. At the end SIGTERM (the store commits what is queued), then the database is opened
   read-only: every acknowledged event id must be there exactly once, every id sent at most
   once, and every exposure the service said it logged (`"logged": true`) must be there under
   its request id.

Writes SOAK_OUT (default bench/soak/): summary.md (also printed), soak.svg (p99 per route per
SOAK_BUCKET_S and RSS over time, kills marked), latency.csv, rss.csv. Exit status 1 when an
acknowledged event is missing or doubled, an id is stored twice, a logged exposure is missing,
or a restart failed or took longer than the limit.

Environment: SOAK_SECONDS (1800), SOAK_KILL_EVERY (180), SOAK_RELOAD_EVERY (30), SOAK_THREADS
(4), SOAK_RATE (80 requests/s in all), SOAK_MAX_BATCH (100 events per POST /v1/events),
SOAK_BUCKET_S (60), SOAK_RESTART_LIMIT (30), SOAK_OUT, SOAK_KEEP (keep the workspace).
"""
import collections
import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def env_float(name, default):
    return float(os.environ.get(name, default))


SECONDS = env_float("SOAK_SECONDS", 1800)
KILL_EVERY = env_float("SOAK_KILL_EVERY", 180)
RELOAD_EVERY = env_float("SOAK_RELOAD_EVERY", 30)
THREADS = int(env_float("SOAK_THREADS", 4))
RATE = env_float("SOAK_RATE", 80)
MAX_BATCH = int(env_float("SOAK_MAX_BATCH", 100))
BUCKET_S = env_float("SOAK_BUCKET_S", 60)
RESTART_LIMIT = env_float("SOAK_RESTART_LIMIT", 30)
RSS_EVERY = 5.0
OUT = os.path.abspath(os.environ.get("SOAK_OUT", os.path.join(HERE, "soak")))
HTTP_TIMEOUT = 30.0
LISTENING_RE = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")
EXPERIMENT = "recsys_v2_hybrid"   # on portal_home; the file the reloads rewrite
MODEL_CUSTOMERS = 2000
PRECOMPUTED = 20000               # `abrec precompute` caches cust-000000..cust-019999

T0 = time.monotonic()


def now():
    return time.monotonic() - T0


def log(msg):
    print(f"[{now():7.1f}s] {msg}", flush=True)


def die(msg):
    print(f"soak: {msg}", file=sys.stderr, flush=True)
    sys.exit(2)


# --- the workspace ---------------------------------------------------------------------------

def make_workspace(build, ws):
    """bench/lib.sh's abrec_workspace, with the experiments copied into WS/experiments."""
    os.makedirs(os.path.join(ws, "var"))
    shutil.copytree(os.path.join(ROOT, "config", "experiments"), os.path.join(ws, "experiments"))
    text = open(os.path.join(ROOT, "config", "abrec.yaml")).read()
    text, n1 = re.subn(r"(?m)^(  dir:) *experiments\b", rf"\1 {ws}/experiments", text)
    text, n2 = re.subn(r"(?m)^(  catalog:) *catalog.yaml\b", rf"\1 {ROOT}/config/catalog.yaml", text)
    text, n3 = re.subn(r"(?m)^(  ranking:) *ranking.yaml\b", rf"\1 {ROOT}/config/ranking.yaml", text)
    text, n4 = re.subn(r"(?m)^(  gate:) *gate.yaml\b", rf"\1 {ROOT}/config/gate.yaml", text)
    text = text.replace("../var/", f"{ws}/var/")
    if min(n1, n2, n3, n4) != 1 or "../" in text:
        die("config/abrec.yaml has changed shape: cannot redirect its paths into the workspace")
    config = os.path.join(ws, "abrec.yaml")
    open(config, "w").write(text)
    db = re.search(r"(?m)^  path: *(\S+)", text).group(1)
    abrec = os.path.join(build, "abrec")
    key = subprocess.run([abrec, "keys", "create", "--config", config, "--scope",
                          "serve,read,admin", "--name", "soak"], check=True,
                         capture_output=True, text=True).stdout.strip()
    log(f"training a synthetic model ({MODEL_CUSTOMERS} customers) and precomputing candidates")
    subprocess.run([abrec, "train", "--format", "synthetic", "--customers", str(MODEL_CUSTOMERS),
                    "--out", os.path.join(ws, "var", "models", "hybrid", "v1")], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([abrec, "precompute", "--config", config], check=True,
                   stdout=subprocess.DEVNULL)
    return config, db, key


def catalog_products():
    text = open(os.path.join(ROOT, "config", "catalog.yaml")).read()
    products = [(m.group(1), float(m.group(2))) for m in
                re.finditer(r"\{id: *([a-z_0-9]+),.*?annual_premium: *([0-9.]+)", text)]
    if len(products) < 5:
        die("cannot read the products of config/catalog.yaml")
    return products


# --- the service -----------------------------------------------------------------------------

class Service:
    """The running `abrec serve`: started, SIGKILLed and started again on one workspace."""

    def __init__(self, build, ws, config, key):
        self.abrec = os.path.join(build, "abrec")
        self.ws, self.config, self.key = ws, config, key
        self.proc = None
        self.port = None
        self.generation = 0
        self.up = threading.Event()
        self.lifetimes = []   # [start_t, end_t or None, pid, how it ended]

    def start(self):
        self.generation += 1
        logpath = os.path.join(self.ws, f"abrec-{self.generation}.log")
        logf = open(logpath, "w")
        self.proc = subprocess.Popen([self.abrec, "serve", "--config", self.config, "--port", "0"],
                                     stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        deadline = time.monotonic() + RESTART_LIMIT * 4
        port = None
        while time.monotonic() < deadline:
            m = LISTENING_RE.search(open(logpath, errors="replace").read())
            if m:
                port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                return f"abrec serve exited with {self.proc.returncode} (see {logpath})"
            time.sleep(0.05)
        if port is None:
            return "abrec serve did not report 'listening on'"
        while time.monotonic() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        else:
            return "GET /healthz did not answer 200"
        self.port = port
        self.lifetimes.append([now(), None, self.proc.pid, None])
        self.up.set()
        return None

    def kill(self, sig):
        self.up.clear()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "did not exit within 60 s of SIGTERM"
        self.lifetimes[-1][1] = now()
        self.lifetimes[-1][3] = "SIGKILL" if sig == signal.SIGKILL else f"exit {self.proc.returncode}"
        return None


# --- measurements ----------------------------------------------------------------------------

samples = []            # (t, route, ms, status): every answered request
conn_errors = collections.Counter()   # route -> requests with no answer (refused, reset)
rss = []                # (t, pid, rss_kb)
kills = []              # dict per kill
reloads = []            # dict per rewrite
acked = set()           # event ids acknowledged (202, not rejected)
sent = set()            # every event id sent
logged_requests = collections.Counter()   # request_id -> answers saying an exposure was logged
rejections = collections.Counter()        # error code/message prefix -> count
events_retried = [0]
duplicates_answered = [0]   # events a 202 called duplicates (a retry of a committed batch)
events_in_flight = [0]      # event batches sent and not yet answered
lock = threading.Lock()
stop = threading.Event()


class Client:
    def __init__(self, svc):
        self.svc = svc
        self.conn = None
        self.port = None
        self.auth = {"Authorization": f"Bearer {svc.key}"}

    def request(self, route, method, path, body=None):
        """(status, parsed body or None); status None when no answer came."""
        deadline = time.monotonic() + RESTART_LIMIT * 4
        while not self.svc.up.wait(timeout=0.5):
            if stop.is_set() or time.monotonic() > deadline:
                return None, None
        if self.conn is None or self.port != self.svc.port:
            if self.conn is not None:
                self.conn.close()
            self.port = self.svc.port
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
        headers = dict(self.auth)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        start = time.monotonic()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            with lock:
                conn_errors[route] += 1
            return None, None
        ms = (time.monotonic() - start) * 1000
        samples.append((start - T0, route, ms, resp.status))
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        doc = None
        if resp.getheader("Content-Type", "").startswith("application/json"):
            try:
                doc = json.loads(raw)
            except ValueError:
                pass
        return resp.status, doc


def worker(idx, svc, products, users, experiments, run_id):
    rng = random.Random(idx * 7919 + 1)
    cl = Client(svc)
    seq = 0
    interval = THREADS / RATE
    next_at = time.monotonic()
    ops = [("get_assign", 22), ("post_assign", 5), ("recommend", 20), ("events", 28),
           ("report", 5), ("dash_index", 4), ("dash_key", 4), ("metrics", 6),
           ("recommend_get", 6)]
    names = [o for o, _ in ops]
    weights = [w for _, w in ops]
    product_ids = [p for p, _ in products]
    premiums = dict(products)
    while not stop.is_set():
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1:
            next_at = time.monotonic()   # behind: no burst to catch up
        op = rng.choices(names, weights)[0]
        user = rng.choice(users)
        exp = rng.choice(experiments)
        if op == "get_assign":
            status, doc = cl.request("GET /v1/assign", "GET",
                                     f"/v1/assign?user_id={user}&experiment={EXPERIMENT}")
            if status == 200 and doc and doc.get("logged"):
                with lock:
                    logged_requests[doc["request_id"]] += 1
        elif op == "post_assign":
            ids = rng.sample(users, 20)
            cl.request("POST /v1/assign", "POST", "/v1/assign",
                       {"experiment": exp, "user_ids": ids, "log": False})
        elif op == "recommend":
            attrs = {"age": rng.randint(18, 80), "sex": rng.choice("FM"),
                     "region": rng.choice(["north", "south", "east", "west", "central", "coast"]),
                     "occupation": rng.choice(["student", "employed", "self_employed", "retired"]),
                     "holdings": rng.sample(product_ids, rng.randint(0, 2))}
            surface = rng.choice(["portal_home", "renewal_page"])
            status, doc = cl.request("POST /v1/recommend", "POST", "/v1/recommend",
                                     {"user_id": user, "surface": surface, "attributes": attrs,
                                      "k": 5})
            if status == 200 and doc and doc.get("logged"):
                with lock:
                    logged_requests[doc["request_id"]] += 1
        elif op == "recommend_get":
            cust = f"cust-{rng.randrange(PRECOMPUTED):06d}"
            status, doc = cl.request("GET /v1/recommend/{id}", "GET", f"/v1/recommend/{cust}?k=5")
            if status == 200 and doc and doc.get("logged"):
                with lock:
                    logged_requests[doc["request_id"]] += 1
        elif op == "events":
            n = rng.randint(1, MAX_BATCH)
            events = []
            for _ in range(n):
                seq += 1
                eid = f"soak-{run_id}-{idx}-{seq}"
                u = rng.choice(users)
                r = rng.random()
                if r < 0.3:
                    shown = rng.sample(product_ids, 3)
                    events.append({"event_id": eid, "type": "exposure", "user_id": u,
                                   "experiment": EXPERIMENT,
                                   "items": [{"product_id": p, "position": i + 1}
                                             for i, p in enumerate(shown)]})
                elif r < 0.9:
                    events.append({"event_id": eid, "type": "click", "user_id": u,
                                   "product_id": rng.choice(product_ids),
                                   "position": rng.randint(1, 5)})
                else:
                    p = rng.choice(product_ids)
                    events.append({"event_id": eid, "type": "bind", "user_id": u,
                                   "product_id": p, "premium": premiums[p]})
            with lock:
                sent.update(e["event_id"] for e in events)
            post_events(cl, events)
        elif op == "report":
            cl.request("GET /v1/experiments/{key}/report", "GET",
                       f"/v1/experiments/{exp}/report")
        elif op == "dash_index":
            cl.request("GET /dashboards/", "GET", "/dashboards/")
        elif op == "dash_key":
            cl.request("GET /dashboards/{key}", "GET", f"/dashboards/{exp}")
        elif op == "metrics":
            cl.request("GET /metrics", "GET", "/metrics")


def post_events(cl, events):
    """Posts a batch until it is answered 202 (same ids each time), or gives up after 10 tries
    (then its ids stay unacknowledged: they may or may not be stored, never twice)."""
    for attempt in range(10):
        if attempt:
            events_retried[0] += 1
        with lock:
            events_in_flight[0] += 1
        try:
            status, doc = cl.request("POST /v1/events", "POST", "/v1/events", {"events": events})
        finally:
            with lock:
                events_in_flight[0] -= 1
        if status == 202 and doc is not None:
            duplicates_answered[0] += int(doc.get("duplicates", 0))
            rejected = {r["index"] for r in doc.get("rejected", [])}
            with lock:
                for r in doc.get("rejected", []):
                    rejections[r.get("error", {}).get("code", "?") if isinstance(r.get("error"), dict)
                               else str(r.get("error"))[:60]] += 1
                acked.update(e["event_id"] for i, e in enumerate(events) if i not in rejected)
            return
        if status is not None and status < 500:
            with lock:
                rejections[f"batch answered {status}"] += 1
            return
        if stop.is_set() and attempt >= 3:
            return
        time.sleep(0.2 * (attempt + 1))


def rss_sampler(svc):
    while not stop.is_set():
        proc = svc.proc
        if proc is not None and svc.up.is_set():
            try:
                with open(f"/proc/{proc.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            rss.append((now(), proc.pid, int(line.split()[1])))
                            break
            except OSError:
                pass
        stop.wait(RSS_EVERY)


def reloader(svc, ws):
    path = os.path.join(ws, "experiments", f"{EXPERIMENT}.yaml")
    cl = Client(svc)
    n = 0
    while not stop.wait(RELOAD_EVERY):
        n += 1
        text = open(path).read()
        desc = f"Hybrid recommender against the legacy rules (soak reload {n})"
        new = re.sub(r"(?m)^description:.*$", f"description: {desc}", text, count=1)
        tmp = os.path.join(ws, "experiments", f".{EXPERIMENT}.tmp")
        with open(tmp, "w") as f:
            f.write(new)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
        t = now()
        seen = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not stop.is_set():
            status, doc = cl.request("GET /v1/experiments/{key}", "GET",
                                     f"/v1/experiments/{EXPERIMENT}")
            if status == 200 and doc and desc in json.dumps(doc):
                seen = now() - t
                break
            time.sleep(0.2)
        reloads.append({"t": t, "n": n, "seen_after_s": seen})


def killer(svc, failures):
    while not stop.wait(KILL_EVERY):
        # Kill while an event batch is in flight when one is within 2 s: the case where an
        # answer is lost and the client must retry.
        deadline = time.monotonic() + 2
        while events_in_flight[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        in_flight = events_in_flight[0]
        pid = svc.proc.pid
        last_rss = next((r[2] for r in reversed(rss) if r[1] == pid), None)
        t = now()
        svc.kill(signal.SIGKILL)
        err = svc.start()
        restart = now() - t
        kills.append({"t": t, "pid": pid, "rss_kb": last_rss, "restart_s": restart,
                      "in_flight": in_flight,
                      "error": err, "new_pid": svc.proc.pid})
        if err:
            failures.append(f"restart after the SIGKILL at {t:.0f} s failed: {err}")
            log(f"SIGKILL pid {pid}; restart FAILED: {err}")
            stop.set()
            return
        if restart > RESTART_LIMIT:
            failures.append(f"restart after the SIGKILL at {t:.0f} s took {restart:.1f} s "
                            f"(limit {RESTART_LIMIT:.0f} s)")
        log(f"SIGKILL pid {pid} (RSS {last_rss / 1024 if last_rss else 0:.0f} MB); "
            f"pid {svc.proc.pid} serving on port {svc.port} after {restart:.2f} s")


# --- analysis --------------------------------------------------------------------------------

def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[i]


def slope_mb_per_hour(points):
    """Least squares slope of [(t_s, kb)] in MB/hour; None with fewer than 3 points."""
    if len(points) < 3:
        return None
    n = len(points)
    mt = sum(p[0] for p in points) / n
    mr = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mt) ** 2 for p in points)
    if sxx == 0:
        return None
    sxy = sum((p[0] - mt) * (p[1] - mr) for p in points)
    return sxy / sxx * 3600 / 1024


def pooled_slope(groups):
    """One slope for every lifetime (each its own intercept), in MB/hour."""
    sxx = sxy = 0.0
    for pts in groups:
        if len(pts) < 2:
            continue
        mt = sum(p[0] for p in pts) / len(pts)
        mr = sum(p[1] for p in pts) / len(pts)
        sxx += sum((p[0] - mt) ** 2 for p in pts)
        sxy += sum((p[0] - mt) * (p[1] - mr) for p in pts)
    return sxy / sxx * 3600 / 1024 if sxx else None


def latency_buckets():
    """{route: {bucket index: sorted ms}} over the 2xx answers."""
    by = collections.defaultdict(lambda: collections.defaultdict(list))
    for t, route, ms, status in samples:
        if 200 <= status < 300:
            by[route][int(t // BUCKET_S)].append(ms)
    for route in by:
        for b in by[route]:
            by[route][b].sort()
    return by


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_svg(path, by, duration, lifetimes):
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
              "#7f7f7f", "#bcbd22", "#17becf"]
    W, left, right = 960, 70, 250
    pw = W - left - right
    top1, h1 = 40, 300
    top2, h2 = top1 + h1 + 70, 200
    H = top2 + h2 + 50
    x = lambda t: left + pw * t / max(duration, 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="11">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{left}" y="20" font-size="14">abrec soak: p99 per route per '
           f'{BUCKET_S:.0f} s (2xx answers; log scale) and RSS; red lines: SIGKILL + restart</text>']
    # p99 panel, log scale
    p99s = [percentile(v, 0.99) for r in by.values() for v in r.values() if v]
    lo = 10 ** math.floor(math.log10(max(min(p99s), 0.05))) if p99s else 0.1
    hi = 10 ** math.ceil(math.log10(max(p99s))) if p99s else 1000
    y1 = lambda ms: top1 + h1 - h1 * (math.log10(max(ms, lo)) - math.log10(lo)) / (
        math.log10(hi) - math.log10(lo))
    out.append(f'<rect x="{left}" y="{top1}" width="{pw}" height="{h1}" fill="none" stroke="#999"/>')
    d = lo
    while d <= hi * 1.0001:
        yy = y1(d)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 5}" y="{yy + 4:.1f}" text-anchor="end">{d:g} ms</text>')
        d *= 10
    for i, route in enumerate(sorted(by)):
        c = colors[i % len(colors)]
        pts = sorted((b, percentile(v, 0.99)) for b, v in by[route].items() if v)
        mid = lambda b: min((b + 0.5) * BUCKET_S, duration)   # the last bucket is partial
        coords = " ".join(f"{x(mid(b)):.1f},{y1(p):.1f}" for b, p in pts)
        out.append(f'<polyline points="{coords}" fill="none" stroke="{c}" stroke-width="1.5"/>')
        for b, p in pts:
            out.append(f'<circle cx="{x(mid(b)):.1f}" cy="{y1(p):.1f}" r="2" '
                       f'fill="{c}" data-value="{p:.2f}"/>')
        ly = top1 + 12 + 15 * i
        out.append(f'<line x1="{left + pw + 10}" x2="{left + pw + 30}" y1="{ly - 4}" '
                   f'y2="{ly - 4}" stroke="{c}" stroke-width="2"/>')
        out.append(f'<text x="{left + pw + 35}" y="{ly}">{esc(route)}</text>')
    # RSS panel
    mb = [r[2] / 1024 for r in rss] or [0]
    rmax = max(mb) * 1.1 or 1
    y2 = lambda v: top2 + h2 - h2 * v / rmax
    out.append(f'<rect x="{left}" y="{top2}" width="{pw}" height="{h2}" fill="none" stroke="#999"/>')
    step = 10 ** math.floor(math.log10(rmax)) if rmax >= 1 else 1
    if rmax / step < 3:
        step /= 2
    v = 0.0
    while v <= rmax:
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y2(v):.1f}" y2="{y2(v):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 5}" y="{y2(v) + 4:.1f}" text-anchor="end">{v:g} MB</text>')
        v += step
    out.append(f'<text x="{left}" y="{top2 - 8}">RSS of abrec serve (VmRSS every {RSS_EVERY:.0f} s), '
               f'one line per process</text>')
    for pid in dict.fromkeys(r[1] for r in rss):
        pts = [r for r in rss if r[1] == pid]
        coords = " ".join(f"{x(t):.1f},{y2(kb / 1024):.1f}" for t, _, kb in pts)
        out.append(f'<polyline points="{coords}" fill="none" stroke="#333" stroke-width="1.5"/>')
    # time axis and kills
    for panel_top, h in ((top1, h1), (top2, h2)):
        for k in kills:
            out.append(f'<line x1="{x(k["t"]):.1f}" x2="{x(k["t"]):.1f}" y1="{panel_top}" '
                       f'y2="{panel_top + h}" stroke="red" stroke-dasharray="4,3"/>')
    tick = 60 if duration <= 900 else 300
    t = 0
    while t <= duration:
        out.append(f'<text x="{x(t):.1f}" y="{top2 + h2 + 15}" text-anchor="middle">{t / 60:g}</text>')
        out.append(f'<text x="{x(t):.1f}" y="{top1 + h1 + 15}" text-anchor="middle">{t / 60:g}</text>')
        t += tick
    out.append(f'<text x="{left + pw / 2}" y="{top2 + h2 + 32}" text-anchor="middle">minutes</text>')
    out.append("</svg>")
    open(path, "w").write("\n".join(out) + "\n")


def check_database(db):
    """(counts of our ids, counter of request ids) from the database, read-only."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    ids = collections.Counter()
    for eid, n in con.execute("SELECT event_id, COUNT(*) FROM events WHERE event_id LIKE 'soak-%' "
                              "GROUP BY event_id"):
        ids[eid] = n
    reqs = collections.Counter()
    for rid, n in con.execute("SELECT request_id, COUNT(*) FROM events WHERE type = 0 AND "
                              "request_id IS NOT NULL AND request_id <> '' GROUP BY request_id"):
        reqs[rid] = n
    total = con.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    con.close()
    return ids, reqs, total


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
    if not os.access(os.path.join(build, "abrec"), os.X_OK):
        die(f"{build}/abrec not found: build first (make soak builds)")
    os.makedirs(OUT, exist_ok=True)
    ws = tempfile.mkdtemp(prefix="abrec-soak.")
    failures = []
    svc = None
    try:
        config, db, key = make_workspace(build, ws)
        products = catalog_products()
        svc = Service(build, ws, config, key)
        err = svc.start()
        if err:
            die(err)
        log(f"abrec serve pid {svc.proc.pid} on port {svc.port}; workspace {ws}")
        cl = Client(svc)
        status, doc = cl.request("GET /v1/experiments", "GET", "/v1/experiments")
        if status != 200:
            die(f"GET /v1/experiments answered {status}")
        listed = doc["experiments"] if isinstance(doc, dict) and "experiments" in doc else doc
        experiments = sorted(e["key"] for e in listed)
        if EXPERIMENT not in experiments:
            die(f"{EXPERIMENT} is not among the experiments: {experiments}")
        run_id = f"{int(time.time())}"
        users = [f"soak-user-{i}" for i in range(20000)]
        log(f"experiments {experiments}; {THREADS} clients at {RATE:g} requests/s for "
            f"{SECONDS:g} s, SIGKILL every {KILL_EVERY:g} s, reload every {RELOAD_EVERY:g} s")
        threads = [threading.Thread(target=worker, daemon=True,
                                    args=(i, svc, products, users, experiments, run_id))
                   for i in range(THREADS)]
        threads.append(threading.Thread(target=rss_sampler, args=(svc,), daemon=True))
        threads.append(threading.Thread(target=reloader, args=(svc, ws), daemon=True))
        killer_thread = threading.Thread(target=killer, args=(svc, failures), daemon=True)
        start_t = now()
        for t in threads:
            t.start()
        killer_thread.start()
        last_report = start_t
        while now() - start_t < SECONDS and not stop.is_set():
            time.sleep(1)
            if now() - last_report >= 60:
                last_report = now()
                recent = [s for s in samples[-20000:] if s[0] >= last_report - T0 - 60]
                log(f"{len(samples)} answers, {sum(conn_errors.values())} without answer, "
                    f"{len(acked)} events acknowledged, RSS "
                    f"{rss[-1][2] / 1024 if rss else 0:.0f} MB, load {os.getloadavg()[0]:.1f}")
        stop.set()
        killer_thread.join(timeout=RESTART_LIMIT * 5)
        for t in threads:
            t.join(timeout=HTTP_TIMEOUT * 12)
        duration = now()
        log("stopping the service (SIGTERM)")
        err = svc.kill(signal.SIGTERM)
        if err:
            failures.append(f"final stop: {err}")
        if svc.proc.returncode != 0:
            failures.append(f"abrec serve exited with {svc.proc.returncode} on SIGTERM")
        ids, reqs, total = check_database(db)
    finally:
        stop.set()
        if svc is not None and svc.proc is not None and svc.proc.poll() is None:
            svc.proc.kill()
            svc.proc.wait()

    # --- the checks ---
    missing = [e for e in acked if ids.get(e, 0) == 0]
    doubled_acked = [e for e in acked if ids.get(e, 0) > 1]
    doubled_any = [e for e, n in ids.items() if n > 1]
    stray = [e for e in ids if e not in sent]
    unacked = sent - acked
    unacked_stored = sum(1 for e in unacked if ids.get(e, 0) > 0)
    logged_missing = [r for r in logged_requests if reqs.get(r, 0) < 1]
    if missing:
        failures.append(f"{len(missing)} acknowledged events missing from the database "
                        f"(e.g. {missing[:3]})")
    if doubled_any:
        failures.append(f"{len(doubled_any)} event ids stored more than once (e.g. {doubled_any[:3]})")
    if stray:
        failures.append(f"{len(stray)} stored soak ids were never sent (e.g. {stray[:3]})")
    if logged_missing:
        failures.append(f"{len(logged_missing)} exposures answered \"logged\": true are not in "
                        f"the database (e.g. {logged_missing[:3]})")
    restarts_ok = [k for k in kills if not k["error"]]

    # --- the figures ---
    by = latency_buckets()
    routes = sorted({s[1] for s in samples} | set(conn_errors))
    statuses = collections.defaultdict(collections.Counter)
    for _, route, _, status in samples:
        statuses[route][status] += 1
    lifetimes = svc.lifetimes
    groups = []
    life_rows = []
    for i, (t0, t1, pid, ended) in enumerate(lifetimes):
        pts = [(t, kb) for t, p, kb in rss if p == pid]
        groups.append(pts)
        s = slope_mb_per_hour(pts)
        life_rows.append(f"| {i + 1} | {pid} | {t0:.0f}–{(t1 or duration):.0f} | {len(pts)} | "
                         f"{pts[0][1] / 1024 if pts else float('nan'):.1f} | "
                         f"{pts[-1][1] / 1024 if pts else float('nan'):.1f} | "
                         f"{'%.1f' % s if s is not None else 'n/a'} | {ended} |")
    pooled = pooled_slope(groups)
    # the same, leaving out each lifetime's first minute (start-up: indexes, caches warming)
    pooled_warm = pooled_slope([[p for p in g if p[0] - g[0][0] >= 60] for g in groups if g])
    all_slope = slope_mb_per_hour([(t, kb) for t, _, kb in rss])

    md = []
    md.append(f"# abrec soak: {duration / 60:.1f} minutes")
    md.append("")
    md.append(f"`python3 bench/soak.py` (SOAK_SECONDS={SECONDS:g}, SOAK_KILL_EVERY={KILL_EVERY:g}, "
              f"SOAK_RELOAD_EVERY={RELOAD_EVERY:g}, SOAK_THREADS={THREADS}, SOAK_RATE={RATE:g}, "
              f"SOAK_MAX_BATCH={MAX_BATCH}), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
              f"{os.cpu_count()} cores shared by the clients and the service, "
              f"load average at the end {os.getloadavg()[0]:.1f}.")
    md.append("")
    md.append("## Verdict")
    md.append("")
    md.append("PASS" if not failures else "FAIL")
    for f in failures:
        md.append(f"- {f}")
    md.append("")
    md.append("## Durability (database read after a clean stop)")
    md.append("")
    md.append(f"- event ids sent: {len(sent)}; acknowledged (202, not rejected; accepted or "
              f"duplicate): {len(acked)}")
    md.append(f"- acknowledged and missing: {len(missing)}; acknowledged and stored twice or more: "
              f"{len(doubled_acked)}; any soak id stored twice or more: {len(doubled_any)}")
    md.append(f"- sent but never acknowledged (batches abandoned at the end or after 10 tries): "
              f"{len(unacked)}, of which stored: {unacked_stored}")
    md.append(f"- event batches sent again after no answer or a 5xx: {events_retried[0]}; events "
              f"answered as duplicates (already committed before the answer was lost): "
              f"{duplicates_answered[0]}")
    md.append(f"- rejected events (by error code): "
              f"{dict(rejections) if rejections else 'none'}")
    md.append(f"- exposures the service answered as logged (GET /v1/assign, POST /v1/recommend, "
              f"GET /v1/recommend/{{id}}): "
              f"{len(logged_requests)}; missing from the database: {len(logged_missing)}")
    md.append(f"- rows in `events` at the end: {total}")
    md.append("")
    md.append("## Restarts")
    md.append("")
    md.append(f"{len(kills)} SIGKILLs, {len(restarts_ok)} restarts answering /healthz "
              f"(limit {RESTART_LIMIT:g} s).")
    md.append("")
    md.append("Each SIGKILL waits up to 2 s for a POST /v1/events to be in flight, so that some "
              "batches lose their answer and are sent again after the restart.")
    md.append("")
    md.append("| at (s) | killed pid | its RSS (MB) | event batches in flight | "
              "kill → /healthz 200 (s) | result |")
    md.append("|---|---|---|---|---|---|")
    for k in kills:
        md.append(f"| {k['t']:.0f} | {k['pid']} | {(k['rss_kb'] or 0) / 1024:.1f} | {k['in_flight']} | "
                  f"{k['restart_s']:.2f} | {k['error'] or 'ok'} |")
    md.append("")
    seen = [r["seen_after_s"] for r in reloads if r["seen_after_s"] is not None]
    md.append(f"Config reloads: {len(reloads)} rewrites of experiments/{EXPERIMENT}.yaml, "
              f"{len(seen)} seen in GET /v1/experiments/{EXPERIMENT} within 15 s"
              + (f" (median {sorted(seen)[len(seen) // 2]:.1f} s, max {max(seen):.1f} s)"
                 if seen else "") + ".")
    md.append("")
    md.append("## RSS")
    md.append("")
    md.append(f"Sampled every {RSS_EVERY:g} s: {len(rss)} samples. Slope (least squares), MB/hour: "
              f"pooled over lifetimes {'%.1f' % pooled if pooled is not None else 'n/a'}, the same "
              f"without each lifetime's first minute "
              f"{'%.1f' % pooled_warm if pooled_warm is not None else 'n/a'}; "
              f"all samples in one fit (restarts included) "
              f"{'%.1f' % all_slope if all_slope is not None else 'n/a'}. The store keeps its "
              f"event-id and per-user indexes in memory (README: ~80 bytes per stored event), so "
              f"some growth with the events written is expected.")
    md.append("")
    md.append("| lifetime | pid | seconds | samples | first MB | last MB | slope MB/h | ended by |")
    md.append("|---|---|---|---|---|---|---|---|")
    md.extend(life_rows)
    md.append("")
    md.append(f"## Latency per route (ms, 2xx answers) and answers by status")
    md.append("")
    md.append(f"Worst bucket: the highest p99 of any {BUCKET_S:g} s bucket with at least 20 answers.")
    md.append("")
    md.append("| route | answers | p50 | p99 | worst-bucket p99 | statuses | no answer |")
    md.append("|---|---|---|---|---|---|---|")
    for route in routes:
        ok = sorted(ms for _, r, ms, st in samples if r == route and 200 <= st < 300)
        worst = max((percentile(v, 0.99) for v in by.get(route, {}).values() if len(v) >= 20),
                    default=float("nan"))
        st = ", ".join(f"{k}: {v}" for k, v in sorted(statuses[route].items()))
        fmt = lambda v: "–" if math.isnan(v) else f"{v:.2f}"
        md.append(f"| {route} | {sum(statuses[route].values())} | {fmt(percentile(ok, 0.5))} | "
                  f"{fmt(percentile(ok, 0.99))} | {fmt(worst)} | {st} | {conn_errors[route]} |")
    md.append("")
    md.append("No answer: the connection was refused or reset, i.e. the request was in flight or "
              "sent while the service was down after a SIGKILL.")
    md.append("")
    summary = "\n".join(md) + "\n"
    open(os.path.join(OUT, "summary.md"), "w").write(summary)
    write_svg(os.path.join(OUT, "soak.svg"), by, duration, lifetimes)
    with open(os.path.join(OUT, "latency.csv"), "w") as f:
        f.write("bucket_start_s,route,answers,p50_ms,p99_ms\n")
        for route in sorted(by):
            for b in sorted(by[route]):
                v = by[route][b]
                f.write(f"{b * BUCKET_S:g},{route},{len(v)},{percentile(v, 0.5):.3f},"
                        f"{percentile(v, 0.99):.3f}\n")
    with open(os.path.join(OUT, "rss.csv"), "w") as f:
        f.write("t_s,pid,rss_kb\n")
        for t, pid, kb in rss:
            f.write(f"{t:.1f},{pid},{kb}\n")
    print()
    print(summary)
    print(f"written: {OUT}/summary.md, soak.svg, latency.csv, rss.csv")
    # The service's logs, one per lifetime, go with the results (a failure is explained there).
    for name in sorted(os.listdir(ws)):
        if re.fullmatch(r"abrec-\d+\.log", name):
            shutil.copy(os.path.join(ws, name), os.path.join(OUT, name))
    if os.environ.get("SOAK_KEEP") or failures:
        print(f"workspace kept: {ws}")
    else:
        shutil.rmtree(ws, ignore_errors=True)
    if failures or len(restarts_ok) != len(kills):
        sys.exit(1)


if __name__ == "__main__":
    main()
