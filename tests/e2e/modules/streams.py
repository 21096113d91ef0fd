"""Server module for tests/e2e/js/streams.test.mjs: a lobby on a custom stream, as a game would
write one. Players enter and leave it with socket RPCs (their own session); the server announces
to everyone in it, or whispers to some, and counts who is there."""

from __future__ import annotations

from typing import Any

from kizuna.runtime import Code, Error
from kizuna.runtime.types import Context, Initializer, Logger, Nk

LOBBY_MODE = 123  # custom streams use modes 8-255


def lobby(name: Any) -> dict[str, Any]:
    if not isinstance(name, str) or not name:
        raise Error("A lobby name is required.", Code.INVALID_ARGUMENT)
    return {"mode": LOBBY_MODE, "label": name}


def lobby_enter(ctx: Context, logger: Logger, nk: Nk, payload: str) -> str:
    """Socket RPC: the calling session enters a lobby ({"lobby", "hidden"?, "status"?})."""
    if ctx.session_id is None:
        raise Error("Call this over the socket.", Code.FAILED_PRECONDITION)
    p = nk.json_decode(payload)
    joined = nk.stream_user_join(ctx.user_id, ctx.session_id, lobby(p.get("lobby")),
                                 p.get("hidden", False), False, p.get("status", ""))
    return nk.json_encode({"joined": joined, "session_id": ctx.session_id})


async def lobby_leave(ctx: Context, logger: Logger, nk: Nk, payload: str) -> str:
    """Socket RPC: the calling session leaves a lobby ({"lobby"})."""
    p = nk.json_decode(payload)
    await nk.aio.stream_user_leave(ctx.user_id, ctx.session_id, lobby(p.get("lobby")))
    return "{}"


async def lobby_announce(ctx: Context, logger: Logger, nk: Nk, payload: str) -> str:
    """An announcement to a lobby ({"lobby", "text", "to"?: [session ids]}): to everyone in it, or
    to those sessions only. Answers how many are in the lobby."""
    p = nk.json_decode(payload)
    stream = lobby(p.get("lobby"))
    to = [{"session_id": sid} for sid in p["to"]] if p.get("to") else None
    await nk.aio.stream_send(stream, nk.json_encode({"text": p["text"]}), to)
    return nk.json_encode({"count": await nk.aio.stream_count(stream),
                           "shown": len(await nk.aio.stream_user_list(stream, False, True))})


def lobby_close(ctx: Context, logger: Logger, nk: Nk, payload: str) -> str:
    """Everyone out of a lobby ({"lobby"})."""
    nk.stream_close(lobby(nk.json_decode(payload).get("lobby")))
    return "{}"


def init_module(ctx: Context, logger: Logger, nk: Nk, initializer: Initializer) -> None:
    initializer.register_rpc("lobby_enter", lobby_enter)
    initializer.register_rpc("lobby_leave", lobby_leave)
    initializer.register_rpc("lobby_announce", lobby_announce)
    initializer.register_rpc("lobby_close", lobby_close)
