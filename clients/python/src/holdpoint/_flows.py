"""Every client call as a flow: a generator that yields operations (see
``_wire.py``) and returns the result. Both clients run these; none of them
does I/O. The semantics are the TypeScript SDK's (``src/sdk/client.ts``):
fail closed, InvalidRequest before anything is sent, redacted params never
swapped for the originals, claim before running, long-polls that wait
through outages and restarts.
"""
from __future__ import annotations

import math
import re
import time
from typing import Any, Dict, List, Optional, Union

from . import _replay
from ._json import jsonable_error, snapshot, stable
from ._wire import Config, Flow, Sleep, approval_path, backoff, by_key, is_outage, log, request
from .errors import (
    ActionClaimed,
    ActionDenied,
    ActionPending,
    ActionRejected,
    ActionTimeout,
    ConnectionError,
    HoldpointError,
    InvalidRequest,
    ServerError,
    parse_time,
)
from .types import Decision, Grant

#: How long past an approval's deadline ``wait=True`` keeps listening for the expiry to land.
DEADLINE_MARGIN_S = 10.0
MAX_POLL_S = 60.0

DECISIONS = {"allow", "modify", "deny", "require_approval"}
GUARD_STATUSES = {"allowed", "denied", "pending", "approved", "rejected", "expired", "cancelled", "executing", "completed", "failed"}

Wait = Union[bool, int, float, None]


def _unexpected(status: int, what: str, body: Any) -> HoldpointError:
    return HoldpointError("unexpected_response", f"Holdpoint's answer to {what} is not one it gives", status=status, details={"body": body})


def _paths(v: Any) -> List[str]:
    return [p for p in v if isinstance(p, str)] if isinstance(v, list) else []


def _fail_open_reason(err: HoldpointError) -> Dict[str, Any]:
    return {"source": "sdk", "decision": "allow", "message": f"allowed without Holdpoint (fail_open, {err.code}): {err.message}"}


#: The server's rule for tags: at most 20, each 1–64 characters of letters, digits and ``_ . : / -``, not starting with ``. : / -``.
MAX_TAGS = 20
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,63}")
MAX_COST_USD = 1e9
MAX_DURATION_MS = 7 * 86_400_000


def _refuse(path: str, problem: str) -> InvalidRequest:
    return InvalidRequest("validation_failed", f"{path} {problem}", details={"path": path, "problem": problem})


def check_tags(tags: Any) -> List[str]:
    """Tags as sent, or :class:`InvalidRequest` naming the first the server would refuse."""
    if isinstance(tags, (str, bytes)) or not hasattr(tags, "__iter__"):
        raise _refuse("tags", "must be a list of strings")
    out = list(tags)
    if len(out) > MAX_TAGS:
        raise _refuse("tags", f"has {len(out)} tags; at most {MAX_TAGS} are allowed")
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise _refuse(f"tags.{i}", "must be a string")
        if not TAG.fullmatch(t):
            raise _refuse(f"tags.{i}", f"({t[:80]!r}) must be 1–64 characters of letters, digits and _ . : / -, not starting with . : / -")
    return out


def check_cost(v: Any, path: str = "cost_usd") -> float:
    """A cost in USD as sent: a finite number from 0 to 1e9."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or v > MAX_COST_USD:
        raise _refuse(path, f"must be a number of USD from 0 to {MAX_COST_USD:g}")
    return v


def check_duration(v: Any, path: str = "duration_ms") -> int:
    """A duration as sent: whole milliseconds (a fraction is rounded), up to 7 days."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or v > MAX_DURATION_MS:
        raise _refuse(path, f"must be a number of milliseconds from 0 to {MAX_DURATION_MS}")
    return int(round(v))


def _spent(body: Dict[str, Any], cost_usd: Any, duration_ms: Any) -> Dict[str, Any]:
    if cost_usd is not None:
        body["cost_usd"] = check_cost(cost_usd)
    if duration_ms is not None:
        body["duration_ms"] = check_duration(duration_ms)
    return body


