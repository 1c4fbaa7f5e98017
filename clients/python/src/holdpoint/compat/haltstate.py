"""The HaltState SDK's names and signatures on Holdpoint, so existing code
changes one line::

    from haltstate import HaltStateClient, haltstate_guard        # before
    from holdpoint.compat.haltstate import HaltStateClient, haltstate_guard   # after

``tenant_id`` is accepted and ignored: a Holdpoint key names its tenant.
``base_url`` defaults to ``HOLDPOINT_URL`` (else ``http://localhost:8080``),
so the code itself need not change for that either. ``report`` accepts the
seed's ``action=`` and ``agent_id=`` (the decision already knows both).
``haltstate_guard`` without an ``idempotency_key`` asks afresh on every call
(a new key each time), as the seed's decorator, which takes none, does.
Everything else is Holdpoint's: see ``holdpoint`` for the full semantics.
"""
from __future__ import annotations

import uuid
from typing import Any, Callable, Dict, Optional

from ..aio import AsyncHoldpointClient
from ..client import HoldpointClient
from ..decorators import holdpoint_guard
from ..errors import (
    ActionClaimed,
    ActionDenied,
    ActionPending,
    ActionRejected,
    ActionTimeout,
    ApprovalPending,
    AuthError,
    ConnectionError,
    HoldpointError,
    InvalidRequest,
)
from ..types import Decision

__all__ = [
    "HaltStateClient",
    "AsyncHaltStateClient",
    "haltstate_guard",
    "HaltStateError",
    "HaltStateAuthError",
    "HaltStateConnectionError",
    "ActionPending",
    "ApprovalPending",
    "ActionRejected",
    "ActionTimeout",
    "ActionDenied",
    "ActionClaimed",
    "InvalidRequest",
]

#: The seed's exception names are Holdpoint's classes, so either name catches.
HaltStateError = HoldpointError
HaltStateAuthError = AuthError
HaltStateConnectionError = ConnectionError


class HaltStateClient(HoldpointClient):
    """``HaltStateClient(tenant_id=..., api_key=..., fail_open=False)`` on Holdpoint."""

    def __init__(
        self,
        tenant_id: Optional[str] = None,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        fail_open: bool = False,
        timeout: float = 10,
        retries: int = 3,
        agent_id: Optional[str] = None,
        **_ignored: Any,
    ) -> None:
        super().__init__(api_key=api_key, base_url=base_url, agent_id=agent_id, timeout=timeout, retries=retries, fail_open=fail_open)
        self.tenant_id = tenant_id

    def report(  # type: ignore[override]
        self,
        decision: Decision,
        status: str,
        result: Any = None,
        error: Any = None,
        duration_ms: Optional[int] = None,
        cost_usd: Optional[float] = None,
        action: Optional[str] = None,
        agent_id: Optional[str] = None,
        **_ignored: Any,
    ) -> None:
        super().report(decision, status, result=result, error=error, duration_ms=duration_ms, cost_usd=cost_usd)


class AsyncHaltStateClient(AsyncHoldpointClient):
    """``AsyncHaltStateClient(tenant_id=..., api_key=...)`` on Holdpoint; ``async with`` works."""

    def __init__(
        self,
        tenant_id: Optional[str] = None,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        fail_open: bool = False,
        timeout: float = 10,
        retries: int = 3,
        agent_id: Optional[str] = None,
        **_ignored: Any,
    ) -> None:
        super().__init__(api_key=api_key, base_url=base_url, agent_id=agent_id, timeout=timeout, retries=retries, fail_open=fail_open)
        self.tenant_id = tenant_id

    async def report(  # type: ignore[override]
        self,
        decision: Decision,
        status: str,
        result: Any = None,
        error: Any = None,
        duration_ms: Optional[int] = None,
        cost_usd: Optional[float] = None,
        action: Optional[str] = None,
        agent_id: Optional[str] = None,
        **_ignored: Any,
    ) -> None:
        await super().report(decision, status, result=result, error=error, duration_ms=duration_ms, cost_usd=cost_usd)


def haltstate_guard(
    client: Any,
    action: str,
    agent_id: Optional[str] = None,
    idempotency_key: Optional[Callable[..., str]] = None,
    params: Optional[Callable[..., Dict[str, Any]]] = None,
    **options: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``@haltstate_guard(client, action="email.send", agent_id="email-bot")`` on Holdpoint."""
    key = idempotency_key or (lambda *a, **k: f"{action}-{uuid.uuid4()}")
    return holdpoint_guard(client, action=action, idempotency_key=key, params=params, agent_id=agent_id, **options)
