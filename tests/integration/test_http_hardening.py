#!/usr/bin/python3
"""Issue 14's transport defects, tried as an attacker would: accept failing for want of file
descriptors, a max_connections the fd limit cannot honour, endless trailers and chunk
extensions, the in-flight body budget, Transfer-Encodings other than chunked (smuggling) and
HEAD's side effects. Each test failed against the service before the fix."""

import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402


def request_text(method, target, headers=(), version="HTTP/1.1"):
    """The head of a raw request to a routed endpoint, ending with the blank line. The one
    place a raw request is written, so a header every request needs is added here: the key of
    the service running (h.last_key())."""
    lines = [f"{method} {target} {version}", "Host: t",
             f"Authorization: Bearer {h.last_key()}"] + list(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def post_head(target, *headers):
    return request_text("POST", target, ("Content-Type: application/json",) + headers)


def response_head(reader):
    """The status and headers of a response that has no body (an answer to HEAD)."""
    while b"\r\n\r\n" not in reader.buf:
        reader._fill("a full response header")
    head, _, reader.buf = reader.buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return int(lines[0].split(" ")[1]), headers


ACCEPT_LINE_RE = re.compile(r"\baccept\b")


def accept_lines(svc):
    return [ln for ln in svc.stderr_text().splitlines() if ACCEPT_LINE_RE.search(ln)]


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))


def counter(svc, name, **label_values):
    status, _, data = svc.request("GET", "/metrics")
    assert status == 200, data
    return h.parse_prometheus(data.decode()).get((name, h.labels(**label_values)), 0.0)


def exp_ab_workspace(values=None):
    ws = h.Workspace()
    if values:
        ws.write_config(values)
    ws.write_experiment("exp_ab.yaml", h.experiment_yaml(
        "exp_ab", namespace=("portal_recs", 0.0, 1.0)))
    return ws


class SendInBackground:
    """Sends `chunks()` on `sock` from a thread until done or the server stops reading."""

    def __init__(self, sock, chunks):
        self.sent = 0
        self._thread = threading.Thread(target=self._run, args=(sock, chunks), daemon=True)
        self._thread.start()

    def _run(self, sock, chunks):
        try:
            for c in chunks():
                sock.sendall(c)
                self.sent += len(c)
        except OSError:
            pass  # the server answered and closed: expected

    def join(self):
        self._thread.join(timeout=30)
        return not self._thread.is_alive()


class StrictFramingTest(h.ServiceTestCase):

    @classmethod
    def make_workspace(cls):
        return exp_ab_workspace()

    def assert_refused_and_closed(self, data, status, field="transfer-encoding"):
        s = self.svc.raw_socket()
        try:
            s.sendall(data)
            reader = h.RawReader(s)
            got, headers, body = reader.response()
            h.error_of(self, got, headers, body, status, field=field)
            self.assertEqual(headers.get("connection", "").lower(), "close")
            # Nothing after the refused request is answered: the smuggled request is dropped.
            self.assertEqual(reader.buf + h.wait_closed(s, 10), b"", data)
        finally:
            s.close()

    def test_transfer_encoding_not_ending_in_chunked_is_400_and_closes(self):
        smuggled = request_text("GET", "/healthz")
        for te in ("gzip", "identity", "chunked, identity", "chunked, chunked", "chunked;x=1",
                   "Chunked, gzip"):
            with self.subTest(te=te):
                self.assert_refused_and_closed(
                    request_text("GET", "/healthz", [f"Transfer-Encoding: {te}"]) + smuggled, 400)
                self.assert_refused_and_closed(
                    post_head("/v1/assign", f"Transfer-Encoding: {te}") + smuggled, 400)

    def test_unsupported_coding_before_chunked_is_501(self):
        # gzip, chunked is well framed; abrec does not decode gzip (RFC 9112 6.1: 501).
        body = b'{"experiment": "exp_ab", "user_ids": ["z"]}'
        chunked = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
        for te in ("gzip, chunked", "gzip\r\nTransfer-Encoding: chunked"):
            with self.subTest(te=te):
                self.assert_refused_and_closed(
                    post_head("/v1/assign", f"Transfer-Encoding: {te}") + chunked, 501)

    def test_transfer_encoding_in_http_1_0_is_400(self):
        self.assert_refused_and_closed(
            request_text("GET", "/healthz", ["Transfer-Encoding: chunked"], version="HTTP/1.0")
            + b"0\r\n\r\n" + request_text("GET", "/healthz"), 400)

    def test_chunked_is_still_served(self):
        body = b'{"experiment": "exp_ab", "user_ids": ["c1", "c2"]}'
        for te in ("chunked", "Chunked"):
            s = self.svc.raw_socket()
            try:
                s.sendall(post_head("/v1/assign", f"Transfer-Encoding: {te}")
                          + b"%x;name=value\r\n" % len(body) + body + b"\r\n0\r\nX-Trailer: 1\r\n\r\n")
                status, _, data = h.read_http_response(s)
                self.assertEqual(status, 200, data)
                self.assertEqual(len(json.loads(data)["results"]), 2)
            finally:
                s.close()

    def test_endless_trailer_is_431_and_memory_stays_bounded(self):
        pid = self.svc.proc.pid
        rss_before = vm_rss_kib(pid)
        s = self.svc.raw_socket()
        try:
            s.sendall(post_head("/v1/assign", "Transfer-Encoding: chunked") + b"2\r\n{}\r\n0\r\n")

            def trailer():
                line = b"X-Trailer: " + b"t" * 65000 + b"\r\n"
                for _ in range(1024):  # 64 MiB, never ending the trailer
                    yield line

            sender = SendInBackground(s, trailer)
            status, headers, data = h.read_http_response(s)
            rss_after = vm_rss_kib(pid)
            h.error_of(self, status, headers, data, 431, field="trailer")
            self.assertTrue(sender.join(), "the server kept reading the trailer")
        finally:
            s.close()
        # The read buffer is bounded at the header limit plus a little: no 64 MiB of trailer.
        self.assertLess(rss_after - rss_before, 16 * 1024,
                        f"VmRSS {rss_before} kB before, {rss_after} kB after")
        self.assertEqual(self.svc.get_json("/healthz")[0], 200)

    def test_endless_chunk_extension_is_400(self):
        s = self.svc.raw_socket()
        try:
            s.sendall(post_head("/v1/assign", "Transfer-Encoding: chunked") + b"2;ext=")
            sender = SendInBackground(s, lambda: (b"e" * 65536 for _ in range(1024)))
            status, headers, data = h.read_http_response(s)
            h.error_of(self, status, headers, data, 400, field="chunk-extension")
            self.assertTrue(sender.join(), "the server kept reading the chunk extension")
        finally:
            s.close()

    def test_chunk_extensions_past_the_header_limit_are_400(self):
        # Many small chunks, each with a 1000-byte extension: in all, more than the 16 KiB
        # header limit, though each chunk line is short and the body is valid JSON.
        body = b'{"experiment": "exp_ab", "user_ids": ["x"]}' + b" " * 40
        ext = b";e=" + b"x" * 997
        chunks = b"".join(b"1" + ext + b"\r\n" + body[i:i + 1] + b"\r\n" for i in range(len(body)))
        s = self.svc.raw_socket()
        try:
            s.sendall(post_head("/v1/assign", "Transfer-Encoding: chunked") + chunks + b"0\r\n\r\n")
            status, headers, data = h.read_http_response(s)
            h.error_of(self, status, headers, data, 400, field="chunk-extension")
        finally:
            s.close()


