"""``GET /v1/usage`` for the clients: the query, checked before anything is
sent. Spend against the budgets (the guards' own counters) and the decision
ledger's totals for a session, a run and each action: AgentSentinel's
``CostTracker`` session / run totals, kept by the server so every process of a
run sees the same numbers."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional, Union
from urllib.parse import urlencode

from .errors import InvalidRequest

__all__ = ["usage_path"]

Instant = Union[datetime, str, None]


def _refuse(path: str, problem: str) -> InvalidRequest:
    return InvalidRequest("validation_failed", f"{path} {problem}", details={"path": path, "problem": problem})


def _instant(name: str, v: Instant) -> str:
    if isinstance(v, datetime):
        if v.tzinfo is None:
            # A naive datetime has no instant; guessing the machine's zone would shift the period silently.
            raise _refuse(name, "must be timezone-aware (e.g. datetime.now(timezone.utc))")
        return v.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(v, str) and v:
        return v  # the server checks the timestamp (400 validation_failed, an InvalidRequest here)
    raise _refuse(name, "must be a timezone-aware datetime or an ISO 8601 timestamp with an offset")


def usage_path(agent_id: Optional[str], session_id: Optional[str], run_id: Optional[str], since: Instant, until: Instant) -> str:
    """The request path, or :class:`InvalidRequest` for a value the server would refuse."""
    q = []
    for name, v in (("agent_id", agent_id), ("session_id", session_id), ("run_id", run_id)):
        if v is None:
            continue
        if not isinstance(v, str) or not v:
            raise _refuse(name, "must be a non-empty string")
        q.append((name, v))
    if since is not None:
        q.append(("since", _instant("since", since)))
    if until is not None:
        q.append(("until", _instant("until", until)))
    return f"/v1/usage?{urlencode(q)}" if q else "/v1/usage"
