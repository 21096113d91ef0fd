"""The `ctx` every server function receives: who is calling, how, and from where.

Its attributes carry Nakama's context keys. It is read-only (a frozen dataclass whose mappings are
read-only views): a function reads it, it never changes it. Keys that do not apply to a call are
None, e.g. `user_id` for an RPC called with the HTTP key, or `headers` for a socket message.
`ctx["user_id"]` and `ctx.get("user_id")` work too, for code ported from Nakama's runtimes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, TypeVar, overload

# Execution modes, as Nakama names them.
RUN_ONCE = "run_once"  # init_module
RPC = "rpc"
BEFORE = "before"
AFTER = "after"
EVENT = "event"
SHUTDOWN = "shutdown"
HTTP = "http"  # a custom HTTP handler (Kizuna's name: Nakama's Go handlers get no context)
LEADERBOARD_RESET = "leaderboard_reset"
TOURNAMENT_END = "tournament_end"
TOURNAMENT_RESET = "tournament_reset"
MATCH = "match"  # the functions of an authoritative match's handler
MATCHMAKER = "matchmaker"  # the matchmaker matched function

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Context:
    env: Mapping[str, str]
    """`runtime.env` as a read-only mapping (`--runtime.env KEY=VALUE`, repeatable)."""
    execution_mode: str
    """run_once (init_module), rpc, before, after, event, shutdown, http, match or matchmaker."""
    node: str
    version: str
    headers: Mapping[str, list[str]] | None = None
    """HTTP request headers (REST calls, RPC over HTTP, custom HTTP handlers)."""
    query_params: Mapping[str, list[str]] | None = None
    user_id: str | None = None
    username: str | None = None
    vars: Mapping[str, str] | None = None
    """The session's vars (set at authentication)."""
    user_session_exp: int | None = None
    """When the caller's session token expires (unix seconds)."""
    session_id: str | None = None
    """The socket session, for calls that come over the socket."""
    lang: str | None = None
    client_ip: str | None = None
    client_port: str | None = None
    match_id: str | None = None
    """The match, in the functions of an authoritative match's handler."""
    match_node: str | None = None
    match_label: str | None = None
    """The match's label when the function was called (None in match_init)."""
    match_tick_rate: int | None = None

    def __getitem__(self, key: str) -> Any:
        if key not in _NAMES:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        value = getattr(self, key, None) if key in _NAMES else None
        return default if value is None else value


_NAMES = frozenset(f.name for f in fields(Context))


_V = TypeVar("_V")


@overload
def frozen(mapping: Mapping[str, _V]) -> Mapping[str, _V]: ...
@overload
def frozen(mapping: Mapping[str, _V] | None) -> Mapping[str, _V] | None: ...


def frozen(mapping: Mapping[str, _V] | None) -> Mapping[str, _V] | None:
    """A read-only copy (None stays None)."""
    return None if mapping is None else MappingProxyType(dict(mapping))
