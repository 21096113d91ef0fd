"""`rpc {id, payload}`: call a server module's RPC function; reply `rpc {id, payload}`.

Errors, as Nakama: no id -> BAD_INPUT; no such function -> RUNTIME_FUNCTION_NOT_FOUND; the
function failed (an `Error` it raised, a timeout, a bug) -> RUNTIME_FUNCTION_EXCEPTION with the
message the client may see. RPCs have no realtime hooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kizuna.errors import KizunaError
from kizuna.realtime.envelope import ErrorCode, RealtimeError
from kizuna.wire import fields

if TYPE_CHECKING:
    from kizuna.realtime.handlers import Reply
    from kizuna.realtime.service import RealtimeService
    from kizuna.realtime.session import Session


async def rpc(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    rpc_id = fields.text(body, "id")
    if not rpc_id:
        raise RealtimeError(ErrorCode.BAD_INPUT, "RPC ID must be set")
    modules = rt.modules
    function = modules.rpc_function(rpc_id)
    if function is None:
        raise RealtimeError(ErrorCode.RUNTIME_FUNCTION_NOT_FOUND, "RPC function not found")
    payload = fields.text(body, "payload")
    try:
        result = await modules.call_rpc(function, modules.session_fields(session), payload)
    except KizunaError as exc:
        raise RealtimeError(ErrorCode.RUNTIME_FUNCTION_EXCEPTION, exc.message) from None
    if session.closed:
        return None
    out: dict[str, Any] = {"id": rpc_id}
    if result:
        out["payload"] = result
    return "rpc", out


HANDLERS = {"rpc": rpc}
