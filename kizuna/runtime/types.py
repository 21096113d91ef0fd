"""Types for annotating server modules, so editors complete `ctx.`, `nk.`, `nk.aio.` and
`initializer.`:

    from kizuna.runtime.types import Context, Initializer, Logger, Nk

    def rpc_hello(ctx: Context, logger: Logger, nk: Nk, payload: str) -> str: ...

    def match_loop(ctx: Context, logger: Logger, nk: Nk, dispatcher: MatchDispatcher,
                   tick: int, state: dict, messages: list[dict]) -> dict | None: ...

    async def rpc_fast(ctx: Context, logger: Logger, nk: Nk, payload: str) -> str:
        objects = await nk.aio.storage_read([...])

The shapes `nk` returns are TypedDicts (kizuna/runtime/shapes.py; plain dicts at runtime).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kizuna.runtime.context import Context
from kizuna.runtime.http import HttpRequest, HttpResponse
from kizuna.runtime.logger import Logger
from kizuna.runtime.matches import Dispatcher as MatchDispatcher
from kizuna.runtime.nk import AsyncNk, Nk
from kizuna.runtime.registry import Initializer
from kizuna.runtime.shapes import (
    Account,
    AccountExport,
    AuthResult,
    ChannelMessage,
    ChannelMessageList,
    Friend,
    FriendOfFriend,
    Group,
    GroupUser,
    Match,
    Notification,
    StorageAck,
    StorageObject,
    TokenResult,
    User,
    UserGroup,
)

__all__ = [
    "Account", "AccountExport", "AfterHook", "AsyncNk", "AuthResult", "BeforeHook",
    "ChannelMessage", "ChannelMessageList", "Context", "EventFunction", "Friend",
    "FriendOfFriend", "Group", "GroupUser", "HttpFunction",
    "HttpRequest", "HttpResponse", "Initializer", "Logger", "Match", "MatchDispatcher", "Nk",
    "Notification", "RpcFunction",
    "ShutdownFunction", "StorageAck", "StorageObject", "TokenResult", "User",
    "UserGroup",
]

# Function shapes (a plain function, or a coroutine function: the result may be awaitable).
_R = Any | Awaitable[Any]
RpcFunction = Callable[[Context, Logger, Nk, str], _R]
"""(ctx, logger, nk, payload) -> str | None"""
BeforeHook = Callable[[Context, Logger, Nk, dict], _R]
"""(ctx, logger, nk, request) -> request | None"""
AfterHook = Callable[[Context, Logger, Nk, Any, dict], _R]
"""(ctx, logger, nk, response, request) -> ignored"""
EventFunction = Callable[[Context, Logger, Nk, dict], _R]
"""(ctx, logger, nk, event) -> ignored"""
ShutdownFunction = Callable[[Context, Logger, Nk], _R]
HttpFunction = Callable[[Context, Logger, Nk, HttpRequest], _R]
"""(ctx, logger, nk, request) -> HttpResponse | dict | list | str | bytes | None"""
