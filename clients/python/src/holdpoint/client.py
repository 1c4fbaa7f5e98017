"""The blocking client: ``HoldpointClient``. Standard library only
(``http.client``); one connection per request, so it is safe to share
between threads and has nothing to go stale across a server restart."""
from __future__ import annotations

import http.client
import socket
import ssl
import time
from types import TracebackType
from typing import Any, Dict, Iterable, Optional, Type, Union

from . import _flows
from ._config import ConfiguredClient
from ._usage import Instant, usage_path
from ._wire import Attempt, Config, Flow, Response, Sleep, Unreachable, approval_path, by_key, unreachable_message
from .permit import Permit, finish
from .types import Approval, Decision, Usage

__all__ = ["HoldpointClient", "Guard"]

Wait = Union[bool, int, float, None]


def attempt(cfg: Config, op: Attempt, ssl_context: Optional[ssl.SSLContext] = None) -> Union[Response, Unreachable]:
    """One blocking HTTP exchange; a network failure comes back as Unreachable, never raised."""
    if cfg.tls:
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(cfg.host, cfg.port, timeout=op.timeout, context=ssl_context)
    else:
        conn = http.client.HTTPConnection(cfg.host, cfg.port, timeout=op.timeout)
    try:
        headers = cfg.headers(op.body)
        headers["Connection"] = "close"
        conn.request(op.method, op.path, body=op.body, headers=headers)
        res = conn.getresponse()
        return Response(res.status, res.read())
    except (socket.timeout, TimeoutError) as err:
        return Unreachable("timeout", unreachable_message(cfg, op, f"no answer within {op.timeout:g} s ({err or 'timed out'})"))
    except (OSError, http.client.HTTPException) as err:
        return Unreachable("connection_failed", unreachable_message(cfg, op, f"{type(err).__name__}: {err}"))
    finally:
        conn.close()