class HeadTest(h.ServiceTestCase):

    @classmethod
    def make_workspace(cls):
        return exp_ab_workspace()

    def test_head_assign_logs_no_exposure_and_writes_no_body(self):
        s = self.svc.raw_socket()
        try:
            # Pipelined: if HEAD wrote a body, it would be read as the next response's start.
            s.sendall(b"".join(request_text("HEAD", f"/v1/assign?user_id=head-{i}&experiment=exp_ab")
                               for i in range(20)) + request_text("GET", "/healthz"))
            reader = h.RawReader(s)
            s.settimeout(h.HTTP_TIMEOUT_S)
            for _ in range(20):
                status, headers = response_head(reader)
                self.assertEqual(status, 200)
                self.assertGreater(int(headers["content-length"]), 0)
            status, _, data = reader.response()
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(data)["status"], "ok")
        finally:
            s.close()
        # A GET answers once its exposure is committed, after whatever the HEADs queued.
        status, doc = self.svc.assign("get-after-head", "exp_ab")
        self.assertEqual(status, 200, doc)
        self.assertTrue(doc["logged"], doc)
        con = h.open_db_readonly(self.ws.db_path)
        try:
            count = lambda pattern: con.execute(  # noqa: E731
                "SELECT COUNT(*) FROM events WHERE user_id LIKE ?", (pattern,)).fetchone()[0]
            self.assertEqual(count("get-after-head"), 1)
            self.assertEqual(count("head-%"), 0, "HEAD /v1/assign logged exposures")
        finally:
            con.close()