def _body(action: str, params: Any, agent_id: Optional[str], context: Any, tags: Any, cost_usd: Any, **extra: Any) -> Dict[str, Any]:
    if not isinstance(action, str) or not action:
        raise InvalidRequest("validation_failed", "action must be a non-empty string", details={"path": "action"})
    if params is not None and not isinstance(params, dict):
        raise InvalidRequest("not_serialisable", f"params must be a dict, not {type(params).__name__}", details={"path": "params"})
    if context is not None and not isinstance(context, dict):
        raise InvalidRequest("not_serialisable", f"context must be a dict, not {type(context).__name__}", details={"path": "context"})
    body: Dict[str, Any] = {"action": action, "params": params if params is not None else {}}
    if agent_id:
        body["agent_id"] = agent_id
    if context:
        body["context"] = context
    if tags is not None:
        body["tags"] = check_tags(tags)
    if cost_usd is not None:
        body["cost_usd"] = check_cost(cost_usd)
    for k, v in extra.items():
        if v is not None:
            body[k] = v
    return snapshot(body)


def check(cfg: Config, action: str, params: Any, agent_id: Optional[str], context: Any, cost_usd: Any, tags: Any) -> Flow:
    agent = agent_id or cfg.agent_id
    body = _body(action, params, agent, context, tags, cost_usd)
    if cfg.replay is None:
        return (yield from _check(cfg, body, action, agent))
    call = _replay.Call("check", action, agent, None, body)
    if cfg.replay.mode == "replay":
        return _replay.decode_decision(cfg.replay.answer(call), action, agent)
    d = yield from _check(cfg, body, action, agent)
    cfg.replay.record(call, _replay.encode_decision(d))
    return d


def _check(cfg: Config, body: Dict[str, Any], action: str, agent: Optional[str]) -> Flow:
    try:
        reply = yield from request(cfg, "POST", "/v1/check", body)
    except ConnectionError as err:
        if cfg.fail_open and is_outage(err):
            log.warning("holdpoint: check %s allowed without Holdpoint (fail_open): %s", action, err)
            return Decision("allow", [_fail_open_reason(err)], None, body["params"], failed_open=True, action=action, agent_id=agent)
        raise
    r = reply.body
    if not isinstance(r, dict) or r.get("decision") not in DECISIONS:
        raise _unexpected(reply.status, "check", r)
    redacted = _paths(r.get("redacted_paths"))
    # Never fall back to what was sent when the server says it redacted something.
    if not isinstance(r.get("params"), dict) and (redacted or r["decision"] == "modify"):
        raise _unexpected(reply.status, "check (redacted, without the params)", r)
    return Decision(
        decision=r["decision"],
        reasons=r.get("reasons") or [],
        decision_id=r.get("decision_id"),
        params=r["params"] if isinstance(r.get("params"), dict) else body["params"],
        risk_score=r.get("risk_score"),
        policy_version=r.get("policy_version"),
        matched_rules=r.get("matched_rules") or [],
        redacted_paths=redacted,
        failed_open=False,
        action=action,
        agent_id=agent,
    )


def _granted(params: Dict[str, Any], sent: Dict[str, Any], redacted: List[str]) -> Dict[str, Any]:
    modified = bool(redacted) or (params is not sent and stable(params) != stable(sent))
    return {"params": params, "modified": modified, "redacted_paths": redacted}


