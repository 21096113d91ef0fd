"""`rpc {id, payload}`: call a server module's RPC function; reply `rpc {id, payload}`.

Errors, as Nakama: no id -> BAD_INPUT; no such function -> RUNTIME_FUNCTION_NOT_FOUND; the
function failed (an `Error` it raised, a timeout, a bug) -> RUNTIME_FUNCTION_EXCEPTION with the
message the client may see. RPCs have no realtime hooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kizuna.core.errors import KizunaError
from kizuna.realtime import envelope
from kizuna.realtime.envelope import ErrorCode, RealtimeError

if TYPE_CHECKING:
    from kizuna.realtime.service import RealtimeService
    from kizuna.realtime.session import Session


async def rpc(rt: "RealtimeService", session: "Session", cid: str | None,
              body: dict[str, Any]) -> None:
    rpc_id = envelope.text(body, "id")
    if not rpc_id:
        raise RealtimeError(ErrorCode.BAD_INPUT, "RPC ID must be set")
    runtime = rt.runtime
    function = runtime.rpc_function(rpc_id) if runtime is not None else None
    if function is None:
        raise RealtimeError(ErrorCode.RUNTIME_FUNCTION_NOT_FOUND, "RPC function not found")
    payload = envelope.text(body, "payload")
    try:
        result = await runtime.call_rpc(function, runtime.session_fields(session), payload)
    except KizunaError as exc:
        raise RealtimeError(ErrorCode.RUNTIME_FUNCTION_EXCEPTION, exc.message) from None
    if session.closed:
        return
    out: dict[str, Any] = {"id": rpc_id}
    if result:
        out["payload"] = result
    session.send(envelope.reply(cid, "rpc", out))


HANDLERS = {"rpc": rpc}
