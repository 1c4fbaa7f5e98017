"""What the Python tests need from the real world: a real ``holdpoint start``
on a free port, with its own database and its own Redis prefix, a tenant,
two approvers with keys bound to them, and ways to decide, kill and restart.

Names: ``<HOLDPOINT_PYTEST_PREFIX><random>`` for the database and the queue
prefix (default prefix ``hp_pytest_``; run from ``npm test`` it is the vitest
run's own ``hpt_<run>_py``, so that run's teardown also removes anything a
crashed Python run left). Everything created is dropped or deleted when the
process exits; nothing else is touched. The server dies with this process
(PR_SET_PDEATHSIG on Linux), so a killed test run leaves no server behind.
"""
from __future__ import annotations

import atexit
import base64
import ctypes
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
PY_ROOT = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(PY_ROOT))
SRC = os.path.join(PY_ROOT, "src")
BIN = os.path.join(ROOT, "bin", "holdpoint.js")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

ADMIN_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
PREFIX = os.environ.get("HOLDPOINT_PYTEST_PREFIX", "hp_pytest_")
NODE = os.environ.get("NODE", "node")

T = TypeVar("T")

#: A policy every test file can share: each behaviour has its own action.
POLICY: Dict[str, Any] = {
    "defaults": {"decision": "allow", "timeout_seconds": 300, "min_timeout_seconds": 1, "on_timeout": "reject"},
    "rules": [
        {"name": "never-drop", "match": {"action": "database.drop*"}, "decision": "deny", "reason": "Dropping databases is never allowed"},
        {
            "name": "big-payments",
            "match": {"action": "payment.*", "when": {"params.amount": {"gt": 1000}}},
            "decision": "require_approval",
            "reason": "Payments over 1000 need a human",
        },
        {"name": "deploys", "match": {"action": "deploy.*"}, "decision": "require_approval", "reason": "Deploys need a human"},
        {"name": "deletes", "match": {"action": "database.delete"}, "decision": "require_approval", "reason": "Deleting rows needs a human"},
        {
            "name": "quick-expiry",
            "match": {"action": "quick.*"},
            "decision": "require_approval",
            "reason": "Nobody will answer this in time",
            "approval": {"timeout_seconds": 2, "min_timeout_seconds": 1, "on_timeout": "reject"},
        },
        {
            "name": "email-review",
            "match": {"action": "email.review"},
            "decision": "require_approval",
            "reason": "Outbound e-mail to customers is reviewed",
        },
    ],
    "guards": {"sensitive_data": {"on_finding": "redact"}},
}


def _pdeathsig() -> None:
    """In the child before exec: die with the parent (Linux), so no server outlives a killed test run.
    The signal follows the *thread* that spawned the child, so servers are started from the main thread."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(fn: Callable[[], Optional[T]], timeout: float = 15.0, what: str = "a condition", interval: float = 0.05) -> T:
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def call(base: str, method: str, path: str, key: Optional[str] = None, body: Any = None, timeout: float = 30) -> Tuple[int, Any]:
    """A plain HTTP call for the test's own side (deciding, reading); not the SDK."""
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    headers = {"Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    raw = None
    if body is not None:
        raw = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=raw, headers=headers)
        res = conn.getresponse()
        data = res.read()
        try:
            return res.status, json.loads(data) if data else None
        except ValueError:
            return res.status, data.decode("utf-8", "replace")
    finally:
        conn.close()


class _Redis:
    """Just enough RESP to SCAN and UNLINK our own keys."""

    def __init__(self, url: str) -> None:
        u = urlsplit(url)
        self.sock = socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=10)
        self.f = self.sock.makefile("rb")
        if u.password:
            self.cmd("AUTH", u.password)
        db = (u.path or "/").strip("/")
        if db:
            self.cmd("SELECT", db)

    def cmd(self, *args: str) -> Any:
        out = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args)
        self.sock.sendall(out)
        return self._read()

    def _read(self) -> Any:
        line = self.f.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode()
        if kind == b"*":
            return [self._read() for _ in range(int(rest))]
        raise RuntimeError(f"unexpected redis reply {line!r}")

    def delete_prefix(self, prefix: str) -> int:
        cursor, n = "0", 0
        while True:
            cursor, keys = self.cmd("SCAN", cursor, "MATCH", prefix + "*", "COUNT", "500")
            if keys:
                n += self.cmd("UNLINK", *keys)
            if cursor == "0":
                return n

    def close(self) -> None:
        self.sock.close()