def guard(
    cfg: Config,
    action: str,
    params: Any,
    idempotency_key: Any,
    *,
    agent_id: Optional[str] = None,
    context: Any = None,
    timeout_seconds: Optional[int] = None,
    callback_url: Optional[str] = None,
    wait: Wait = False,
    lease_seconds: Optional[int] = None,
    cost_usd: Any = None,
    tags: Any = None,
) -> Flow:
    if not isinstance(idempotency_key, str) or idempotency_key == "":
        raise HoldpointError("idempotency_key_missing", "guard needs an idempotency_key: the same key on every retry of the same action")
    started = time.monotonic()
    agent = agent_id or cfg.agent_id
    body = _body(
        action, params, agent, context, tags, cost_usd,
        idempotency_key=idempotency_key, timeout_seconds=timeout_seconds, callback_url=callback_url,
    )
    if cfg.replay is None:
        return (yield from _guard(cfg, action, idempotency_key, body, started, wait, lease_seconds))
    call = _replay.Call("guard", action, agent, idempotency_key, body)
    if cfg.replay.mode == "replay":
        return _replay.decode_guard(cfg.replay.answer(call))
    try:
        grant = yield from _guard(cfg, action, idempotency_key, body, started, wait, lease_seconds)
    except HoldpointError as err:
        refusal = _replay.encode_refusal(err)
        if refusal is not None:
            cfg.replay.record(call, refusal)
        raise
    cfg.replay.record(call, _replay.encode_grant(grant))
    return grant


def _guard(cfg: Config, action: str, idempotency_key: str, body: Dict[str, Any], started: float, wait: Wait, lease_seconds: Optional[int]) -> Flow:
    sent = body["params"]
    try:
        reply = yield from request(cfg, "POST", "/v1/guard", body)
    except ConnectionError as err:
        if cfg.fail_open and is_outage(err):
            log.warning("holdpoint: guard %s allowed without Holdpoint (fail_open): %s", action, err)
            return Grant("failed_open", sent, reasons=[_fail_open_reason(err)])
        raise
    g = reply.body
    if not isinstance(g, dict) or g.get("status") not in GUARD_STATUSES:
        raise _unexpected(reply.status, "guard", g)
    redacted = _paths(g.get("redacted_paths"))
    reasons = g.get("reasons") or []
    if g["status"] == "allowed":
        if isinstance(g.get("params"), dict):
            given = g["params"]
        elif redacted:
            # Redacted, but the answer does not say to what: never hand back the originals.
            raise HoldpointError(
                "redacted_params_unavailable",
                f"the policy redacted {', '.join(redacted)} but Holdpoint's answer does not carry the redacted params; the action must not run on the originals",
                status=reply.status,
                details={"decision_id": g.get("decision_id"), "redacted_paths": redacted},
            )
        else:
            given = sent
        return Grant("allowed", decision_id=g.get("decision_id"), reasons=reasons, risk_score=g.get("risk_score"), **_granted(given, sent, redacted))
    if g["status"] == "denied":
        raise ActionDenied(reasons, g.get("decision_id"), status=reply.status)
    approval = g.get("approval")
    if not isinstance(approval, dict):
        raise HoldpointError("unexpected_response", f"guard answered {g['status']} without an approval", status=reply.status, details=g)
    status = reply.status
    if approval.get("status") == "pending" and wait:
        if wait is True:
            deadline = _deadline_of(approval)
        else:
            deadline = started + float(wait)
        approval = yield from wait_until(cfg, idempotency_key, approval, deadline)
        status = 200
    grant = yield from settle(cfg, approval, status, lease_seconds, sent, redacted)
    grant.reasons = reasons
    grant.risk_score = g.get("risk_score")
    return grant


def _deadline_of(approval: Dict[str, Any]) -> float:
    """The approval's expiry (plus a margin for the expiry to land) on the monotonic clock."""
    expires = parse_time(approval.get("expires_at"))
    left = (expires.timestamp() - time.time()) if expires else 0.0
    return time.monotonic() + left + DEADLINE_MARGIN_S


