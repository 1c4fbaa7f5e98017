"""The asyncio client: ``AsyncHoldpointClient``. Standard library only: a
small HTTP/1.1 exchange over ``asyncio.open_connection`` (one connection per
request), so a wait is an ordinary awaitable — cancel the task and the
connection closes, no thread is left blocked. Every decision is the same
flow the blocking client runs (``_flows.py``)."""
from __future__ import annotations

import asyncio
import ssl
import time
from types import TracebackType
from typing import Any, Dict, Iterable, Optional, Tuple, Type, Union
from urllib.parse import urlsplit

from . import _flows
from ._config import ConfiguredClient
from ._usage import Instant, usage_path
from ._wire import Attempt, Config, Flow, Response, Sleep, Unreachable, approval_path, by_key, unreachable_message
from .permit import AsyncPermit, finish_async
from .types import Approval, Decision, Usage

__all__ = ["AsyncHoldpointClient", "AsyncGuard"]

Wait = Union[bool, int, float, None]
MAX_HEADER_LINES = 200


class _BadResponse(Exception):
    pass


def _host_header(cfg: Config) -> str:
    netloc = urlsplit(cfg.base_url).netloc
    return netloc.rsplit("@", 1)[-1]


async def _read_headers(reader: asyncio.StreamReader) -> Tuple[int, Dict[str, str]]:
    line = await reader.readline()
    parts = line.decode("latin-1").split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise _BadResponse(f"not an HTTP response: {line[:80]!r}")
    status = int(parts[1])
    headers: Dict[str, str] = {}
    for _ in range(MAX_HEADER_LINES):
        h = await reader.readline()
        if h in (b"\r\n", b"\n"):
            return status, headers
        if not h:
            raise _BadResponse("connection closed in the response headers")
        name, _, value = h.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    raise _BadResponse("too many response headers")


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    while True:
        size_line = await reader.readline()
        size = int(size_line.split(b";", 1)[0].strip() or b"x", 16)
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            return bytes(out)
        out += await reader.readexactly(size)
        await reader.readexactly(2)


async def _exchange(cfg: Config, op: Attempt, ssl_context: Optional[ssl.SSLContext]) -> Response:
    ctx = (ssl_context or ssl.create_default_context()) if cfg.tls else None
    reader, writer = await asyncio.open_connection(cfg.host, cfg.port, ssl=ctx, server_hostname=cfg.host if ctx else None)
    try:
        headers = cfg.headers(op.body)
        headers["Host"] = _host_header(cfg)
        headers["Connection"] = "close"
        headers["Content-Length"] = str(len(op.body or b""))
        head = f"{op.method} {op.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(head.encode("latin-1") + (op.body or b""))
        await writer.drain()
        status, h = await _read_headers(reader)
        while 100 <= status < 200:  # an interim response (100 Continue): the real one follows
            status, h = await _read_headers(reader)
        if op.method == "HEAD" or status in (204, 304):
            body = b""
        elif "chunked" in h.get("transfer-encoding", "").lower():
            body = await _read_chunked(reader)
        elif "content-length" in h:
            body = await reader.readexactly(int(h["content-length"]))
        else:
            body = await reader.read()
        return Response(status, body)
    finally:
        writer.close()