class InflightBudgetTest(h.ServiceTestCase):
    """Two 64 KiB bodies fill a 128 KiB budget for bodies in flight."""

    @classmethod
    def make_workspace(cls):
        return exp_ab_workspace({"max_body_bytes": 65536, "max_inflight_body_bytes": 131072})

    BODY = (b'{"experiment": "exp_ab", "user_ids": ["b"]}').ljust(65536, b" ")

    def reserve(self):
        """A socket whose 64 KiB body is announced (and its budget taken) but not sent."""
        s = self.svc.raw_socket()
        s.sendall(post_head("/v1/assign", "Expect: 100-continue",
                            f"Content-Length: {len(self.BODY)}"))
        status, _, _ = h.RawReader(s).response()  # 100 once the budget is reserved
        return s, status

    def test_bodies_past_the_budget_get_503_until_released(self):
        first, status = self.reserve()
        self.assertEqual(status, 100)
        second, status = self.reserve()
        self.assertEqual(status, 100)
        try:
            for head, body in ((post_head("/v1/assign", f"Content-Length: {len(self.BODY)}"),
                                self.BODY),
                               (post_head("/v1/assign", "Transfer-Encoding: chunked"),
                                b"%x\r\n" % 1000 + b" " * 1000 + b"\r\n")):
                s = self.svc.raw_socket()
                try:
                    s.sendall(head + body)
                    reader = h.RawReader(s)
                    status, headers, data = reader.response()
                    h.error_of(self, status, headers, data, 503, field="body")
                    self.assertEqual(headers.get("retry-after"), "1")
                    self.assertEqual(headers.get("connection", "").lower(), "close")
                finally:
                    s.close()
            # A completed request gives its share back.
            first.sendall(self.BODY)
            status, _, data = h.read_http_response(first)
            self.assertEqual(status, 200, data)
            status, _, data = self.svc.request("POST", "/v1/assign", body=self.BODY,
                                               headers={"Content-Type": "application/json"})
            self.assertEqual(status, 200, data)
        finally:
            first.close()
            second.close()
        # So does a connection that dies with its body unread: both shares come back.
        def both_reserved():
            a, sa = self.reserve()
            b, sb = self.reserve()
            a.close()
            b.close()
            return sa == 100 and sb == 100
        h.wait_until(both_reserved, message="the budget released by closed connections")


@unittest.skipIf(os.environ.get("ABREC_SANITIZED") == "1",
                 "the release build runs it: starving the process of descriptors also starves the "
                 "sanitizer runtime, which opens files of its own (symbolizer, /proc maps)")
class AcceptBackoffTest(h.ServiceTestCase):
    """The service runs out of descriptors below max_connections: accept fails with EMFILE."""

    @classmethod
    def make_workspace(cls):
        return exp_ab_workspace({"max_connections": 500})

    def test_accept_failing_backs_off_with_few_log_lines_and_recovers(self):
        pid = self.svc.proc.pid
        self.assertEqual(self.svc.get_json("/healthz")[0], 200)
        open_fds = len(os.listdir(f"/proc/{pid}/fd"))
        # Only the soft limit: lowering the hard one could not be undone.
        saved = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (open_fds + 8, saved[1]))
        self.addCleanup(resource.prlimit, pid, resource.RLIMIT_NOFILE, saved)
        idle = []
        try:
            for _ in range(60):  # accepted up to the limit, the rest wait in the backlog
                idle.append(self.svc.raw_socket())
            h.wait_until(lambda: accept_lines(self.svc), timeout=5,
                         message="an accept failure logged")
            time.sleep(1.5)  # long enough for a busy loop to log thousands of lines
            lines = accept_lines(self.svc)
            self.assertGreater(len(lines), 0)
            self.assertLessEqual(len(lines), 10, "\n".join(lines[:20]))
            self.assertRegex(lines[0], r"[Tt]oo many open files")
        finally:
            for s in idle:
                s.close()
        status, _ = self.svc.get_json("/healthz")
        self.assertEqual(status, 200)
        self.assertGreater(counter(self.svc, "abrec_http_connection_events_total",
                                   event="accept_failed"), 0)
        # The experiments folder could not be listed or read meanwhile (no descriptors): that
        # removed nothing.
        self.assertEqual(self.svc.get_json("/v1/experiments/exp_ab")[0], 200)
        self.assertNotIn("exp_ab removed", self.svc.stderr_text())


class FdLimitAtStartTest(unittest.TestCase):

    def serve_under(self, soft, hard, max_connections):
        ws = exp_ab_workspace({"max_connections": max_connections})
        self.addCleanup(ws.cleanup)
        svc = h.Service(ws.config_path)

        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

        svc.proc = subprocess.Popen(
            [h.ABREC_BIN, "serve", "--config", ws.config_path, "--port", "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=limit)
        svc._reader = threading.Thread(target=svc._read_stderr, daemon=True)
        svc._reader.start()
        self.addCleanup(svc.kill)
        return svc

    def test_max_connections_above_the_fd_limit_refuses_to_start(self):
        svc = self.serve_under(256, 256, 1000)
        try:
            status = svc.proc.wait(timeout=h.START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.fail("abrec serve started although 1000 connections need more than 256 fds:\n"
                      + svc.stderr_text())
        svc.wait_exit()
        self.assertNotEqual(status, 0)
        self.assertIn("limits.max_connections", svc.stderr_text())
        self.assertIn("256", svc.stderr_text())

    def test_soft_fd_limit_is_raised_to_the_hard_one(self):
        svc = self.serve_under(256, 2048, 1000)
        svc.port = svc.wait_for_listening()
        with open(f"/proc/{svc.proc.pid}/limits", encoding="ascii") as f:
            limits = f.read()
        self.assertRegex(limits, r"Max open files\s+2048\s+2048")
        self.assertEqual(svc.get_json("/healthz")[0], 200)
        self.assertEqual(svc.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