def wait_until(cfg: Config, key: str, approval: Dict[str, Any], deadline: float) -> Flow:
    """Long-polls ``by-key?wait=N`` until the approval leaves pending or the
    (monotonic) deadline passes; returns the approval as last seen. A server
    that is down or restarting, or a network that drops, only costs a backoff."""
    last = approval
    trouble = 0
    while last.get("status") == "pending":
        left = deadline - time.monotonic()
        if left <= 0:
            break
        wait_s = min(MAX_POLL_S, max(0.1, math.ceil(left * 10) / 10))
        asked = time.monotonic()
        try:
            r = yield from request(cfg, "GET", f"{by_key(key)}?wait={wait_s:g}", timeout=wait_s + cfg.timeout, retries=0)
            if not isinstance(r.body, dict) or not isinstance(r.body.get("status"), str):
                raise _unexpected(r.status, "a long-poll", r.body)
            last = r.body
            # A server shutting down answers long-polls at once; do not spin on that.
            if last.get("status") == "pending" and time.monotonic() - asked < wait_s / 2:
                yield Sleep(min(backoff(trouble, 0.1, 2.0), max(0.0, deadline - time.monotonic())))
                trouble += 1
            else:
                trouble = 0
        except (ConnectionError, ServerError) as err:
            # Waiting through an outage or a server error is not acting on one.
            log.info("holdpoint: long-poll for %s failed, waiting on: %s", key, err)
            yield Sleep(min(backoff(trouble, 0.1, 2.0), max(0.0, deadline - time.monotonic())))
            trouble += 1
    return last


def settle(cfg: Config, approval: Dict[str, Any], status: int, lease_seconds: Optional[int], sent: Dict[str, Any], redacted: List[str]) -> Flow:
    """A decided (or still pending) approval as a claimed Grant, or the error that says why not."""
    state = approval.get("status")
    if state == "pending":
        raise ActionPending(approval, status=status)
    if state in ("approved", "executing"):
        # An executing approval whose lease lapsed can be claimed again; the server decides.
        return (yield from claim(cfg, approval, lease_seconds, sent, redacted))
    if state in ("completed", "failed"):
        raise ActionClaimed(approval, status=status)
    if state == "rejected":
        raise ActionRejected(approval, status=status)
    if state == "expired":
        raise ActionTimeout(approval, status=status)
    if state == "cancelled":
        why = approval.get("decision_reason")
        raise HoldpointError("cancelled", f"approval {approval.get('id')} was cancelled{': ' + why if why else ''}", status=status, details={"approval": approval})
    raise HoldpointError("unexpected_response", f"unknown approval status {state!r}", status=status, details={"approval": approval})


def claim(cfg: Config, approval: Dict[str, Any], lease_seconds: Optional[int], sent: Dict[str, Any], redacted: List[str]) -> Flow:
    body = {"lease_seconds": lease_seconds} if lease_seconds is not None else {}
    try:
        r = yield from request(cfg, "POST", approval_path(approval["id"], "/claim"), body)
    except HoldpointError as err:
        if err.code == "claim_conflict":
            now = (err.details or {}).get("approval") if isinstance(err.details, dict) else None
            # After a lost response the 409 may be about our own claim: say so.
            raise ActionClaimed(now or approval, status=err.status, attempts=err.attempts or 1, ambiguous=(err.attempts or 1) > 1) from err
        raise
    out = r.body
    if not isinstance(out, dict) or not isinstance(out.get("approval"), dict) or not isinstance(out.get("claim_token"), str):
        raise _unexpected(r.status, "claim", out)
    a = out["approval"]
    # The approval's params are what the human saw (already redacted): those are what runs.
    params = a.get("params") if isinstance(a.get("params"), dict) else {}
    return Grant("claimed", decision_id=a.get("decision_id"), approval=a, claim_token=out["claim_token"], **_granted(params, sent, redacted))


def _lost_then_done(err: HoldpointError, code: str) -> bool:
    return err.code == code and (err.attempts or 1) > 1


def report_allowed(cfg: Config, decision_id: str, ok: bool, payload: Any, cost_usd: Any = None, duration_ms: Any = None) -> Flow:
    body: Dict[str, Any] = {"decision_id": decision_id, "status": "completed" if ok else "failed"}
    if payload is not None:
        body["result"] = payload
    _spent(body, cost_usd, duration_ms)
    try:
        yield from request(cfg, "POST", "/v1/report", body)
    except HoldpointError as err:
        # A retry after a lost response finds the decision already reported.
        if _lost_then_done(err, "invalid_state"):
            return None
        raise
    return None