async def attempt(cfg: Config, op: Attempt, ssl_context: Optional[ssl.SSLContext] = None) -> Union[Response, Unreachable]:
    """One HTTP exchange within ``op.timeout`` seconds; a network failure comes back as Unreachable, never raised."""
    try:
        return await asyncio.wait_for(_exchange(cfg, op, ssl_context), op.timeout)
    except asyncio.TimeoutError as err:
        return Unreachable("timeout", unreachable_message(cfg, op, f"no answer within {op.timeout:g} s{f' ({err})' if str(err) else ''}"))
    except (OSError, EOFError, ValueError, _BadResponse, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as err:
        return Unreachable("connection_failed", unreachable_message(cfg, op, f"{type(err).__name__}: {err}"))


class AsyncHoldpointClient(ConfiguredClient):
    """The asyncio Holdpoint client: the same methods as
    :class:`~holdpoint.HoldpointClient`, awaited, and ``async with`` for
    ``guard`` (and for the client itself).

    Example::

        async with AsyncHoldpointClient("hp_agent_…", agent_id="payment-bot") as client:
            async with client.guard("payment.send", {"amount": 5000}, "invoice-1001", wait=600) as permit:
                permit.result = await bank.pay(**permit.params)
    """

    async def _run(self, flow: Flow) -> Any:
        out: Any = None
        while True:
            try:
                op = flow.send(out)
            except StopIteration as stop:
                return stop.value
            if isinstance(op, Sleep):
                await asyncio.sleep(max(0.0, op.seconds))
                out = None
            else:
                out = await attempt(self._cfg, op, self._ssl)

    async def check(
        self,
        action: str,
        params: Optional[Dict[str, Any]] = None,
        agent_id: Optional[str] = None,
        context: Optional[Dict[str, Any]] = None,
        cost_usd: Optional[float] = None,
        tags: Optional[Iterable[str]] = None,
    ) -> Decision:
        """See :meth:`HoldpointClient.check`.

        Example::

            d = await client.check("database.drop", params={"table": "users"})
        """
        return await self._run(_flows.check(self._cfg, action, params, agent_id, context, cost_usd, tags))

    async def report(
        self,
        decision: Decision,
        status: str,
        result: Any = None,
        error: Any = None,
        duration_ms: Optional[int] = None,
        cost_usd: Optional[float] = None,
    ) -> None:
        """See :meth:`HoldpointClient.report`.

        Example::

            await client.report(d, "completed", result={"rows": 0})
        """
        await self._run(_flows.report(self._cfg, decision, status, result, error, duration_ms, cost_usd))

    async def permit(
        self,
        action: str,
        params: Optional[Dict[str, Any]] = None,
        idempotency_key: Optional[str] = None,
        *,
        agent_id: Optional[str] = None,
        context: Optional[Dict[str, Any]] = None,
        timeout_seconds: Optional[int] = None,
        callback_url: Optional[str] = None,
        wait: Wait = False,
        lease_seconds: Optional[int] = None,
        cost_usd: Optional[float] = None,
        tags: Optional[Iterable[str]] = None,
    ) -> AsyncPermit:
        """See :meth:`HoldpointClient.permit`.

        Example::

            permit = await client.permit("payment.send", {"amount": 20}, "inv-1000")
            await permit.complete(await pay(**permit.params))
        """
        grant = await self._run(
            _flows.guard(
                self._cfg, action, params, idempotency_key, agent_id=agent_id, context=context,
                timeout_seconds=timeout_seconds, callback_url=callback_url, wait=wait,
                lease_seconds=lease_seconds, cost_usd=cost_usd, tags=tags,
            )
        )
        return AsyncPermit(self._cfg, grant, self._run)

    def guard(
        self,
        action: str,
        params: Optional[Dict[str, Any]] = None,
        idempotency_key: Optional[str] = None,
        *,
        agent_id: Optional[str] = None,
        context: Optional[Dict[str, Any]] = None,
        timeout_seconds: Optional[int] = None,
        callback_url: Optional[str] = None,
        wait: Wait = False,
        lease_seconds: Optional[int] = None,
        cost_usd: Optional[float] = None,
        tags: Optional[Iterable[str]] = None,
    ) -> "AsyncGuard":
        """See :meth:`HoldpointClient.guard`; use it with ``async with``.

        Example::

            async with client.guard("payment.send", {"amount": 5000}, "invoice-1001", wait=True) as permit:
                permit.result = await bank.pay(**permit.params)
        """
        kw = dict(
            agent_id=agent_id, context=context, timeout_seconds=timeout_seconds, callback_url=callback_url,
            wait=wait, lease_seconds=lease_seconds, cost_usd=cost_usd, tags=tags,
        )
        return AsyncGuard(self, action, params, idempotency_key, kw)

    async def wait_for_decision(self, idempotency_key: str, timeout: Optional[float] = None) -> Approval:
        """See :meth:`HoldpointClient.wait_for_decision`."""
        return await self._run(_flows.wait_for_decision(self._cfg, idempotency_key, timeout))

    async def get_approval(self, approval_id: str) -> Approval:
        """``GET /v1/approvals/{id}``."""
        return await self._run(_flows.get(self._cfg, approval_path(approval_id)))

    async def get_approval_by_key(self, idempotency_key: str) -> Approval:
        """The approval for an idempotency key, as it is now."""
        return await self._run(_flows.get(self._cfg, by_key(idempotency_key)))

    async def cancel(self, id_or_key: str, reason: Optional[str] = None) -> Approval:
        """Cancels a pending approval, by id or idempotency key."""
        return await self._run(_flows.cancel(self._cfg, id_or_key, reason))

    async def usage(
        self,
        agent_id: Optional[str] = None,
        session_id: Optional[str] = None,
        run_id: Optional[str] = None,
        since: Instant = None,
        until: Instant = None,
    ) -> Usage:
        """See :meth:`HoldpointClient.usage`."""
        return await self._run(_flows.get(self._cfg, usage_path(agent_id, session_id, run_id, since, until)))

    async def close(self) -> None:
        """Nothing to release (one connection per request)."""

    async def __aenter__(self) -> "AsyncHoldpointClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class AsyncGuard:
    """What ``AsyncHoldpointClient.guard`` returns: ``async with`` it to get a Permit."""

    def __init__(self, client: AsyncHoldpointClient, action: str, params: Any, idempotency_key: Any, kw: Dict[str, Any]) -> None:
        self._client = client
        self._action = action
        self._params = params
        self._key = idempotency_key
        self._kw = kw
        self._started = 0.0
        self.permit: Optional[AsyncPermit] = None

    async def __aenter__(self) -> AsyncPermit:
        self.permit = await self._client.permit(self._action, self._params, self._key, **self._kw)
        self._started = time.monotonic()
        return self.permit

    async def __aexit__(self, et: Optional[Type[BaseException]], ev: Optional[BaseException], tb: Optional[TracebackType]) -> bool:
        if self.permit is not None:
            # The with statement always passes the exception instance; None means the block ended normally.
            # How long the block ran goes with the report, as AgentSentinel's duration_ms.
            await finish_async(self.permit, ev if et is not None else None, round((time.monotonic() - self._started) * 1000))
        return False
