"""Replay mode: record a run's ``check`` / ``guard`` answers to a JSON Lines
file, then answer a later run from that file with no server (deterministic
tests of an agent). The TypeScript SDK's ``replay.ts`` does the same, with
the same line format.

A call is identified by (method, action, agent_id, idempotency key) and by its
sequence number: how many calls with that identity came before it in the run.
Its inputs — params, context, tags, cost — are a sha-256 of their canonical
JSON. A replayed call gets exactly the recorded answer or raises
:class:`ReplayDivergence` (no recording for it, inputs that differ, two
recordings that both claim it). It never falls back to the network and never
allows what the recording did not: a deny stays a deny, a pending stays
pending. Anything in the file the SDK did not write is refused
(``replay_file_invalid``), never read as an allow.

The flows call this module synchronously; reading and appending the file is
the one I/O that happens inside a flow (small, local, and the point of it).
"""
from __future__ import annotations

import hashlib
import json
import threading
from typing import Any, Dict, List, Optional, Tuple

from ._json import stable
from .errors import ActionClaimed, ActionDenied, ActionPending, ActionRejected, ActionTimeout, HoldpointError, ReplayDivergence
from .types import Decision, Grant

__all__ = ["Replay", "record_to", "replay_from", "inputs_hash"]

MODES = ("record", "replay")
DECISIONS = {"allow", "modify", "deny", "require_approval"}


def inputs_hash(inputs: Dict[str, Any]) -> str:
    """``sha256:<hex>`` of the canonical JSON (sorted keys) of a call's inputs."""
    return "sha256:" + hashlib.sha256(stable(inputs).encode("utf-8")).hexdigest()


def _invalid(why: str) -> HoldpointError:
    return HoldpointError("replay_file_invalid", f"the replay recording is not one the SDK wrote: {why}")


class Call:
    """What identifies one call in a recording, and the inputs whose hash must match."""

    def __init__(self, method: str, action: str, agent_id: Optional[str], idempotency_key: Optional[str], body: Dict[str, Any]) -> None:
        self.method = method
        self.action = action
        self.agent_id = agent_id or None
        self.idempotency_key = idempotency_key
        self.inputs = {"params": body.get("params", {})}
        for k in ("context", "tags", "cost_usd"):
            if body.get(k) is not None:
                self.inputs[k] = body[k]

    @property
    def stream(self) -> Tuple[str, str, Optional[str], Optional[str]]:
        return (self.method, self.action, self.agent_id, self.idempotency_key)


