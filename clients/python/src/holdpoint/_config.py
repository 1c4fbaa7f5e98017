"""Client options, parsed once in the constructor (a bad URL or key fails
there, not at the first request where it would read as a network failure)."""
from __future__ import annotations

import os
import re
import ssl
from typing import Any, Optional
from urllib.parse import urlsplit

from ._replay import Replay
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
    replay: Any = None,
) -> Config:
    rp = Replay.of(replay)
    key = api_key if api_key is not None else _env("HOLDPOINT_API_KEY")
    url = base_url if base_url is not None else (_env("HOLDPOINT_URL") or DEFAULT_URL)
    if rp is not None and rp.mode == "replay":
        # Answers come from the recording: no server, so no key is needed (and none is checked).
        return Config(base_url=url if isinstance(url, str) else DEFAULT_URL, api_key=key or "", agent_id=agent_id, timeout=float(timeout or 10),
                      retries=0, retry_delay=0.0, fail_open=False, replay=rp)
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
        replay=rp,
    )


class ConfiguredClient:
    """What the blocking and the async client share: their settings, checked once."""

    def __init__(
        self,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        agent_id: Optional[str] = None,
        timeout: float = 10,
        retries: int = 3,
        fail_open: bool = False,
        *,
        retry_delay: float = 0.25,
        ssl_context: Optional[ssl.SSLContext] = None,
        replay: Any = None,
    ) -> None:
        self._cfg = make_config(api_key, base_url, agent_id, timeout, retries, retry_delay, fail_open, replay)
        self._ssl = ssl_context

    @property
    def base_url(self) -> str:
        return self._cfg.base_url

    @property
    def agent_id(self) -> Optional[str]:
        return self._cfg.agent_id

    @property
    def fail_open(self) -> bool:
        return self._cfg.fail_open