class HoldpointClient(ConfiguredClient):
    """The Holdpoint client. Ask before acting with ``guard`` (a context
    manager), or just ask with ``check``.

    ``api_key`` defaults to ``HOLDPOINT_API_KEY``; ``base_url`` to
    ``HOLDPOINT_URL``, else ``http://localhost:8080``. ``timeout`` is per HTTP
    attempt in seconds (long-polls add their wait); network errors, timeouts
    and 5xx retry ``retries`` times with backoff; 4xx never retry.
    ``fail_open=True`` allows ``check`` / ``guard`` only when Holdpoint cannot
    be reached (connection refused or reset, DNS, timeout, Holdpoint's own
    ``503 dependency_unavailable``), saying so (``failed_open``).
    ``replay=record_to(path)`` records every check / guard answer to a JSON
    Lines file; ``replay=replay_from(path)`` answers from it with no server
    (no key needed), raising :class:`ReplayDivergence` for anything it does
    not hold.

    Example::

        from holdpoint import HoldpointClient

        client = HoldpointClient("hp_agent_…", base_url="http://localhost:8080", agent_id="billing-bot")
        with client.guard("payment.send", {"amount": 5000}, f"invoice-{invoice_id}", wait=600) as permit:
            permit.result = bank.pay(**permit.params)   # completed with this when the block ends
    """

    def _run(self, flow: Flow) -> Any:
        out: Any = None
        while True:
            try:
                op = flow.send(out)
            except StopIteration as stop:
                return stop.value
            if isinstance(op, Sleep):
                if op.seconds > 0:
                    time.sleep(op.seconds)
                out = None
            else:
                out = attempt(self._cfg, op, self._ssl)

    def check(
        self,
        action: str,
        params: Optional[Dict[str, Any]] = None,
        agent_id: Optional[str] = None,
        context: Optional[Dict[str, Any]] = None,
        cost_usd: Optional[float] = None,
        tags: Optional[Iterable[str]] = None,
    ) -> Decision:
        """Evaluates the policy for an action without parking anything
        (``POST /v1/check``). A redacting policy answers ``modified`` (not
        ``allowed``) with the redacted ``params``: act on those. ``cost_usd`` is
        what a budget guard reserves; ``tags`` (at most 20, each 1–64
        characters of letters, digits and ``_ . : / -``, not starting with
        ``. : / -``) go to the decision log. Params JSON cannot carry, and
        tags or a cost the server would refuse, raise :class:`InvalidRequest`
        before anything is sent.

        Example::

            d = client.check("email.send", params={"to": "ceo@example.com"})
            if d.requires_approval:
                print("a human would have to decide:", d.reason)
        """
        return self._run(_flows.check(self._cfg, action, params, agent_id, context, cost_usd, tags))

    def report(
        self,
        decision: Decision,
        status: str,
        result: Any = None,
        error: Any = None,
        duration_ms: Optional[int] = None,
        cost_usd: Optional[float] = None,
    ) -> None:
        """Reports what came of an action ``check`` allowed (``POST /v1/report``):
        ``status`` is ``"completed"`` / ``"success"`` or ``"failed"`` / ``"error"``.
        ``cost_usd`` turns the budget reservation into spend. A failed-open
        decision has nothing to report to and is a no-op.

        Example::

            client.report(d, "completed", result={"message_id": mid}, duration_ms=84)
        """
        self._run(_flows.report(self._cfg, decision, status, result, error, duration_ms, cost_usd))

    def permit(
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
    ) -> Permit:
        """``guard`` without the ``with``: returns the :class:`Permit` (report
        it yourself with ``complete`` / ``fail``) or raises what ``guard`` raises.

        Example::

            permit = client.permit("payment.send", {"amount": 20}, "inv-1000")
            permit.complete(pay(**permit.params))
        """
        grant = self._run(
            _flows.guard(
                self._cfg, action, params, idempotency_key, agent_id=agent_id, context=context,
                timeout_seconds=timeout_seconds, callback_url=callback_url, wait=wait,
                lease_seconds=lease_seconds, cost_usd=cost_usd, tags=tags,
            )
        )
        return Permit(self._cfg, grant, self._run)

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
    ) -> "Guard":
        """Asks before acting (``POST /v1/guard``), as a context manager. On
        entry: the policy allows it, or a human approved it and this process
        has **claimed** it (so two processes retrying one key never both run
        the block) — the block gets a :class:`Permit`. Otherwise entry raises
        :class:`ActionDenied`, :class:`ActionPending` (undecided, and not
        waiting), :class:`ActionRejected`, :class:`ActionTimeout`,
        :class:`ActionClaimed`, or ``HoldpointError`` ``cancelled``, and the
        block never runs. ``wait=True`` blocks until the approval's deadline,
        ``wait=600`` for that many seconds, long-polling through server
        restarts. Leaving the block completes the permit with
        ``permit.result``; an exception fails it and propagates.

        Act on ``permit.params``: what was approved, redacted where the policy
        redacted — never the unredacted originals.

        Example::

            try:
                with client.guard("payment.send", {"amount": 5000, "to": "acct_42"}, "invoice-1001", wait=900) as permit:
                    permit.result = bank.pay(**permit.params)
                    print("approved by", permit.approver)
            except ActionRejected as err:
                print(f"rejected by {err.rejected_by}: {err.reason}")
        """
        kw = dict(
            agent_id=agent_id, context=context, timeout_seconds=timeout_seconds, callback_url=callback_url,
            wait=wait, lease_seconds=lease_seconds, cost_usd=cost_usd, tags=tags,
        )
        return Guard(self, action, params, idempotency_key, kw)

    def wait_for_decision(self, idempotency_key: str, timeout: Optional[float] = None) -> Approval:
        """Blocks until the approval for a key is decided and returns it
        (whatever the decision); raises :class:`ActionPending` if ``timeout``
        seconds (default: the approval's own deadline) pass first."""
        return self._run(_flows.wait_for_decision(self._cfg, idempotency_key, timeout))

    def get_approval(self, approval_id: str) -> Approval:
        """``GET /v1/approvals/{id}``."""
        return self._run(_flows.get(self._cfg, approval_path(approval_id)))

    def get_approval_by_key(self, idempotency_key: str) -> Approval:
        """The approval for an idempotency key, as it is now."""
        return self._run(_flows.get(self._cfg, by_key(idempotency_key)))

    def cancel(self, id_or_key: str, reason: Optional[str] = None) -> Approval:
        """Cancels a pending approval, by id or idempotency key; a decided one raises ``already_decided``."""
        return self._run(_flows.cancel(self._cfg, id_or_key, reason))

    def usage(
        self,
        agent_id: Optional[str] = None,
        session_id: Optional[str] = None,
        run_id: Optional[str] = None,
        since: Instant = None,
        until: Instant = None,
    ) -> Usage:
        """Spend and calls so far (``GET /v1/usage``): the budgets' counters and
        the ledger's totals for a session (``context.session_id``), a run
        (``context.run_id``) and each action between ``since`` and ``until``
        (default today, UTC) — AgentSentinel's ``CostTracker.get_session_total()``
        / ``get_run_total()`` / ``get_action_stats()``, shared by every process.
        ``agent_id`` is not taken from the client: without it the totals
        count every agent. Needs an agent or approver key.

        Example::

            u = client.usage(agent_id="bot", run_id="nightly-42")
            print(f"run so far: ${u['run']['spent_usd']:.2f} spent, ${u['run']['held_usd']:.2f} held")
        """
        return self._run(_flows.get(self._cfg, usage_path(agent_id, session_id, run_id, since, until)))

    def close(self) -> None:
        """Nothing to release (one connection per request); here for symmetry with the async client."""

    def __enter__(self) -> "HoldpointClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Guard:
    """What ``HoldpointClient.guard`` returns: ``with`` it to get a Permit."""

    def __init__(self, client: HoldpointClient, action: str, params: Any, idempotency_key: Any, kw: Dict[str, Any]) -> None:
        self._client = client
        self._action = action
        self._params = params
        self._key = idempotency_key
        self._kw = kw
        self._started = 0.0
        self.permit: Optional[Permit] = None

    def __enter__(self) -> Permit:
        self.permit = self._client.permit(self._action, self._params, self._key, **self._kw)
        self._started = time.monotonic()
        return self.permit

    def __exit__(self, et: Optional[Type[BaseException]], ev: Optional[BaseException], tb: Optional[TracebackType]) -> bool:
        if self.permit is not None:
            # The with statement always passes the exception instance; None means the block ended normally.
            # How long the block ran goes with the report, as AgentSentinel's duration_ms.
            finish(self.permit, ev if et is not None else None, round((time.monotonic() - self._started) * 1000))
        return False
