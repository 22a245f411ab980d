#!/usr/bin/python3
"""Hostile and slow clients: deep JSON, oversized bodies and headers, request smuggling
shapes, and clients that stop sending. After each, the service must keep serving."""

import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import abrec_harness as h  # noqa: E402


def assign_head():
    """The start of a raw POST /v1/assign with the running service's key."""
    return (b"POST /v1/assign HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {h.last_key()}\r\n".encode())

READ_TIMEOUT_S = h.READ_TIMEOUT_MS / 1000.0
# A connection cut by read_timeout_ms must be closed by then; 10x leaves room for slow
# (sanitizer) builds without turning this into a latency assertion.
CLOSE_WITHIN_S = 10 * READ_TIMEOUT_S


class ServiceTestCase(h.ServiceTestCase):
    """One service per test class."""

    @classmethod
    def make_workspace(cls):
        ws = h.Workspace()
        ws.write_experiment("exp_ab.yaml", h.experiment_yaml(
            "exp_ab", namespace=("portal_recs", 0.0, 1.0)))
        return ws

    def assert_still_serving(self):
        status, doc = self.svc.assign("still-serving", "exp_ab")
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["hashes"]["population"],
                         h.hash_v2("abrec:population", "still-serving"))

    def raw_exchange(self, data):
        s = self.svc.raw_socket()
        try:
            s.sendall(data)
            return h.read_http_response(s)
        finally:
            s.close()



