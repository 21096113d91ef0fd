"""Envelope handlers, one module per family. Each module has HANDLERS (message kind -> handler)
and may have `install(rt)` to hook tracker listeners.

A handler is `handler(rt, session, cid, message)`, plain or async. It answers through
`session.send(...)` and reports failures by raising KizunaError (mapped to BAD_INPUT or
RUNTIME_EXCEPTION) or RealtimeError (a socket-specific code); the dispatcher in service.py turns
those into error envelopes carrying the request's cid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable

from kizuna.realtime.handlers import channel, match, ping, rpc, status

if TYPE_CHECKING:
    from kizuna.realtime.service import RealtimeService
    from kizuna.realtime.session import Session

Handler = Callable[["RealtimeService", "Session", "str | None", "dict[str, Any]"],
                   "Awaitable[None] | None"]

MODULES = (ping, status, channel, match, rpc)


def table() -> dict[str, Handler]:
    handlers: dict[str, Handler] = {}
    for module in MODULES:
        handlers.update(module.HANDLERS)
    return handlers


def install(rt: "RealtimeService") -> None:
    for module in MODULES:
        hook = getattr(module, "install", None)
        if hook is not None:
            hook(rt)
