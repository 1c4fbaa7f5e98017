"""Permits: permission to act, from ``guard``. Each reports at most once
(``complete`` or ``fail``); a ``with`` block reports for you — the block's
``permit.result`` when it ends, ``fail`` with the exception when it raises.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Awaitable, Callable, Dict, List, Optional

from . import _flows
from ._json import jsonable_error, snapshot
from ._wire import Config, Flow
from .errors import HoldpointError, InvalidRequest, parse_time
from .types import Grant

__all__ = ["Permit", "AsyncPermit"]


class _PermitFields:
    """What a permit carries; shared by the sync and async permits."""

    def __init__(self, cfg: Config, grant: Grant) -> None:
        self._cfg = cfg
        self._grant = grant
        a = grant.approval or {}
        #: None for a plain allow (and when failed open).
        self.approval_id: Optional[str] = a.get("id")
        #: None only when failed open.
        self.decision_id: Optional[str] = grant.decision_id
        #: Who approved (``decided_by``); None for a plain allow.
        self.approver: Optional[str] = a.get("decided_by")
        self.approved_at: Optional[datetime] = parse_time(a.get("decided_at"))
        #: The params to act on: what Holdpoint granted — the approval's when a
        #: human decided, the server's redacted ones when the policy masked
        #: sensitive values — never the caller's unredacted originals.
        self.params: Dict[str, Any] = grant.params
        #: True when ``params`` differ from what was sent (the policy redacted something).
        self.modified: bool = grant.modified
        self.redacted_paths: List[str] = grant.redacted_paths
        #: The execution lease token for an approval; None for a plain allow.
        self.claim_token: Optional[str] = grant.claim_token
        #: The approval as it stood after the claim (status ``executing``); None for a plain allow.
        self.approval: Optional[Dict[str, Any]] = grant.approval
        self.reasons = grant.reasons
        self.risk_score = grant.risk_score
        #: True when Holdpoint was unreachable and ``fail_open=True`` allowed it anyway (reports then do nothing).
        self.failed_open: bool = grant.kind == "failed_open"
        #: What leaving a ``with`` block completes the permit with; set it in the block.
        self.result: Any = None
        self._reported = False

    @property
    def reported(self) -> bool:
        """True once ``complete`` or ``fail`` has succeeded."""
        return self._reported

    def _report_flow(self, ok: bool, payload: Any, cost_usd: Any, duration_ms: Any) -> Flow:
        if self._reported:
            raise HoldpointError("already_reported", "this permit was already completed or failed")
        # Refused before anything is sent, and the permit can still report.
        payload = snapshot(payload, "result" if ok else "error") if payload is not None else None
        _flows._spent({}, cost_usd, duration_ms)
        g = self._grant
        if g.kind == "allowed":
            yield from _flows.report_allowed(self._cfg, g.decision_id or "", ok, payload, cost_usd, duration_ms)
        elif g.kind == "claimed":
            yield from _flows.report_claimed(self._cfg, self.approval_id or "", g.claim_token or "", ok, payload, cost_usd, duration_ms)
        # failed_open and replayed: there is no server to report to.
        self._reported = True
        return None

    def __repr__(self) -> str:
        who = f"approved by {self.approver}" if self.approver else ("failed open" if self.failed_open else "allowed")
        return f"<{type(self).__name__} {who} approval_id={self.approval_id!r} decision_id={self.decision_id!r} modified={self.modified}>"


class Permit(_PermitFields):
    """Permission to act (sync client). Act on ``permit.params``, then call
    ``complete`` or ``fail`` exactly once — or let a ``with`` block do it.

    Example::

        permit = client.permit("payment.send", {"amount": 20}, "inv-1")
        try:
            receipt = pay(**permit.params)
        except Exception as err:
            permit.fail(err)
            raise
        permit.complete({"payment_id": receipt.id})
    """

    def __init__(self, cfg: Config, grant: Grant, run: Callable[[Flow], Any]) -> None:
        super().__init__(cfg, grant)
        self._run = run

    def complete(self, result: Any = None, *, cost_usd: Any = None, duration_ms: Any = None) -> None:
        """Reports success (``POST /v1/report`` or ``/v1/approvals/{id}/complete``),
        with what it cost (``cost_usd``: a budget reservation becomes this
        spend) and took (``duration_ms``) when given; a ``with`` block
        measures the duration itself. Bad values raise :class:`InvalidRequest`
        before anything is sent."""
        self._run(self._report_flow(True, result, cost_usd, duration_ms))

    def fail(self, error: Any = None, *, cost_usd: Any = None, duration_ms: Any = None) -> None:
        """Reports failure; an exception is sent as ``{name, message}``."""
        self._run(self._report_flow(False, jsonable_error(error) if isinstance(error, BaseException) else error, cost_usd, duration_ms))


class AsyncPermit(_PermitFields):
    """Permission to act (async client): ``await permit.complete(result)`` or ``await permit.fail(err)``."""

    def __init__(self, cfg: Config, grant: Grant, run: Callable[[Flow], Awaitable[Any]]) -> None:
        super().__init__(cfg, grant)
        self._run = run

    async def complete(self, result: Any = None, *, cost_usd: Any = None, duration_ms: Any = None) -> None:
        await self._run(self._report_flow(True, result, cost_usd, duration_ms))

    async def fail(self, error: Any = None, *, cost_usd: Any = None, duration_ms: Any = None) -> None:
        await self._run(self._report_flow(False, jsonable_error(error) if isinstance(error, BaseException) else error, cost_usd, duration_ms))


def _not_serialisable(err: InvalidRequest) -> Dict[str, Any]:
    return {"result_not_serialisable": err.message}


def _report_failed(err: BaseException, result: Any) -> HoldpointError:
    e = HoldpointError("report_failed", f"the action ran but its completion could not be reported: {err}", details={"result": result})
    e.__cause__ = err
    return e


def finish(permit: Permit, error: Optional[BaseException], duration_ms: Optional[int] = None) -> None:
    """Reports how a guarded block ended (sync): ``complete(permit.result)``, or
    ``fail(error)`` — a failure to report a failure is swallowed, so the
    block's own exception is the one that propagates — with ``duration_ms``,
    how long the block ran. A result JSON cannot carry still completes (the
    action ran), with why it is not on the record."""
    if permit.reported:
        return
    if error is not None:
        try:
            permit.fail(error, duration_ms=duration_ms)
        except InvalidRequest:
            try:
                permit.fail({"name": type(error).__name__, "message": repr(error)}, duration_ms=duration_ms)
            except Exception:
                pass
        except Exception:
            pass
        return
    try:
        try:
            permit.complete(permit.result, duration_ms=duration_ms)
        except InvalidRequest as err:
            if permit.reported:
                raise
            permit.complete(_not_serialisable(err), duration_ms=duration_ms)
    except Exception as err:
        raise _report_failed(err, permit.result) from err


async def finish_async(permit: AsyncPermit, error: Optional[BaseException], duration_ms: Optional[int] = None) -> None:
    """``finish`` for the async client."""
    if permit.reported:
        return
    if error is not None:
        try:
            await permit.fail(error, duration_ms=duration_ms)
        except InvalidRequest:
            try:
                await permit.fail({"name": type(error).__name__, "message": repr(error)}, duration_ms=duration_ms)
            except Exception:
                pass
        except Exception:
            pass
        return
    try:
        try:
            await permit.complete(permit.result, duration_ms=duration_ms)
        except InvalidRequest as err:
            if permit.reported:
                raise
            await permit.complete(_not_serialisable(err), duration_ms=duration_ms)
    except Exception as err:
        raise _report_failed(err, permit.result) from err
