"""The shapes the SDK hands out. Approvals, reasons and webhook events are the
server's JSON as dicts (snake_case, ISO 8601 strings); a :class:`Decision` is
the SDK's own answer to ``check``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, TypedDict

__all__ = ["Decision", "Approval", "Reason", "WebhookEvent", "Usage", "UsageTotals"]


class Reason(TypedDict, total=False):
    """Why the policy decided: one per matching rule or guard (or the default)."""

    source: str
    rule: str
    guard: str
    decision: str
    message: str


class Approval(TypedDict, total=False):
    """An approval exactly as ``GET /v1/approvals/{id}`` returns it."""

    id: str
    idempotency_key: str
    action: str
    agent_id: str
    params: Dict[str, Any]
    context: Dict[str, Any]
    status: str
    reasons: List[Reason]
    required_approvals: int
    votes: List[Dict[str, Any]]
    on_timeout: str
    created_at: str
    expires_at: str
    decided_at: Optional[str]
    decided_by: Optional[str]
    decision_reason: Optional[str]
    decision_channel: Optional[str]
    claim_expires_at: Optional[str]
    callback_url: Optional[str]
    result: Any
    error: Any
    completed_at: Optional[str]
    policy_version: Optional[int]
    decision_id: Optional[str]


class UsageTotals(TypedDict, total=False):
    """Calls, outcomes and cost over some decisions. ``spent_usd``: ran and was
    reported (a completed call's reported cost, else its declared one; a failed
    call only what it reported). ``held_usd``: let through, not reported yet.
    Denied, rejected, expired and cancelled calls cost nothing. Sessions and
    runs add ``session_id`` / ``run_id``, ``first_at`` and ``last_at``."""

    calls: int
    allowed: int
    denied: int
    approvals: int
    spent_usd: float
    held_usd: float
    first_at: Optional[str]
    last_at: Optional[str]
    session_id: str
    run_id: str


class Usage(TypedDict, total=False):
    """``GET /v1/usage`` exactly as the server answers it (see docs/ledger.md).
    ``budgets``: ``[{scope, spent_usd, limit_usd}]`` from the guards' counters
    (reservations included); ``rate``: with an agent, its calls in the last
    minute; ``session`` / ``run``: only when asked for; ``actions``: the
    period's totals with ``since``, ``until``, ``by_action`` and ``truncated``."""

    agent_id: Optional[str]
    budgets: List[Dict[str, Any]]
    rate: Optional[Dict[str, Any]]
    session: UsageTotals
    run: UsageTotals
    actions: Dict[str, Any]


class WebhookEvent(TypedDict, total=False):
    """A webhook body (Standard Webhooks), as ``verify_webhook`` returns it."""

    type: str
    id: str
    created_at: str
    data: Approval


@dataclass
class Decision:
    """The policy's answer from ``check``. Exactly one of ``allowed``,
    ``modified``, ``denied``, ``requires_approval`` is true.

    ``modified`` (decision ``modify``) means: go ahead, but with ``params`` —
    the policy redacted sensitive values (``redacted_paths`` says where) and
    the caller's originals must not be used. It is deliberately not
    ``allowed``, so code that acts only ``if decision.allowed`` never acts on
    the unredacted values.

    Example::

        d = client.check("email.send", params={"to": "a@example.com"})
        if d.allowed or d.modified:
            mailer.send(**d.params)   # redacted when d.modified
            client.report(d, "completed")
    """

    decision: str
    reasons: List[Reason]
    decision_id: Optional[str]
    params: Dict[str, Any]
    risk_score: Optional[float] = None
    policy_version: Optional[int] = None
    matched_rules: List[str] = field(default_factory=list)
    redacted_paths: List[str] = field(default_factory=list)
    #: True when Holdpoint was unreachable and ``fail_open=True`` allowed it anyway.
    failed_open: bool = False
    #: What was asked, kept for ``report`` and for logs.
    action: Optional[str] = None
    agent_id: Optional[str] = None

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"

    @property
    def modified(self) -> bool:
        return self.decision == "modify"

    @property
    def denied(self) -> bool:
        return self.decision == "deny"

    @property
    def requires_approval(self) -> bool:
        return self.decision == "require_approval"

    @property
    def reason(self) -> Optional[str]:
        """The messages of the reasons that decided it (``"; "``-joined), or None."""
        msgs = [r.get("message") for r in self.reasons if isinstance(r, dict) and r.get("decision") == self.decision and r.get("message")]
        if not msgs:
            msgs = [r.get("message") for r in self.reasons if isinstance(r, dict) and r.get("message")]
        return "; ".join(str(m) for m in msgs) or None


@dataclass
class Grant:
    """What a guard flow ends with, before a client wraps it in a Permit (internal)."""

    kind: str  # "allowed" | "claimed" | "failed_open"
    params: Dict[str, Any]
    modified: bool = False
    redacted_paths: List[str] = field(default_factory=list)
    decision_id: Optional[str] = None
    approval: Optional[Dict[str, Any]] = None
    claim_token: Optional[str] = None
    reasons: List[Reason] = field(default_factory=list)
    risk_score: Optional[float] = None