class Server:
    """One real ``holdpoint start`` (API and workers) with its own database and queue prefix."""

    def __init__(self) -> None:
        self.name = f"{PREFIX}{secrets.token_hex(4)}"
        admin = urlsplit(ADMIN_DATABASE_URL)
        self.database_url = admin._replace(path=f"/{self.name}").geturl()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix=f"{self.name}-", suffix=".log", delete=False)
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": REDIS_URL,
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "HOLDPOINT_QUEUE_PREFIX": self.name,
            "HOLDPOINT_WEBHOOK_ALLOW_PRIVATE": "true",
            # Any 32 bytes: nothing sealed here is real, and no key file is written into the checkout.
            "HOLDPOINT_SECRET_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "LOG_LEVEL": "warn",
        }
        self.proc: Optional[subprocess.Popen] = None
        self.created = False
        self.keys: Dict[str, str] = {}
        self.tenant_id = ""
        self.webhook_secret = ""
        self.approvers: Dict[str, str] = {}

    # -- processes ---------------------------------------------------------
    def cli(self, *args: str) -> str:
        p = subprocess.run([NODE, BIN, *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise RuntimeError(f"holdpoint {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
        return p.stdout

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.proc = subprocess.Popen(
            [NODE, BIN, "start"], cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=_pdeathsig,
        )
        deadline = time.monotonic() + 90
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"holdpoint exited early ({self.proc.returncode}):\n{self.output()}")
            try:
                if call(self.base, "GET", "/readyz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"holdpoint not ready in 90 s:\n{self.output()}")
            time.sleep(0.1)

    def kill(self) -> int:
        """SIGKILL: no shutdown of any kind, as a crash."""
        assert self.proc is not None
        self.proc.kill()
        return self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def output(self) -> str:
        with open(self.log.name, "r", encoding="utf-8", errors="replace") as f:
            return f.read()[-4000:]

    # -- setup -------------------------------------------------------------
    def provision(self) -> None:
        self.created = True
        self.cli("migrate")
        self.start()
        t = json.loads(self.cli("tenant", "create", "python-sdk-tests", "--json"))
        self.tenant_id = t["tenant_id"]
        self.keys = t["api_keys"]
        self.webhook_secret = t["webhook_secret"]
        for name in ("alice", "bob"):
            status, body = call(self.base, "POST", "/v1/approvers", self.keys["admin"], {"name": name})
            assert status in (200, 201), (status, body)
            self.approvers[name] = body["api_key"]
        self.set_policy(POLICY)

    def set_policy(self, policy: Dict[str, Any]) -> None:
        status, body = call(self.base, "PUT", "/v1/policy", self.keys["admin"], policy)
        assert status == 200, (status, body)

    def destroy(self) -> None:
        self.stop()
        if self.created:
            script = (
                "import postgres from 'postgres';"
                "const sql = postgres(process.env.ADMIN_URL, { max: 1, onnotice() {} });"
                "await sql.unsafe(`DROP DATABASE IF EXISTS \"${process.env.DB}\" WITH (FORCE)`);"
                "await sql.end();"
            )
            subprocess.run([NODE, "--input-type=module", "-e", script], cwd=ROOT, env={**os.environ, "ADMIN_URL": ADMIN_DATABASE_URL, "DB": self.name}, capture_output=True, timeout=60)
            try:
                r = _Redis(REDIS_URL)
                try:
                    r.delete_prefix(self.name)
                finally:
                    r.close()
            except OSError:
                pass
        self.log.close()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass

    # -- the test's own side ----------------------------------------------
    def approval_by_key(self, key: str) -> Optional[Dict[str, Any]]:
        status, body = call(self.base, "GET", f"/v1/approvals/by-key/{key}", self.keys["approver"])
        return body if status == 200 else None

    def wait_parked(self, key: str, timeout: float = 20) -> Dict[str, Any]:
        return wait_for(lambda: self.approval_by_key(key), timeout, f"the approval for {key}")

    def decide(self, approval_id: str, decision: str, who: str = "alice", reason: Optional[str] = None) -> Dict[str, Any]:
        body: Dict[str, Any] = {"decision": decision}
        if reason:
            body["reason"] = reason
        status, out = call(self.base, "POST", f"/v1/approvals/{approval_id}/decision", self.approvers[who], body)
        assert status == 200, (status, out)
        return out

    def approval(self, approval_id: str) -> Dict[str, Any]:
        status, body = call(self.base, "GET", f"/v1/approvals/{approval_id}", self.keys["approver"])
        assert status == 200, (status, body)
        return body

    def decision(self, action: str, decision_id: str) -> Dict[str, Any]:
        """The decision log's record of one decision (``report_status``, ``report_result``, …)."""
        status, body = call(self.base, "GET", f"/v1/decisions?action={action}&limit=100", self.keys["approver"])
        assert status == 200, (status, body)
        found = [d for d in body["data"] if d["id"] == decision_id]
        assert found, f"decision {decision_id} is not in the log for {action}"
        return found[0]


_shared: Optional[Server] = None


def shared() -> Server:
    """The server every test file shares (one per test process), started on first use and removed at exit."""
    global _shared
    if _shared is None:
        s = Server()
        atexit.register(s.destroy)
        s.provision()
        _shared = s
    if _shared.proc is None or _shared.proc.poll() is not None:
        _shared.start()  # a test killed it and did not bring it back
    return _shared


def unique(stem: str) -> str:
    """An idempotency key no earlier run or test has used."""
    return f"{stem}-{secrets.token_hex(4)}"