class LimitsTest(ServiceTestCase):

    def test_json_nested_10000_deep_is_400(self):
        body = ("[" * 10000 + "]" * 10000).encode()
        status, headers, data = self.svc.request("POST", "/v1/assign", body=body,
                                                 headers={"Content-Type": "application/json"})
        h.error_of(self, status, headers, data, 400, field="body")
        body = ('{"experiment": "exp_ab", "user_ids": ' + '{"a": ' * 10000 + "1" + "}" * 10000
                + "}").encode()
        status, headers, data = self.svc.request("POST", "/v1/assign", body=body,
                                                 headers={"Content-Type": "application/json"})
        h.error_of(self, status, headers, data, 400, field="body")
        self.assert_still_serving()

    def test_body_of_10_mb_is_413(self):
        size = 10 * 1024 * 1024
        s = self.svc.raw_socket()
        try:
            s.sendall(assign_head() + b""
                      + f"Content-Length: {size}\r\n\r\n".encode())
            sent = []

            def send_body():
                chunk = b" " * 65536
                try:
                    for _ in range(size // len(chunk)):
                        s.sendall(chunk)
                        sent.append(len(chunk))
                except OSError:
                    pass  # the server closes once it has answered: expected

            sender = threading.Thread(target=send_body, daemon=True)
            sender.start()
            status, headers, data = h.read_http_response(s)
            h.error_of(self, status, headers, data, 413, field="body")
            self.assertEqual(headers.get("connection", "").lower(), "close")
            sender.join(timeout=30)
            self.assertFalse(sender.is_alive(), "the server kept reading the 10 MB body")
        finally:
            s.close()
        self.assert_still_serving()

    def test_chunked_body_over_limit_is_413(self):
        s = self.svc.raw_socket()
        try:
            s.sendall(assign_head() + b""
                      b"Transfer-Encoding: chunked\r\n\r\n")
            answered = []

            def send_chunks():
                chunk = b"%x\r\n" % 65536 + b" " * 65536 + b"\r\n"
                try:
                    for _ in range(160):  # 10 MiB
                        s.sendall(chunk)
                    s.sendall(b"0\r\n\r\n")
                except OSError:
                    pass
                answered.append(True)

            sender = threading.Thread(target=send_chunks, daemon=True)
            sender.start()
            status, headers, data = h.read_http_response(s)
            h.error_of(self, status, headers, data, 413, field="body")
            sender.join(timeout=30)
        finally:
            s.close()
        self.assert_still_serving()

    def test_header_over_limit_is_431(self):
        status, headers, data = self.raw_exchange(
            b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Filler: " + b"f" * 20000 + b"\r\n\r\n")
        h.error_of(self, status, headers, data, 431)
        self.assert_still_serving()

    def test_header_just_under_limit_is_served(self):
        status, headers, data = self.raw_exchange(
            b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Filler: " + b"f" * 12000 + b"\r\n\r\n")
        self.assertEqual(status, 200, data)

    def test_content_length_and_transfer_encoding_is_400(self):
        for first, second in ((b"Content-Length: 5", b"Transfer-Encoding: chunked"),
                              (b"Transfer-Encoding: chunked", b"Content-Length: 5")):
            status, headers, data = self.raw_exchange(
                assign_head() + b""
                + first + b"\r\n" + second + b"\r\n\r\n0\r\n\r\n")
            h.error_of(self, status, headers, data, 400)
            self.assertEqual(headers.get("connection", "").lower(), "close")
        self.assert_still_serving()

    def test_garbage_request_line_is_400(self):
        status, headers, data = self.raw_exchange(b"HELLO\x01 WORLD\r\n\r\n")
        h.error_of(self, status, headers, data, 400)
        self.assert_still_serving()

    def check_cut_off(self, sock, started):
        """The server closes `sock` within CLOSE_WITHIN_S, and serves others meanwhile."""
        self.assert_still_serving()
        data = h.wait_closed(sock, CLOSE_WITHIN_S)  # raises TimeoutError if never closed
        elapsed = time.monotonic() - started
        # The timeout, not something else, closed it: not before read_timeout_ms.
        self.assertGreaterEqual(elapsed, READ_TIMEOUT_S * 0.9)
        self.assertLess(elapsed, CLOSE_WITHIN_S)
        return data

    def test_half_request_line_is_cut_after_read_timeout(self):
        s = self.svc.raw_socket()
        try:
            s.sendall(b"GET /v1/assign?user_id=slow&exp")
            started = time.monotonic()
            self.check_cut_off(s, started)
        finally:
            s.close()
        self.assert_still_serving()

    def test_half_header_is_cut_after_read_timeout(self):
        s = self.svc.raw_socket()
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")
            started = time.monotonic()
            self.check_cut_off(s, started)
        finally:
            s.close()

    def test_missing_body_is_cut_after_read_timeout(self):
        s = self.svc.raw_socket()
        try:
            s.sendall(assign_head() + b""
                      b"Content-Length: 100\r\n\r\n{\"experiment\"")
            started = time.monotonic()
            self.check_cut_off(s, started)
        finally:
            s.close()

    def test_trickling_client_is_cut_although_it_keeps_sending(self):
        # A whole request must arrive within read_timeout_ms, however steadily bytes trickle.
        s = self.svc.raw_socket()
        closed = threading.Event()
        started = time.monotonic()

        def trickle():
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\n")
                while not closed.is_set() and time.monotonic() - started < CLOSE_WITHIN_S + 5:
                    s.sendall(b"X-Drip: 1\r\n")
                    time.sleep(READ_TIMEOUT_S / 5)
            except OSError:
                pass

        sender = threading.Thread(target=trickle, daemon=True)
        sender.start()
        try:
            self.check_cut_off(s, started)
        finally:
            closed.set()
            sender.join(timeout=30)
            s.close()
        self.assert_still_serving()

    def test_idle_keepalive_connection_survives_read_timeout(self):
        # Between requests the idle timeout applies (60 s), not the read timeout.
        conn = self.svc.connection()
        try:
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            sock = conn.sock
            time.sleep(READ_TIMEOUT_S * 1.5)
            conn.request("GET", "/v1/assign?user_id=idle&experiment=exp_ab")
            r = conn.getresponse()
            body = json.loads(r.read())
            self.assertEqual(r.status, 200)
            self.assertEqual(body["user_id"], "idle")
            self.assertIs(conn.sock, sock, "the idle connection was replaced")
        finally:
            conn.close()

    def test_many_connections_at_once_are_served(self):
        socks = [self.svc.raw_socket() for _ in range(50)]
        try:
            for i, s in enumerate(socks):
                s.sendall(f"GET /v1/assign?user_id=c{i}&experiment=exp_ab HTTP/1.1\r\n"
                          f"Host: t\r\n{self.svc.auth_header()}\r\n".encode())
            for i, s in enumerate(socks):
                status, _, body = h.read_http_response(s)
                self.assertEqual(status, 200)
                self.assertEqual(json.loads(body)["user_id"], f"c{i}")
        finally:
            for s in socks:
                s.close()


class HttpConformanceTest(ServiceTestCase):
    """HTTP/1.1 details that real clients (curl, proxies, load balancers) rely on."""

    def test_expect_100_continue(self):
        body = json.dumps({"experiment": "exp_ab", "user_ids": [f"e{i}" for i in range(300)]}).encode()
        s = self.svc.raw_socket()
        try:
            s.sendall(assign_head() + b""
                      b"Expect: 100-continue\r\n" + f"Content-Length: {len(body)}\r\n\r\n".encode())
            reader = h.RawReader(s)
            status, _, _ = reader.response()  # before the body is sent
            self.assertEqual(status, 100)
            s.sendall(body)
            status, _, data = reader.response()
            self.assertEqual(status, 200, data)
            self.assertEqual(len(json.loads(data)["results"]), 300)
        finally:
            s.close()

    def test_expect_100_continue_with_oversized_body_gets_final_status(self):
        s = self.svc.raw_socket()
        try:
            s.sendall(assign_head() + b""
                      b"Expect: 100-continue\r\nContent-Length: 20000000\r\n\r\n")
            status, headers, data = h.read_http_response(s)
            h.error_of(self, status, headers, data, 413, field="body")
        finally:
            s.close()
        self.assert_still_serving()

    def test_http_1_0_request_is_answered_and_closed(self):
        s = self.svc.raw_socket()
        try:
            s.sendall(b"GET /v1/assign?user_id=old&experiment=exp_ab HTTP/1.0\r\n"
                      + self.svc.auth_header().encode() + b"\r\n")
            status, headers, data = h.read_http_response(s)
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(data)["user_id"], "old")
            self.assertEqual(h.wait_closed(s, 10), b"")
        finally:
            s.close()

    def test_connection_close_is_honoured(self):
        s = self.svc.raw_socket()
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            status, headers, _ = h.read_http_response(s)
            self.assertEqual(status, 200)
            self.assertEqual(headers.get("connection", "").lower(), "close")
            self.assertEqual(h.wait_closed(s, 10), b"")
        finally:
            s.close()

    def test_head_has_headers_but_no_body(self):
        status, headers, data = self.svc.request("HEAD", "/v1/assign?user_id=h&experiment=exp_ab")
        self.assertEqual(status, 200)
        self.assertEqual(data, b"")
        # HEAD logs no exposure: its length is that of the answer that says "logged": false.
        _, _, get_body = self.svc.request("GET", "/v1/assign?user_id=h&experiment=exp_ab&log=false")
        self.assertEqual(int(headers["content-length"]), len(get_body))

    def test_repeated_query_parameter_is_400(self):
        status, headers, data = self.svc.request(
            "GET", "/v1/assign?user_id=a&user_id=b&experiment=exp_ab")
        h.error_of(self, status, headers, data, 400, field="user_id")

    def test_percent_encoded_experiment_path(self):
        status, doc = self.svc.get_json("/v1/experiments/exp%5Fab")
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["key"], "exp_ab")
        status, headers, data = self.svc.request("GET", "/v1/experiments/exp%ZZ")
        h.error_of(self, status, headers, data, 400)

    def test_wrong_content_type_is_400(self):
        status, headers, data = self.svc.request(
            "POST", "/v1/assign", body=b'{"experiment": "exp_ab", "user_ids": ["a"]}',
            headers={"Content-Type": "text/plain"})
        h.error_of(self, status, headers, data, 400, field="content-type")

    def test_content_type_is_case_insensitive(self):
        # RFC 9110 8.3.1: type and subtype are case-insensitive; parameters are allowed.
        for ct in ("application/json; charset=utf-8", "Application/JSON"):
            status, headers, data = self.svc.request(
                "POST", "/v1/assign", body=b'{"experiment": "exp_ab", "user_ids": ["a"]}',
                headers={"Content-Type": ct})
            self.assertEqual(status, 200, (ct, data))

    def test_absolute_form_request_target(self):
        # RFC 9112 3.2.2: a server MUST accept the absolute form of the request target.
        status, headers, data = self.raw_exchange(
            f"GET http://127.0.0.1:{self.svc.port}/v1/assign?user_id=abs&experiment=exp_ab "
            f"HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{self.svc.auth_header()}\r\n".encode())
        self.assertEqual(status, 200, data)
        self.assertEqual(json.loads(data)["user_id"], "abs")


if __name__ == "__main__":
    unittest.main(verbosity=2)