def report_claimed(cfg: Config, approval_id: str, claim_token: str, ok: bool, payload: Any, cost_usd: Any = None, duration_ms: Any = None) -> Flow:
    body: Dict[str, Any] = {"claim_token": claim_token}
    if payload is not None:
        body["result" if ok else "error"] = payload
    _spent(body, cost_usd, duration_ms)
    try:
        yield from request(cfg, "POST", approval_path(approval_id, "/complete" if ok else "/fail"), body)
    except HoldpointError as err:
        now = (err.details or {}).get("approval") if isinstance(err.details, dict) else None
        if _lost_then_done(err, "claim_conflict") and isinstance(now, dict) and now.get("status") == ("completed" if ok else "failed"):
            return None
        raise
    return None


STATUS_WORDS = {
    "completed": True, "complete": True, "success": True, "succeeded": True, "ok": True,
    "failed": False, "fail": False, "failure": False, "error": False,
}


def report(cfg: Config, decision: Decision, status: str, result: Any, error: Any, duration_ms: Any, cost_usd: Any) -> Flow:
    """``POST /v1/report`` for a ``check`` the caller acted on. A failed-open decision has nothing to report to."""
    ok = STATUS_WORDS.get(str(status).lower()) if isinstance(status, str) else None
    if ok is None:
        raise InvalidRequest("validation_failed", f"status must be 'completed' or 'failed' (or 'success' / 'error'), not {status!r}", details={"path": "status"})
    if isinstance(error, BaseException):
        error = jsonable_error(error)
    # The server's report has one payload: the result, or on a failure the error (as the TypeScript permit's fail sends it).
    payload = result if (ok or error is None) else (error if result is None else {"result": result, "error": error})
    payload = snapshot(payload, "result") if payload is not None else None
    _spent({}, cost_usd, duration_ms)
    # Failed open, or replayed: there is no server to report to.
    if decision.failed_open or not decision.decision_id or cfg.offline:
        return None
    return (yield from report_allowed(cfg, decision.decision_id, ok, payload, cost_usd, duration_ms))


def get(cfg: Config, path: str) -> Flow:
    r = yield from request(cfg, "GET", path)
    return r.body


def wait_for_decision(cfg: Config, key: str, timeout: Optional[float]) -> Flow:
    started = time.monotonic()
    a = (yield from request(cfg, "GET", by_key(key))).body
    if a.get("status") == "pending":
        deadline = started + timeout if timeout is not None else _deadline_of(a)
        a = yield from wait_until(cfg, key, a, deadline)
    if a.get("status") == "pending":
        raise ActionPending(a)
    return a


UUID_CHARS = set("0123456789abcdefABCDEF-")


def cancel(cfg: Config, id_or_key: str, reason: Optional[str]) -> Flow:
    looks_like_id = len(id_or_key) == 36 and set(id_or_key) <= UUID_CHARS
    if looks_like_id:
        try:
            return (yield from _cancel_by_id(cfg, id_or_key, reason))
        except HoldpointError as err:
            # Not an approval id — it may be a key that looks like one.
            if err.code != "not_found":
                raise
    a = (yield from request(cfg, "GET", by_key(id_or_key))).body
    return (yield from _cancel_by_id(cfg, a["id"], reason))


def _cancel_by_id(cfg: Config, approval_id: str, reason: Optional[str]) -> Flow:
    try:
        r = yield from request(cfg, "POST", approval_path(approval_id, "/cancel"), {} if reason is None else {"reason": reason})
        return r.body
    except HoldpointError as err:
        now = (err.details or {}).get("approval") if isinstance(err.details, dict) else None
        # A retry after a lost response finds it already cancelled: that is success.
        if _lost_then_done(err, "already_decided") and isinstance(now, dict) and now.get("status") == "cancelled":
            return now
        raise
