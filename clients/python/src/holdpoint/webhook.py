"""Standard Webhooks verification, standard library only: HMAC-SHA256 over
``id.timestamp.body`` with the base64 key after ``whsec_``; any one of the
space-separated ``v1,<sig>`` in ``webhook-signature`` may match (during a
secret rotation Holdpoint signs with both); compared in constant time; the
timestamp must be within 5 minutes either way."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from typing import Any, Iterable, Mapping, Optional, Tuple, Union

from .errors import HoldpointError
from .types import WebhookEvent

__all__ = ["verify_webhook"]

TOLERANCE_S = 300
Headers = Union[Mapping[str, Any], Iterable[Tuple[str, str]]]
_DIGITS = re.compile(r"^[0-9]+$")


def _invalid(message: str) -> HoldpointError:
    return HoldpointError("invalid_signature", message)


def _header(headers: Headers, name: str) -> Optional[str]:
    # email.message.Message (http.server's self.headers, http.client's response.headers) is case-insensitive already.
    if hasattr(headers, "get_all"):
        values = headers.get_all(name)  # type: ignore[union-attr]
        return " ".join(values) if values else None
    items = headers.items() if isinstance(headers, Mapping) else headers
    found = [v for k, v in items if isinstance(k, str) and k.lower() == name]
    if not found:
        return None
    parts = []
    for v in found:
        parts.extend(v if isinstance(v, (list, tuple)) else [v])
    return " ".join(str(p) for p in parts)


def _b64(s: str) -> bytes:
    return base64.b64decode(s.encode("ascii"), validate=True)


def verify_webhook(
    headers: Headers,
    body: Union[bytes, bytearray, memoryview, str],
    secret: str,
    *,
    tolerance_seconds: int = TOLERANCE_S,
    now: Optional[float] = None,
) -> WebhookEvent:
    """Verifies a Holdpoint webhook and returns the parsed event; raises
    ``HoldpointError`` with code ``invalid_signature`` when the signature,
    timestamp or headers are wrong. Pass the raw body exactly as received,
    before any JSON parsing. ``now`` (epoch seconds) is for tests.

    Example::

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    event = verify_webhook(self.headers, raw, os.environ["WEBHOOK_SECRET"])
                except HoldpointError:
                    return self.send_error(400)
                if event["type"] == "approval.approved":
                    resume(event["data"]["idempotency_key"])
                self.send_response(204); self.end_headers()
    """
    if body is None:
        raise _invalid("no body to verify")
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    msg_id = _header(headers, "webhook-id")
    ts = _header(headers, "webhook-timestamp")
    sigs = _header(headers, "webhook-signature")
    if not msg_id or not ts or not sigs:
        raise _invalid("missing webhook-id, webhook-timestamp or webhook-signature header")
    if not _DIGITS.match(ts):
        raise _invalid("webhook-timestamp is not a number of seconds")
    now_s = int(time.time() if now is None else now)
    if abs(now_s - int(ts)) > tolerance_seconds:
        raise _invalid(f"webhook-timestamp is more than {tolerance_seconds} s from now")
    try:
        key = _b64(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    except (binascii.Error, ValueError, UnicodeEncodeError) as err:
        raise _invalid("the webhook secret is not base64 (expected whsec_…)") from err
    expected = hmac.new(key, msg_id.encode("utf-8") + b"." + ts.encode("ascii") + b"." + raw, hashlib.sha256).digest()
    for part in sigs.split(" "):
        version, _, sig = part.partition(",")
        if version != "v1" or not sig:
            continue
        try:
            given = _b64(sig)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            continue
        if hmac.compare_digest(expected, given):
            try:
                return json.loads(raw.decode("utf-8"))
            except ValueError as err:
                raise _invalid("the signature matches but the body is not JSON") from err
    raise _invalid("no webhook-signature matches the body")
