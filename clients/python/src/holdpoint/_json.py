"""What goes on the wire is a snapshot taken here, once: plain JSON, checked
value by value, before any request. ``json.dumps`` would send NaN and ±inf
as bare ``NaN`` / ``Infinity`` (not JSON; the server refuses them or, worse,
a lenient parser makes them null and an ``amount`` slips past ``gt: 1000``),
turn an int key into a string, and let an int beyond 2**53 reach a server
that reads it as a double and rounds it. Each of those, and anything JSON has
no form for, raises :class:`InvalidRequest` with the path to it. The
snapshot is what the policy sees and what a permit carries.
"""
from __future__ import annotations

import json
import math
from datetime import date, datetime, time
from typing import Any, Optional

from .errors import InvalidRequest

#: Deeper than this is a bug or an attack, not params.
MAX_DEPTH = 256
#: The largest integer a JSON reader with doubles (the server's) keeps exactly.
MAX_SAFE_INT = 2**53 - 1


def _refuse(path: str, problem: str, code: str = "not_serialisable") -> "InvalidRequest":
    return InvalidRequest(code, f"{path or 'the request'} {problem}", details={"path": path, "problem": problem})


def _at(path: str, key: Any) -> str:
    return str(key) if path == "" else f"{path}.{key}"


def _kind(v: Any) -> str:
    return f"a {type(v).__name__}"


def _copy(v: Any, path: str, seen: set, depth: int) -> Any:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, str):
        return str(v)
    if isinstance(v, int):
        if abs(v) > MAX_SAFE_INT:
            raise _refuse(path, f"is {v}, beyond ±2**53-1: Holdpoint reads JSON numbers as doubles and would round it", "invalid_number")
        return int(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise _refuse(path, f"is {v}, which is not a JSON number", "invalid_number")
        return float(v)
    # As the TypeScript SDK sends a Date: its ISO string.
    if isinstance(v, (datetime, date, time)):
        return v.isoformat()
    if depth > MAX_DEPTH:
        raise _refuse(path, f"is nested more than {MAX_DEPTH} levels deep")
    if isinstance(v, (dict, list, tuple)):
        if id(v) in seen:
            raise _refuse(path, "refers back to one of its own parents (a cycle)")
        seen.add(id(v))
        try:
            if isinstance(v, dict):
                out = {}
                for k, x in v.items():
                    if not isinstance(k, str):
                        raise _refuse(_at(path, k), f"has a key of type {type(k).__name__}; JSON keys are strings (json.dumps would change it to one)")
                    out[str(k)] = _copy(x, _at(path, k), seen, depth + 1)
                return out
            return [_copy(x, _at(path, i), seen, depth + 1) for i, x in enumerate(v)]
        finally:
            seen.discard(id(v))
    raise _refuse(path, f"is {_kind(v)}, which JSON cannot carry faithfully: pass dicts, lists, str, int, float, bool or None")


def snapshot(value: Any, path: str = "") -> Any:
    """A plain-JSON deep copy of ``value``, or :class:`InvalidRequest` naming
    the first thing JSON cannot carry faithfully (``details["path"]``):
    code ``invalid_number`` for NaN, ±inf and unsafe ints, else
    ``not_serialisable``. Tuples become lists, datetimes ISO strings.

    Example::

        body = snapshot({"action": action, "params": params})  # raises before anything is sent
    """
    try:
        return _copy(value, path, set(), 0)
    except InvalidRequest:
        raise
    except RecursionError as err:
        raise _refuse(path, f"could not be read as JSON ({err})") from err


def dumps(value: Any) -> bytes:
    """Serialises an already-snapshotted value."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def loads(raw: bytes) -> Any:
    """The body of a response: JSON when it is JSON, else the text (or None when empty)."""
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def stable(v: Any) -> str:
    """Canonical JSON (sorted keys) of a snapshot, to compare two of them."""
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def jsonable_error(err: Optional[BaseException]) -> Any:
    """What an exception becomes on the wire: ``{name, message}``, as the TypeScript SDK sends an Error."""
    if err is None:
        return None
    return {"name": type(err).__name__, "message": str(err)}
