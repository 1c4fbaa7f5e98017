"""``@holdpoint_guard``: a function that asks first, every time it is called
(the decorator of the seeds' SDKs; ``guarded`` in the TypeScript SDK)."""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Dict, Iterable, Optional, Tuple, TypeVar, Union

from .errors import HoldpointError

__all__ = ["holdpoint_guard"]

F = TypeVar("F", bound=Callable[..., Any])
Args = Tuple[Tuple[Any, ...], Dict[str, Any]]
_SELF = ("self", "cls")


def _skips_first(sig: inspect.Signature) -> bool:
    first = next(iter(sig.parameters.values()), None)
    return first is not None and first.name in _SELF and first.kind in (first.POSITIONAL_ONLY, first.POSITIONAL_OR_KEYWORD)


def default_params(sig: inspect.Signature, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """The call's arguments by name (defaults filled in; ``self`` / ``cls``
    left out; ``**kwargs`` flattened in), so a rule can say ``params.amount``."""
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    out: Dict[str, Any] = {}
    for i, (name, p) in enumerate(sig.parameters.items()):
        if i == 0 and _skips_first(sig):
            continue
        if name not in bound.arguments:
            continue
        v = bound.arguments[name]
        if p.kind == p.VAR_KEYWORD:
            out.update(v)
        elif p.kind == p.VAR_POSITIONAL:
            out[name] = list(v)
        else:
            out[name] = v
    return out


def default_from_params(sig: inspect.Signature, granted: Dict[str, Any], args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Optional[Args]:
    """The inverse of ``default_params``: the call rebuilt from the granted
    (redacted) params, or None when they do not have that shape."""
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    named = {n for n, p in sig.parameters.items() if p.kind not in (p.VAR_KEYWORD,)}
    new_args: list = []
    new_kwargs: Dict[str, Any] = {}
    for i, (name, p) in enumerate(sig.parameters.items()):
        if i == 0 and _skips_first(sig):
            new_args.append(bound.arguments[name])
            continue
        if p.kind == p.VAR_KEYWORD:
            new_kwargs.update({k: v for k, v in granted.items() if k not in named})
            continue
        if name not in granted:
            return None
        v = granted[name]
        if p.kind == p.VAR_POSITIONAL:
            if not isinstance(v, list):
                return None
            new_args.extend(v)
        elif p.kind == p.KEYWORD_ONLY:
            new_kwargs[name] = v
        else:
            new_args.append(v)
    return tuple(new_args), new_kwargs


def holdpoint_guard(
    client: Any,
    action: Optional[str] = None,
    idempotency_key: Optional[Callable[..., str]] = None,
    params: Optional[Callable[..., Dict[str, Any]]] = None,
    from_params: Optional[Callable[[Dict[str, Any], Tuple[Any, ...], Dict[str, Any]], Args]] = None,
    *,
    agent_id: Optional[str] = None,
    context: Optional[Dict[str, Any]] = None,
    timeout_seconds: Optional[int] = None,
    wait: Union[bool, int, float] = False,
    lease_seconds: Optional[int] = None,
    cost_usd: Optional[float] = None,
    tags: Optional[Iterable[str]] = None,
) -> Callable[[F], F]:
    """Wraps a function (sync with a ``HoldpointClient``, ``async def`` with an
    ``AsyncHoldpointClient``) so every call is guarded first: it runs once
    allowed or approved, its return value completes the permit, an exception
    fails it; otherwise the call raises what ``guard`` raises.

    ``idempotency_key`` computes the key from the call's arguments (required:
    retries of one call must send one key). ``params`` defaults to the
    arguments by name. When the policy redacted something, the function gets
    the redacted values: automatic for the default params; with a custom
    ``params`` give ``from_params(granted, args, kwargs) -> (args, kwargs)``,
    or the call raises ``params_modified`` (reported as failed) rather than
    run on the originals. ``cost_usd`` and ``tags`` go with every call (as
    AgentSentinel's ``@guarded_action(cost_usd=…, tags=…)``), and each report
    carries how long the call ran.

    ``action`` defaults to the function's name (``fn.__name__``, e.g.
    ``send_payment``; for a method just the method's name, not its class), as
    AgentSentinel's ``@guarded_action`` names an action it is not given. A
    lambda has no name to use: give it ``action=``.

    Example::

        @holdpoint_guard(client, action="payment.send",
                         idempotency_key=lambda to, amount: f"pay-{to}-{amount}-{today}", wait=600)
        def send_payment(to: str, amount: int) -> dict:
            return bank.pay(to, amount)
    """
    if not callable(idempotency_key):
        raise HoldpointError("idempotency_key_missing", "holdpoint_guard needs idempotency_key=callable(*args, **kwargs) -> str: the same key on every retry of the same call")
    if action is not None and (not isinstance(action, str) or not action):
        raise HoldpointError("action_missing", "holdpoint_guard's action= must be a non-empty string (or left out: the function's name)")
    kw = dict(agent_id=agent_id, context=context, timeout_seconds=timeout_seconds, wait=wait, lease_seconds=lease_seconds, cost_usd=cost_usd, tags=tags)

    def decorate(fn: F) -> F:
        from .aio import AsyncHoldpointClient

        name = action if action is not None else fn.__name__
        if name == "<lambda>":
            raise HoldpointError("action_missing", "holdpoint_guard: a lambda has no name to be the action; give action=")
        sig = inspect.signature(fn)
        is_async = inspect.iscoroutinefunction(fn)
        if is_async and not isinstance(client, AsyncHoldpointClient):
            raise TypeError(f"holdpoint_guard: {fn.__qualname__} is async; guard it with an AsyncHoldpointClient")
        if not is_async and isinstance(client, AsyncHoldpointClient):
            raise TypeError(f"holdpoint_guard: {fn.__qualname__} is not async; guard it with a HoldpointClient")

        def ask(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Dict[str, Any]:
            return params(*args, **kwargs) if params else default_params(sig, args, kwargs)

        def call_with(permit: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Args:
            if not permit.modified:
                return args, kwargs
            out = from_params(permit.params, args, kwargs) if from_params else (None if params else default_from_params(sig, permit.params, args, kwargs))
            if out is not None:
                return out
            raise HoldpointError(
                "params_modified",
                f"the policy redacted {', '.join(permit.redacted_paths) or 'the params'}, and holdpoint_guard cannot map the redacted params back to {fn.__qualname__}'s arguments: give it from_params",
                details={"redacted_paths": permit.redacted_paths},
            )

        if is_async:

            @functools.wraps(fn)
            async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                async with client.guard(name, ask(args, kwargs), idempotency_key(*args, **kwargs), **kw) as permit:
                    a, k = call_with(permit, args, kwargs)
                    permit.result = await fn(*a, **k)
                return permit.result

            return guarded_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            with client.guard(name, ask(args, kwargs), idempotency_key(*args, **kwargs), **kw) as permit:
                a, k = call_with(permit, args, kwargs)
                permit.result = fn(*a, **k)
            return permit.result

        return guarded  # type: ignore[return-value]

    return decorate