class Replay:
    """Replay settings and state for one client: ``mode`` is ``"record"``
    (every call goes to Holdpoint; each check / guard answer is appended to
    ``path``) or ``"replay"`` (answered from ``path``; nothing reaches the
    network, reports do nothing, other calls raise ``replay_offline``).

    Record into a fresh file: two runs recorded into one file make replay
    refuse their calls as ``ambiguous``.

    Example::

        client = HoldpointClient(api_key, replay=Replay("record", "runs/refund.jsonl"))
        offline = HoldpointClient(replay=Replay("replay", "runs/refund.jsonl"))
    """

    def __init__(self, mode: str, path: str) -> None:
        if mode not in MODES:
            raise HoldpointError("config_invalid", f"replay mode must be 'record' or 'replay', not {mode!r}")
        if not isinstance(path, str) or not path:
            raise HoldpointError("config_invalid", "replay needs a path: the JSON Lines file to record to or replay from")
        self.mode = mode
        self.path = path
        self._counters: Dict[Tuple[Any, ...], int] = {}
        self._recording: Optional[Dict[Tuple[Any, ...], List[Dict[str, Any]]]] = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, value: Any) -> Optional["Replay"]:
        """The client's ``replay=`` option: a Replay, ``{"mode": …, "path": …}``, or None."""
        if value is None or isinstance(value, Replay):
            return value
        if isinstance(value, dict):
            return cls(value.get("mode"), value.get("path"))  # type: ignore[arg-type]
        raise HoldpointError("config_invalid", "replay must be Replay(mode, path) or {'mode': 'record' | 'replay', 'path': …}")

    # -- replay ---------------------------------------------------------------

    def _load(self) -> Dict[Tuple[Any, ...], List[Dict[str, Any]]]:
        if self._recording is not None:
            return self._recording
        try:
            with open(self.path, encoding="utf-8") as f:
                lines = f.read().split("\n")
        except FileNotFoundError as err:
            raise HoldpointError("replay_file_missing", f"cannot read the replay recording {self.path}: no such file (record it first)") from err
        except OSError as err:
            raise HoldpointError("replay_file_missing", f"cannot read the replay recording {self.path}: {err}") from err
        by_stream: Dict[Tuple[Any, ...], List[Dict[str, Any]]] = {}
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                e = json.loads(line)
            except ValueError as err:
                raise HoldpointError("replay_file_invalid", f"{self.path}:{n} is not JSON ({err})") from err
            ok = (
                isinstance(e, dict) and e.get("v") == 1 and isinstance(e.get("seq"), int) and e.get("method") in ("check", "guard")
                and isinstance(e.get("action"), str) and (e.get("agent_id") is None or isinstance(e.get("agent_id"), str))
                and isinstance(e.get("params_hash"), str) and (e.get("idempotency_key") is None or isinstance(e.get("idempotency_key"), str))
                and isinstance(e.get("answer"), dict)
            )
            if not ok:
                raise HoldpointError("replay_file_invalid", f"{self.path}:{n} is not an entry the SDK wrote")
            by_stream.setdefault((e["method"], e["action"], e["agent_id"], e["idempotency_key"]), []).append(e)
        self._recording = by_stream
        return by_stream

    def answer(self, call: Call) -> Dict[str, Any]:
        """The recorded answer for this call, or :class:`ReplayDivergence`."""
        with self._lock:
            recording = self._load()
            seq = self._counters.get(call.stream, 0)
            self._counters[call.stream] = seq + 1
        h = inputs_hash(call.inputs)
        details = {"method": call.method, "action": call.action, "agent_id": call.agent_id, "idempotency_key": call.idempotency_key, "seq": seq, "params_hash": h}
        what = f"{call.method} {call.action}{f' (key {call.idempotency_key})' if call.idempotency_key else ''} #{seq}"
        found = [e for e in recording.get(call.stream, []) if e["seq"] == seq]
        if not found:
            raise ReplayDivergence("no_recording", f"the recording holds no answer for {what}", details)
        if len(found) > 1:
            raise ReplayDivergence("ambiguous", f"the recording holds {len(found)} answers for {what} (two runs recorded into one file?)", details)
        if found[0]["params_hash"] != h:
            raise ReplayDivergence("params_differ", f"{what} was recorded with other params, context, tags or cost", {**details, "recorded_hash": found[0]["params_hash"]})
        return found[0]["answer"]

    # -- record ---------------------------------------------------------------

    def record(self, call: Call, answer: Dict[str, Any]) -> None:
        """Appends one line: numbered when answered, so a call that got no answer takes no number."""
        h = inputs_hash(call.inputs)
        with self._lock:
            seq = self._counters.get(call.stream, 0)
            self._counters[call.stream] = seq + 1
            entry = {"v": 1, "seq": seq, "method": call.method, "action": call.action, "agent_id": call.agent_id, "params_hash": h, "idempotency_key": call.idempotency_key, "answer": answer}
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry, separators=(",", ":"), ensure_ascii=False) + "\n")


def record_to(path: str) -> Replay:
    """``replay=record_to(path)``: record this run's answers to a JSON Lines file."""
    return Replay("record", path)


def replay_from(path: str) -> Replay:
    """``replay=replay_from(path)``: answer every check and guard from a recording, with no server."""
    return Replay("replay", path)


# -- answers as recorded (the same shapes as the TypeScript SDK's) -------------


def encode_decision(d: Decision) -> Dict[str, Any]:
    return {
        "decision": {
            "decision": d.decision, "reasons": d.reasons, "decision_id": d.decision_id, "policy_version": d.policy_version,
            "matched_rules": d.matched_rules, "params": d.params, "redacted_paths": d.redacted_paths, "failed_open": d.failed_open,
            "risk_score": d.risk_score,
        }
    }


