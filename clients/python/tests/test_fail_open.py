"""fail_open opens only on a transport failure — Holdpoint unreachable or its
own 503 dependency_unavailable — after all retries; a 500, a proxy's bare 5xx,
a 4xx, an answer that is not Holdpoint's, or params JSON cannot carry never
open. Against a closed port and small fake servers, so each failure is exact."""
import asyncio
import json
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import support
from holdpoint import (
    AsyncHoldpointClient,
    AuthError,
    ConnectionError,
    HoldpointClient,
    HoldpointError,
    InvalidRequest,
    ServerError,
)


class Fake:
    """An HTTP server answering every request with one canned reply, counting requests."""

    def __init__(self, status=200, body=b"{}", delay=0.0):
        fake = self
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _answer(self):
                fake.requests += 1
                n = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(n)
                if delay:
                    time.sleep(delay)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

            do_GET = do_POST = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port() -> str:
    return f"http://127.0.0.1:{support.free_port()}"


def client(base, fail_open=True, **kw):
    kw.setdefault("retries", 2)
    return HoldpointClient("hp_agent_test", base_url=base, fail_open=fail_open, retry_delay=0.01, **kw)


class OpensOnlyOnAnOutage(unittest.TestCase):
    def test_an_unreachable_holdpoint_allows_a_check_and_says_so(self):
        d = client(closed_port()).check("payment.send", {"amount": 5000})
        self.assertTrue(d.allowed)
        self.assertTrue(d.failed_open)
        self.assertIsNone(d.decision_id)
        self.assertEqual(d.params, {"amount": 5000})
        self.assertIn("fail_open, connection_failed", d.reason)

    def test_an_unreachable_holdpoint_gives_a_failed_open_permit_whose_reports_do_nothing(self):
        c = client(closed_port())
        ran = []
        with c.guard("payment.send", {"amount": 5000}, "k-1") as permit:
            ran.append(permit.params)
            permit.result = {"ok": True}
        self.assertEqual(ran, [{"amount": 5000}])
        self.assertTrue(permit.failed_open)
        self.assertTrue(permit.reported)
        c.report(c.check("x"), "completed")  # nothing to report to: no error

    def test_without_fail_open_an_unreachable_holdpoint_is_a_connection_error_after_every_retry(self):
        with self.assertRaises(ConnectionError) as cm:
            client(closed_port(), fail_open=False).check("x")
        self.assertEqual(cm.exception.code, "connection_failed")
        self.assertEqual(cm.exception.attempts, 3)
        ran = []
        with self.assertRaises(ConnectionError):
            with client(closed_port(), fail_open=False).guard("x", {}, "k-2"):
                ran.append(1)
        self.assertEqual(ran, [])

    def test_no_answer_within_the_timeout_opens_as_a_timeout(self):
        fake = Fake(delay=1.5)
        try:
            d = client(fake.base, timeout=0.3, retries=1).check("x")
            self.assertTrue(d.failed_open)
            self.assertIn("timeout", d.reason)
            self.assertEqual(fake.requests, 2)
        finally:
            fake.close()

    def test_holdpoints_own_503_dependency_unavailable_opens(self):
        fake = Fake(503, {"error": {"code": "dependency_unavailable", "message": "Postgres cannot be reached"}})
        try:
            self.assertTrue(client(fake.base).check("x").failed_open)
            self.assertEqual(fake.requests, 3)
            with self.assertRaises(ConnectionError) as cm:
                client(fake.base, fail_open=False).check("x")
            self.assertEqual(cm.exception.code, "dependency_unavailable")
        finally:
            fake.close()


