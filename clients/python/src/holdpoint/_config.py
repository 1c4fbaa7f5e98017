"""Client options, parsed once in the constructor (a bad URL or key fails
there, not at the first request where it would read as a network failure)."""
from __future__ import annotations

import os
import re
from typing import Optional
from urllib.parse import urlsplit

from ._wire import Config
from .errors import HoldpointError

DEFAULT_URL = "http://localhost:8080"
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")


def _env(name: str) -> Optional[str]:
    v = os.environ.get(name)
    return v or None


def make_config(
    api_key: Optional[str],
    base_url: Optional[str],
    agent_id: Optional[str],
    timeout: float,
    retries: int,
    retry_delay: float,
    fail_open: bool,
) -> Config:
    key = api_key if api_key is not None else _env("HOLDPOINT_API_KEY")
    url = base_url if base_url is not None else (_env("HOLDPOINT_URL") or DEFAULT_URL)
    if not key:
        raise HoldpointError("config_missing", "Holdpoint needs api_key (or HOLDPOINT_API_KEY): an agent key, from `holdpoint tenant create`")
    if not isinstance(url, str):
        raise HoldpointError("config_invalid", f"base_url must be a string, not {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise HoldpointError("config_invalid", f"base_url must be http:// or https://, not {url!r} (expected e.g. https://holdpoint.internal)")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as err:
        raise HoldpointError("config_invalid", f"base_url {url!r} has a bad port ({err})") from err
    if not parts.hostname:
        raise HoldpointError("config_invalid", f"base_url {url!r} has no host")
    if not isinstance(key, str) or not _PRINTABLE.match(key):
        raise HoldpointError("config_invalid", "api_key holds characters an Authorization header cannot carry (whitespace or non-ASCII)")
    if timeout is None or timeout <= 0:
        raise HoldpointError("config_invalid", "timeout must be a positive number of seconds")
    return Config(
        base_url=url.rstrip("/"),
        api_key=key,
        agent_id=agent_id,
        timeout=float(timeout),
        retries=max(0, int(retries)),
        retry_delay=max(0.0, float(retry_delay)),
        fail_open=bool(fail_open),
    )
