"""Everything the SDK raises. One base class; the outcome errors (pending,
rejected, timed out, denied, claimed) are how ``guard`` says "do not act".

Mirrors the TypeScript SDK's ``src/sdk/errors.ts``: same codes, same split
between the network failing (:class:`ConnectionError`, the only thing
``fail_open`` may turn into an allow) and the server failing
(:class:`ServerError`).
"""
from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any, Dict, List, Optional

__all__ = [
    "HoldpointError",
    "AuthError",
    "ConnectionError",
    "ServerError",
    "InvalidRequest",
    "ActionPending",
    "ApprovalPending",
    "ActionRejected",
    "ActionTimeout",
    "ActionDenied",
    "ActionClaimed",
]

Approval = Dict[str, Any]


def parse_time(value: Any) -> Optional[datetime]:
    """An ISO 8601 timestamp from the server (``2026-11-30T08:25:31.194Z``) as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class HoldpointError(Exception):
    """The base of every error the SDK raises.

    ``code`` is the server's snake_case error code (``validation_failed``,
    ``idempotency_key_reused``, …) or one of the SDK's own
    (``config_missing``, ``config_invalid``, ``idempotency_key_missing``,
    ``connection_failed``, ``timeout``, ``unexpected_response``,
    ``not_serialisable``, ``invalid_number``, ``params_modified``,
    ``redacted_params_unavailable``, ``report_failed``, ``already_reported``,
    ``invalid_signature``, ``cancelled``).

    Example::

        try:
            client.check("payment.send", params={"amount": 5})
        except HoldpointError as err:
            print(err.code, err.status, err.details)
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: Optional[int] = None,
        details: Any = None,
        attempts: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details
        self.attempts = attempts

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Any:
        # Every field survives a pickle (multiprocessing, concurrent.futures), whatever the subclass's constructor takes.
        return (_restore, (type(self), self.args, self.__dict__.copy()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, status={self.status!r})"


def _restore(cls: type, args: tuple, state: Dict[str, Any]) -> "HoldpointError":
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class AuthError(HoldpointError):
    """The API key is missing, unknown, revoked (401) or may not call this route (403). Never retried."""


class ConnectionError(HoldpointError):  # noqa: A001 - the name the issue and the seeds use
    """Holdpoint could not be reached: connection refused or reset, a name that
    does not resolve, no answer within ``timeout`` (``code`` is
    ``connection_failed`` or ``timeout``), or Holdpoint's own ``503
    dependency_unavailable`` — each after all retries. These, and only these,
    are what ``fail_open=True`` turns into an allow. Any other 5xx is a
    :class:`ServerError`.

    It is not the built-in ``ConnectionError`` (``builtins.ConnectionError``).
    """


class ServerError(HoldpointError):
    """Holdpoint answered a 5xx other than ``503 dependency_unavailable`` — a
    ``500 internal_error``, or a bare 502/503/504 from a proxy — after all
    retries. The server failing is not the network failing: ``fail_open``
    never allows on this. ``code`` is the server's, or ``http_<status>``."""


class InvalidRequest(HoldpointError):
    """The request itself is wrong, so no retry or ``fail_open`` can help:
    params, context or a result JSON cannot carry faithfully (NaN, ±inf, an
    int beyond ±2**53-1, a set, bytes, a non-string key, a cycle, an object),
    refused before anything is sent — ``details["path"]`` says where
    (``params.amount``); or the server's 400 ``validation_failed`` /
    ``malformed_json`` / 422 ``invalid_number``."""


class ActionPending(HoldpointError):
    """A human has not decided yet (and ``wait`` was off, or ran out). Call
    ``guard`` again later with the same idempotency key, or wait for the
    webhook: the approval stays parked until ``expires_at``.

    Example::

        try:
            with client.guard("payment.send", {"amount": 5000}, "inv-7") as permit:
                pay(permit.params)
        except ActionPending as err:
            park(err.approval_id, until=err.expires_at)
    """

    def __init__(self, approval: Approval, *, status: Optional[int] = None, attempts: Optional[int] = None) -> None:
        super().__init__(
            "approval_pending",
            f"approval {approval.get('id')} is waiting for a human (expires {approval.get('expires_at')})",
            status=status,
            details={"approval": approval},
            attempts=attempts,
        )
        self.approval = approval
        self.approval_id: str = approval.get("id", "")
        self.idempotency_key: str = approval.get("idempotency_key", "")
        self.expires_at: Optional[datetime] = parse_time(approval.get("expires_at"))


#: The TypeScript SDK's (and the seeds' quickstart's) name for :class:`ActionPending`.
ApprovalPending = ActionPending


class ActionRejected(HoldpointError):
    """A human rejected the action: ``rejected_by`` is the approver, ``reason`` what they wrote (or None)."""

    def __init__(self, approval: Approval, *, status: Optional[int] = None, attempts: Optional[int] = None) -> None:
        by = approval.get("decided_by") or "an approver"
        why = approval.get("decision_reason")
        super().__init__(
            "rejected",
            f"approval {approval.get('id')} was rejected by {by}{': ' + why if why else ''}",
            status=status,
            details={"approval": approval},
            attempts=attempts,
        )
        self.approval = approval
        self.approval_id: str = approval.get("id", "")
        self.rejected_by: Optional[str] = approval.get("decided_by")
        self.reason: Optional[str] = why


class ActionTimeout(HoldpointError):
    """Nobody decided before the approval's deadline and its policy says
    ``on_timeout: reject`` (with ``on_timeout: approve`` a timeout is a permit)."""

    def __init__(self, approval: Approval, *, status: Optional[int] = None, attempts: Optional[int] = None) -> None:
        super().__init__(
            "expired",
            f"approval {approval.get('id')} expired at {approval.get('expires_at')} without a decision",
            status=status,
            details={"approval": approval},
            attempts=attempts,
        )
        self.approval = approval
        self.approval_id: str = approval.get("id", "")
        self.expires_at: Optional[datetime] = parse_time(approval.get("expires_at"))


class ActionDenied(HoldpointError):
    """The policy denied the action outright; ``reasons`` says which rule."""

    def __init__(self, reasons: List[Dict[str, Any]], decision_id: Optional[str], *, status: Optional[int] = None) -> None:
        first = reasons[0].get("message") if reasons and isinstance(reasons[0], dict) else None
        super().__init__(
            "denied",
            f"denied by policy{': ' + first if first else ''}",
            status=status,
            details={"reasons": reasons, "decision_id": decision_id},
        )
        self.reasons = reasons
        self.decision_id = decision_id
        self.reason: Optional[str] = first


class ActionClaimed(HoldpointError):
    """Another process holds this approval's execution lease, or already ran it
    (``approval_status`` is ``executing``, ``completed`` or ``failed``). Do not
    act: the action runs at most once per approval.

    ``ambiguous`` is true when the claim was retried after a lost response:
    the lease may then be this very call's own, which it can no longer prove.
    Nothing runs twice either way; the lease lapses after ``lease_seconds``."""

    def __init__(
        self,
        approval: Approval,
        *,
        status: Optional[int] = None,
        attempts: Optional[int] = None,
        ambiguous: bool = False,
    ) -> None:
        state = approval.get("status")
        super().__init__(
            "claim_conflict",
            f"approval {approval.get('id')} is {'being executed' if state == 'executing' else state} by another process",
            status=status,
            details={"approval": approval},
            attempts=attempts,
        )
        self.approval = approval
        self.approval_id: str = approval.get("id", "")
        self.approval_status: Optional[str] = state
        self.ambiguous = ambiguous


class ReplayDivergence(HoldpointError):
    """Replay mode was asked a ``check`` or ``guard`` its recording does not
    hold: none for this call, one whose inputs differ, or two that both claim
    it (``reason``: ``no_recording``, ``params_differ``, ``ambiguous``; the
    call in ``details``). It never allows and never falls back to the network.

    Example::

        try:
            client.check("email.send", params={"to": "a@example.com"})
        except ReplayDivergence as err:
            print("the agent did something the recording did not:", err.details)
    """

    def __init__(self, reason: str, message: str, details: Dict[str, Any]) -> None:
        super().__init__("replay_divergence", message, details={"reason": reason, **details})
        self.reason = reason


#: AgentSentinel's name for it.
ReplayDivergenceError = ReplayDivergence

# Kept reachable for code that needs the built-in one beside ours.
BuiltinConnectionError = builtins.ConnectionError
