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

Socket: the same, with the message's dict. A before hook returning None refuses the message with
an error envelope (UNRECOGNIZED_PAYLOAD) and keeps the session (Nakama closes it); a before hook
error is RUNTIME_FUNCTION_EXCEPTION. An after hook runs only when the handler succeeded and gets
the reply's message (None when the message has no reply, or was sent without a cid).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson

from kizuna.core.errors import Code, KizunaError
from kizuna.runtime import context as modes
from kizuna.runtime.registry import Function, Registry

if TYPE_CHECKING:
    from kizuna.runtime.service import Runtime

log = logging.getLogger("kizuna.runtime")

DISABLED = "Requested resource was not found."


async def before(runtime: "Runtime", f: Function, fields: dict[str, Any],
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


async def after(runtime: "Runtime", f: Function, fields: dict[str, Any], response: Any,
                request: dict[str, Any]) -> None:
    ctx = runtime.context(modes.AFTER, **fields)
    try:
        await runtime.invoker.call(f, ctx, f.logger, runtime.nk, response, request)
    except KizunaError as exc:
        log.warning("After hook failed", extra={"function": f.label, "runtime_module": f.module,
                                                "code": int(exc.code), "error": exc.message})


async def dispatch_rt(runtime: "Runtime", reg: Registry, rt: Any, handler: Any, session: Any,
                      cid: str | None, kind: str, body: dict[str, Any]) -> None:
    """Run a socket message's handler between its realtime hooks."""
    from kizuna.realtime.envelope import ErrorCode, RealtimeError

    fields = runtime.session_fields(session)
    hook = reg.rt_before.get(kind)
    if hook is not None:
        ctx = runtime.context(modes.BEFORE, **fields)
        try:
            result = await runtime.invoker.call(hook, ctx, hook.logger, runtime.nk, body)
        except KizunaError as exc:
            raise RealtimeError(ErrorCode.RUNTIME_FUNCTION_EXCEPTION, exc.message) from None
        if result is None:
            raise RealtimeError(ErrorCode.UNRECOGNIZED_PAYLOAD, DISABLED)
        if not isinstance(result, dict):
            log.error("A realtime before hook returned something other than a dict or None",
                      extra={"function": hook.label, "runtime_module": hook.module})
            raise RealtimeError(ErrorCode.RUNTIME_FUNCTION_EXCEPTION, "Internal Server Error")
        body = result
    done = reg.rt_after.get(kind)
    if done is None:
        pending = handler(rt, session, cid, body)
        if pending is not None:
            await pending
        return
    session.tap = tap = []
    try:
        pending = handler(rt, session, cid, body)
        if pending is not None:
            await pending
    finally:
        session.tap = None
    out = _reply(tap, cid)
    if out is _FAILED:
        return
    await after(runtime, done, fields, out, body)


_FAILED = object()


def _reply(sent: list[bytes], cid: str | None) -> Any:
    """The reply's message among what was sent to the session while its handler ran."""
    if cid is None:
        return None
    for data in sent:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(doc, dict) or doc.get("cid") != cid:
            continue
        doc.pop("cid")
        if "error" in doc:
            return _FAILED
        return next(iter(doc.values()), None) if doc else None
    return None