def decode_decision(answer: Dict[str, Any], action: str, agent_id: Optional[str]) -> Decision:
    d = answer.get("decision")
    if not isinstance(d, dict) or d.get("decision") not in DECISIONS or not isinstance(d.get("params"), dict):
        raise _invalid("a check was answered with something other than a recorded decision")
    return Decision(
        decision=d["decision"], reasons=d.get("reasons") or [], decision_id=d.get("decision_id"), params=d["params"],
        risk_score=d.get("risk_score"), policy_version=d.get("policy_version"), matched_rules=d.get("matched_rules") or [],
        redacted_paths=d.get("redacted_paths") or [], failed_open=d.get("failed_open") is True, action=action, agent_id=agent_id,
    )


def encode_grant(g: Grant) -> Dict[str, Any]:
    return {
        "permit": {
            "kind": g.kind if g.kind in ("allowed", "claimed", "failed_open") else ("claimed" if g.approval else "allowed"),
            "decision_id": g.decision_id, "params": g.params, "modified": g.modified, "redacted_paths": g.redacted_paths,
            "approval": g.approval, "claim_token": g.claim_token, "reasons": g.reasons, "risk_score": g.risk_score,
        }
    }


def encode_refusal(err: BaseException) -> Optional[Dict[str, Any]]:
    """A guard's refusal as recorded; None for an error that is no answer (network, key, bad request)."""
    if isinstance(err, ActionDenied):
        return {"refusal": {"type": "denied", "reasons": err.reasons, "decision_id": err.decision_id}}
    for cls, kind in ((ActionPending, "pending"), (ActionRejected, "rejected"), (ActionTimeout, "expired"), (ActionClaimed, "claimed")):
        if isinstance(err, cls):
            return {"refusal": {"type": kind, "approval": err.approval}}
    if isinstance(err, HoldpointError) and err.code == "cancelled" and isinstance(err.details, dict) and isinstance(err.details.get("approval"), dict):
        return {"refusal": {"type": "cancelled", "approval": err.details["approval"]}}
    return None


def decode_guard(answer: Dict[str, Any]) -> Grant:
    """The recorded Grant (whose reports go nowhere), or the recorded refusal, raised."""
    r = answer.get("refusal")
    if isinstance(r, dict):
        kind = r.get("type")
        if kind == "denied":
            raise ActionDenied(r.get("reasons") or [], r.get("decision_id"))
        approval = r.get("approval")
        if not isinstance(approval, dict) or not isinstance(approval.get("id"), str):
            raise _invalid(f"a recorded {kind!r} refusal carries no approval")
        if kind == "pending":
            raise ActionPending(approval)
        if kind == "rejected":
            raise ActionRejected(approval)
        if kind == "expired":
            raise ActionTimeout(approval)
        if kind == "claimed":
            raise ActionClaimed(approval)
        if kind == "cancelled":
            raise HoldpointError("cancelled", f"approval {approval['id']} was cancelled", details={"approval": approval})
        raise _invalid(f"unknown refusal {kind!r}")
    p = answer.get("permit")
    if not isinstance(p, dict) or p.get("kind") not in ("allowed", "claimed", "failed_open") or not isinstance(p.get("params"), dict):
        raise _invalid("a guard was answered with something other than a recorded permit or refusal")
    approval = p.get("approval") if isinstance(p.get("approval"), dict) else None
    if p["kind"] == "claimed" and approval is None:
        raise _invalid("a recorded claimed permit carries no approval")
    return Grant(
        "failed_open" if p["kind"] == "failed_open" else "replayed",
        p["params"],
        modified=p.get("modified") is True,
        redacted_paths=p.get("redacted_paths") or [],
        decision_id=p.get("decision_id"),
        approval=approval if p["kind"] == "claimed" else None,
        claim_token=p.get("claim_token") if p["kind"] == "claimed" else None,
        reasons=p.get("reasons") or [],
        risk_score=p.get("risk_score"),
    )