class StaysClosedOnEverythingElse(unittest.TestCase):
    def assert_closed(self, fake, error, code, requests):
        for attempt in (lambda c: c.check("x"), lambda c: c.guard("x", {}, "k").__enter__()):
            before = fake.requests
            with self.assertRaises(error) as cm:
                attempt(client(fake.base))
            self.assertEqual(cm.exception.code, code)
            self.assertEqual(fake.requests - before, requests)

    def test_a_500_internal_error_is_a_server_error_retried_then_raised(self):
        fake = Fake(500, {"error": {"code": "internal_error", "message": "boom"}})
        try:
            self.assert_closed(fake, ServerError, "internal_error", 3)
        finally:
            fake.close()

    def test_a_proxys_bare_502_and_503_are_server_errors(self):
        for status in (502, 503):
            fake = Fake(status, b"<html>Bad Gateway</html>")
            try:
                self.assert_closed(fake, ServerError, f"http_{status}", 3)
            finally:
                fake.close()

    def test_a_401_is_an_auth_error_and_never_retried(self):
        fake = Fake(401, {"error": {"code": "unauthorized", "message": "unknown key"}})
        try:
            self.assert_closed(fake, AuthError, "unauthorized", 1)
        finally:
            fake.close()

    def test_a_2xx_that_is_not_a_holdpoint_answer_is_refused(self):
        fake = Fake(200, b"<html>captive portal</html>")
        try:
            self.assert_closed(fake, HoldpointError, "unexpected_response", 1)
        finally:
            fake.close()

    def test_params_json_cannot_carry_raise_invalid_request_before_anything_is_sent(self):
        fake = Fake(200, {"decision": "allow", "reasons": [], "decision_id": "d"})
        try:
            c = client(fake.base)
            for params, code in (({"amount": float("nan")}, "invalid_number"), ({"amount": float("inf")}, "invalid_number"),
                                 ({"amount": 2**64}, "invalid_number"), ({"to": {"a", "b"}}, "not_serialisable")):
                with self.assertRaises(InvalidRequest) as cm:
                    c.check("payment.send", params)
                self.assertEqual(cm.exception.code, code)
                with self.assertRaises(InvalidRequest):
                    with c.guard("payment.send", params, "k-nan"):
                        self.fail("the block must not run")
            self.assertEqual(fake.requests, 0)
        finally:
            fake.close()

    def test_a_bad_base_url_or_key_fails_in_the_constructor(self):
        for kw in ({"base_url": "ftp://x"}, {"base_url": "not a url"}, {"api_key": "has space"}):
            with self.assertRaises(HoldpointError) as cm:
                HoldpointClient(**{"api_key": "hp_agent_x", **kw})
            self.assertEqual(cm.exception.code, "config_invalid")


class AsyncFailOpen(unittest.IsolatedAsyncioTestCase):
    async def test_the_async_client_opens_on_an_outage_and_only_then(self):
        c = AsyncHoldpointClient("hp_agent_test", base_url=closed_port(), fail_open=True, retries=1, retry_delay=0.01)
        d = await c.check("x", {"n": 1})
        self.assertTrue(d.failed_open)
        async with c.guard("x", {"n": 1}, "k") as permit:
            self.assertTrue(permit.failed_open)
        fake = Fake(500, {"error": {"code": "internal_error", "message": "boom"}})
        try:
            c = AsyncHoldpointClient("hp_agent_test", base_url=fake.base, fail_open=True, retries=1, retry_delay=0.01)
            with self.assertRaises(ServerError):
                await c.check("x")
            with self.assertRaises(InvalidRequest):
                await c.check("x", {"amount": float("nan")})
            self.assertEqual(fake.requests, 2)
        finally:
            await asyncio.to_thread(fake.close)

    async def test_the_async_client_times_out_as_a_timeout(self):
        fake = Fake(delay=1.5)
        try:
            c = AsyncHoldpointClient("hp_agent_test", base_url=fake.base, fail_open=False, timeout=0.3, retries=0)
            with self.assertRaises(ConnectionError) as cm:
                await c.check("x")
            self.assertEqual(cm.exception.code, "timeout")
        finally:
            await asyncio.to_thread(fake.close)


if __name__ == "__main__":
    unittest.main()
