"""The SDK's flows talk to Holdpoint by yielding operations, never by doing
I/O themselves (sans-I/O, like the server's pure core): a flow yields an
:class:`Attempt` (one HTTP exchange) or a :class:`Sleep`, and a driver — the
blocking one in ``client.py``, the asyncio one in ``aio.py`` — performs it and
sends back a :class:`Response` or :class:`Unreachable`. So the sync and async
clients share every decision about retries, errors, waiting and claiming.

What failed decides what the caller may do about it, and ``fail_open``
trusts this classification (as the TypeScript SDK's ``transport.ts``): only
the network (refused, reset, unresolvable, timed out, a broken response) and
Holdpoint's own ``503 dependency_unavailable`` are a ConnectionError. Another
5xx is a ServerError; a body JSON cannot carry is an InvalidRequest before
anything is sent; a 4xx is the server's final word and never retries.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any, Generator, Optional, Union
from urllib.parse import quote, urlsplit

from ._json import dumps, loads, snapshot
from .errors import AuthError, ConnectionError, HoldpointError, InvalidRequest, ServerError

log = logging.getLogger("holdpoint")
# A library logs; the application decides where that goes.
log.addHandler(logging.NullHandler())

VERSION = "0.1.0"
USER_AGENT = f"holdpoint-python/{VERSION}"
MAX_DELAY_S = 5.0


@dataclass(frozen=True)
class Config:
    base_url: str
    api_key: str
    agent_id: Optional[str]
    timeout: float
    retries: int
    retry_delay: float
    fail_open: bool
    #: Replay mode (``_replay.Replay``), when on: record answers, or answer from a recording.
    replay: Any = None

    @property
    def offline(self) -> bool:
        """In replay mode nothing may reach a server."""
        return self.replay is not None and self.replay.mode == "replay"

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def port(self) -> int:
        u = urlsplit(self.base_url)
        return u.port or (443 if u.scheme == "https" else 80)

    @property
    def tls(self) -> bool:
        return urlsplit(self.base_url).scheme == "https"

    @property
    def prefix(self) -> str:
        return urlsplit(self.base_url).path.rstrip("/")

    def headers(self, body: Optional[bytes]) -> dict:
        h = {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if body is not None:
            h["Content-Type"] = "application/json"
        return h


@dataclass(frozen=True)
class Attempt:
    """One HTTP exchange; ``timeout`` in seconds."""

    method: str
    path: str
    body: Optional[bytes]
    timeout: float


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


@dataclass(frozen=True)
class Unreachable:
    """The network failed: ``code`` is ``connection_failed`` or ``timeout``."""

    code: str
    message: str


Op = Union[Attempt, Sleep]
Outcome = Union[Response, Unreachable, None]
Flow = Generator[Op, Outcome, Any]


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    attempts: int


def backoff(attempt: int, base: float, cap: float = MAX_DELAY_S) -> float:
    """Exponential backoff with jitter: somewhere in [½, 1] of base·2ⁿ, capped."""
    d = min(cap, base * 2**attempt)
    return d / 2 + random.random() * (d / 2)


#: The server's codes for a request that is wrong in itself.
INVALID = {"validation_failed", "malformed_json", "invalid_number"}
#: The failures fail_open may turn into an allow: Holdpoint unreachable, nothing else.
OUTAGES = {"connection_failed", "timeout", "dependency_unavailable"}


def is_outage(err: BaseException) -> bool:
    return isinstance(err, ConnectionError) and err.code in OUTAGES


def from_response(status: int, body: Any, attempts: int) -> HoldpointError:
    e = body.get("error") if isinstance(body, dict) else None
    e = e if isinstance(e, dict) else {}
    code = e["code"] if isinstance(e.get("code"), str) else f"http_{status}"
    message = e["message"] if isinstance(e.get("message"), str) else f"Holdpoint answered HTTP {status}"
    kw = dict(status=status, details=e.get("details"), attempts=attempts)
    if status in (401, 403):
        return AuthError(code, message, **kw)
    # Only Holdpoint saying its own dependencies are down is an outage; a bare 503 may be anyone's.
    if status == 503 and code == "dependency_unavailable":
        return ConnectionError(code, message, **kw)
    if status >= 500:
        return ServerError(code, message, **kw)
    if status >= 400 and code in INVALID:
        return InvalidRequest(code, message, **kw)
    if status >= 400:
        return HoldpointError(code, message, **kw)
    return HoldpointError("unexpected_response", f"Holdpoint answered HTTP {status}, which is not an answer", **kw)


def request(
    cfg: Config,
    method: str,
    path: str,
    body: Any = None,
    *,
    timeout: Optional[float] = None,
    retries: Optional[int] = None,
) -> Generator[Op, Outcome, Reply]:
    """One API call with retries: network errors, timeouts and 5xx retry with
    backoff (safe: every write carries an idempotency key or is settled by the
    server's state); a 4xx raises at once."""
    # Serialised once, before the first attempt: a body JSON cannot carry is the caller's InvalidRequest, never a network error.
    raw = None if body is None else dumps(snapshot(body))
    if cfg.offline:
        raise HoldpointError("replay_offline", f"{method} {path.split('?')[0]} needs a server, and in replay mode nothing reaches one")
    n = max(0, cfg.retries if retries is None else retries)
    t = cfg.timeout if timeout is None else timeout
    last: Optional[HoldpointError] = None
    for attempt in range(n + 1):
        if attempt > 0:
            log.info("holdpoint: retrying %s %s (attempt %d): %s", method, path, attempt + 1, last)
            yield Sleep(backoff(attempt - 1, cfg.retry_delay))
        out = yield Attempt(method, cfg.prefix + path, raw, t)
        if isinstance(out, Unreachable):
            last = ConnectionError(out.code, out.message, attempts=attempt + 1)
            continue
        assert isinstance(out, Response)
        parsed = loads(out.body)
        if 200 <= out.status < 300:
            return Reply(out.status, parsed, attempt + 1)
        last = from_response(out.status, parsed, attempt + 1)
        if out.status < 500:
            raise last
    assert last is not None
    raise last


def by_key(key: str) -> str:
    return f"/v1/approvals/by-key/{quote(key, safe='')}"


def approval_path(approval_id: str, tail: str = "") -> str:
    return f"/v1/approvals/{quote(approval_id, safe='')}{tail}"


def unreachable_message(cfg: Config, op: Attempt, why: str) -> str:
    return f"cannot reach Holdpoint at {cfg.base_url} ({op.method} {op.path}: {why})"
