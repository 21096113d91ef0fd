"""Before and after hooks around REST methods and socket messages.

The transports call these from their single dispatch points (kizuna/api/endpoint.py for every /v2
route, RealtimeService.dispatch for every socket message), so a hook covers any endpoint or message
kind by construction.

REST (Nakama's semantics):
- before: gets the request as a dict in Nakama's JSON shape (snake_case) and returns it, possibly
  changed; None disables the method (404 "Requested resource was not found."); an `Error` is
  returned to the client with its code.
- after: gets the response dict and the request; runs before the response is sent, its result is
  ignored and its errors are logged.

Socket (`SocketHooks`, what the runtime gives the socket dispatcher for a hooked message kind,
see kizuna/realtime/modules.py): the same, with the message's dict. A before hook returning None
refuses the message with an error envelope (UNRECOGNIZED_PAYLOAD) and keeps the session (Nakama
closes it); a before hook error is RUNTIME_FUNCTION_EXCEPTION. An after hook runs only when the
handler succeeded, once its reply is sent, and gets the reply's message (None when the message
has no reply or an empty one) and the message handled.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kizuna.errors import Code, KizunaError
from kizuna.realtime.envelope import ErrorCode, RealtimeError
from kizuna.runtime import context as modes
from kizuna.runtime.registry import Function

if TYPE_CHECKING:
    from kizuna.realtime.session import Session
    from kizuna.runtime.service import Runtime

log = logging.getLogger("kizuna.runtime")

DISABLED = "Requested resource was not found."


async def before(runtime: Runtime, f: Function, fields: dict[str, Any],
                 request: dict[str, Any]) -> dict[str, Any]:
    ctx = runtime.context(modes.BEFORE, **fields)
    result = await runtime.invoker.call(f, ctx, f.logger, runtime.nk, request)
    if result is None:
        raise KizunaError(Code.NOT_FOUND, DISABLED)
    if not isinstance(result, dict):
        log.error("A before hook returned something other than a dict or None", extra={
            "function": f.label, "runtime_module": f.module, "type": type(result).__name__})
        raise KizunaError(Code.INTERNAL, "Internal Server Error")
    return result


async def after(runtime: Runtime, f: Function, fields: dict[str, Any], response: Any,
                request: dict[str, Any]) -> None:
    ctx = runtime.context(modes.AFTER, **fields)
    try:
        await runtime.invoker.call(f, ctx, f.logger, runtime.nk, response, request)
    except KizunaError as exc:
        log.warning("After hook failed", extra={"function": f.label, "runtime_module": f.module,
                                                "code": int(exc.code), "error": exc.message})


async def socket_before(runtime: Runtime, f: Function, fields: dict[str, Any],
                        message: dict[str, Any]) -> dict[str, Any]:
    """A socket message's before hook: the message to handle, or RealtimeError."""
    ctx = runtime.context(modes.BEFORE, **fields)
    try:
        result = await runtime.invoker.call(f, ctx, f.logger, runtime.nk, message)
    except KizunaError as exc:
        raise RealtimeError(ErrorCode.RUNTIME_FUNCTION_EXCEPTION, exc.message) from None
    if result is None:
        raise RealtimeError(ErrorCode.UNRECOGNIZED_PAYLOAD, DISABLED)
    if not isinstance(result, dict):
        log.error("A realtime before hook returned something other than a dict or None",
                  extra={"function": f.label, "runtime_module": f.module})
        raise RealtimeError(ErrorCode.RUNTIME_FUNCTION_EXCEPTION, "Internal Server Error")
    return result


async def socket_after(runtime: Runtime, f: Function, fields: dict[str, Any],
                       reply: dict[str, Any] | None, message: dict[str, Any]) -> None:
    """A socket message's after hook, with the reply's message; failures are logged."""
    await after(runtime, f, fields, reply, message)


class SocketHooks:
    """The realtime hooks of one message kind, taken from one registry (a reload while the
    message is handled does not mix versions); implements kizuna.realtime.modules.SocketHooks."""

    __slots__ = ("_fields", "after_hook", "before_hook", "runtime")

    def __init__(self, runtime: Runtime, before_hook: Function | None,
                 after_hook: Function | None) -> None:
        self.runtime = runtime
        self.before_hook = before_hook
        self.after_hook = after_hook
        self._fields: dict[str, Any] | None = None

    def _fields_of(self, session: Session) -> dict[str, Any]:
        if self._fields is None:
            self._fields = self.runtime.session_fields(session)
        return self._fields

    async def before(self, session: Session, message: dict[str, Any]) -> dict[str, Any]:
        if self.before_hook is None:
            return message
        return await socket_before(self.runtime, self.before_hook, self._fields_of(session),
                                   message)

    async def after(self, session: Session, reply: dict[str, Any] | None,
                    message: dict[str, Any]) -> None:
        if self.after_hook is not None:
            await socket_after(self.runtime, self.after_hook, self._fields_of(session), reply,
                               message)
