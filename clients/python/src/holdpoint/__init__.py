"""Holdpoint's Python SDK: ask before an agent acts.

Standard library only; Python ≥ 3.9. The semantics are the TypeScript SDK's
(``holdpoint/client``): fail closed, params JSON cannot carry refused before
anything is sent, redacted params never swapped for the originals, an
approved action claimed before it runs, waits that survive server restarts.

Example::

    from holdpoint import HoldpointClient, ActionRejected

    client = HoldpointClient("hp_agent_…", base_url="http://localhost:8080", agent_id="billing-bot")
    with client.guard("payment.send", {"amount": 5000}, "invoice-1001", wait=600) as permit:
        permit.result = bank.pay(**permit.params)
"""
from ._wire import VERSION as __version__
from .aio import AsyncGuard, AsyncHoldpointClient
from .client import Guard, HoldpointClient
from .decorators import holdpoint_guard
from .errors import (
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
    ReplayDivergence,
    ReplayDivergenceError,
    ServerError,
)
from ._replay import Replay, record_to, replay_from
from .permit import AsyncPermit, Permit
from .types import Approval, Decision, Reason, Usage, UsageTotals, WebhookEvent
from .webhook import verify_webhook

__all__ = [
    "__version__",
    "HoldpointClient",
    "AsyncHoldpointClient",
    "Guard",
    "AsyncGuard",
    "Permit",
    "AsyncPermit",
    "Decision",
    "Approval",
    "Reason",
    "WebhookEvent",
    "Usage",
    "UsageTotals",
    "holdpoint_guard",
    "verify_webhook",
    "HoldpointError",
    "AuthError",
    "ConnectionError",
    "ServerError",
    "InvalidRequest",
    "ActionPending",
    "ApprovalPending",
    "ActionDenied",
    "ActionRejected",
    "ActionTimeout",
    "ActionClaimed",
    "ReplayDivergence",
    "ReplayDivergenceError",
    "Replay",
    "record_to",
    "replay_from",
]
