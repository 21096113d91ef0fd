"""Envelope handlers, one module per family. Each module has HANDLERS (message kind -> function),
may list in NO_REPLY the kinds it never answers, and may have `install(rt)` to hook tracker
listeners.

A handler is `handler(rt, session, message)`, plain or async, and RETURNS its reply: a
`(kind, body)` pair, or None for an empty reply (`{"cid": ...}`). It sends nothing itself: the one
dispatcher (RealtimeService.dispatch) encodes the reply with the request's cid and sends it, after
which server modules' after hooks see it. A handler whose session closed while it waited returns
None without doing anything more. Failures are raised: KizunaError (mapped to BAD_INPUT or
RUNTIME_EXCEPTION) or RealtimeError (a socket-specific code, with or without the request's cid);
the dispatcher turns those into error envelopes.

Every message a client may send (kizuna.wire.methods.CLIENT_KINDS) has a handler: those this
server does not serve yet answer "<kind> is not supported by this server yet", after the hooks
like any other.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from kizuna.realtime.envelope import ErrorCode, RealtimeError
from kizuna.realtime.handlers import channel, match, matchmaker, party, ping, rpc, status, streams
from kizuna.wire import methods

if TYPE_CHECKING:
    from kizuna.realtime.service import RealtimeService
    from kizuna.realtime.session import Session

Reply = tuple[str, dict[str, Any]] | None
"""What a handler returns: (kind, body) for a reply, None for an empty one."""

HandlerFn = Callable[["RealtimeService", "Session", dict[str, Any]],
                     "Reply | Awaitable[Reply]"]


class Handler(NamedTuple):
    fn: HandlerFn
    is_async: bool
    replies: bool  # False: the message is never answered (its handler's result is not sent)


MODULES = (ping, status, channel, match, matchmaker, party, rpc, streams)


def not_supported(kind: str) -> HandlerFn:
    message = methods.not_supported(kind)

    def handler(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
        raise RealtimeError(ErrorCode.UNRECOGNIZED_PAYLOAD, message)
    return handler


def table() -> dict[str, Handler]:
    """Message kind -> handler, for every message a client may send."""
    out: dict[str, Handler] = {}
    for module in MODULES:
        silent: frozenset[str] = getattr(module, "NO_REPLY", frozenset())
        for kind, fn in module.HANDLERS.items():
            out[kind] = Handler(fn, inspect.iscoroutinefunction(fn), kind not in silent)
    for kind in sorted(methods.CLIENT_KINDS - out.keys()):
        out[kind] = Handler(not_supported(kind), False, True)
    return out


def install(rt: RealtimeService) -> None:
    for module in MODULES:
        hook = getattr(module, "install", None)
        if hook is not None:
            hook(rt)
