"""The janus-sdk names, as the HaltState SDK keeps them working ("Backward
Compatibility": ``from janus import JanusClient, janus_guard``), so code older
than the rename also changes one line::

    from janus import JanusClient, janus_guard                        # before
    from holdpoint.compat.janus import JanusClient, janus_guard       # after

``JanusClient`` *is* :class:`holdpoint.compat.haltstate.HaltStateClient` and
``janus_guard`` *is* ``haltstate_guard`` (the seed's two import styles are one
SDK), with everything said there: ``tenant_id`` accepted and ignored (a
Holdpoint key names its tenant), the address from ``base_url=`` or
``HOLDPOINT_URL``. The exception names are the haltstate module's, so one
``except`` catches whichever name raised.
"""
from __future__ import annotations

from .haltstate import (
    ActionClaimed,
    ActionDenied,
    ActionPending,
    ActionRejected,
    ActionTimeout,
    ApprovalPending,
    AsyncHaltStateClient,
    HaltStateAuthError,
    HaltStateClient,
    HaltStateConnectionError,
    HaltStateError,
    InvalidRequest,
    haltstate_guard,
)

__all__ = [
    "JanusClient",
    "AsyncJanusClient",
    "janus_guard",
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

JanusClient = HaltStateClient
AsyncJanusClient = AsyncHaltStateClient
janus_guard = haltstate_guard
