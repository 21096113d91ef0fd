"""What the socket layer needs from server modules: `Modules`, a small interface.

The socket dispatcher runs modules' realtime hooks around every message, the `rpc` handler calls
their RPC functions, each socket's start and end are events for them, and the matchmaker asks
them for the match of each group it forms. The node's runtime
(kizuna/runtime/service.py, `Runtime`) implements this interface and the builder
(kizuna/services.py) sets it as `RealtimeService.modules`; without server modules it is
`NO_MODULES`: no hooks, no RPC functions, events go nowhere. The socket layer never imports the
runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from kizuna.realtime.session import Session


class SocketHooks(Protocol):
    """The realtime hooks of one message kind, as the modules had them when the message arrived
    (a reload of the modules in between does not mix two versions)."""

    async def before(self, session: Session, message: dict[str, Any]) -> dict[str, Any]:
        """The message to handle: the one given, or what the before hook returned in its place.
        Raises `RealtimeError` when the hook refuses the message or fails."""
        ...

    async def after(self, session: Session, reply: dict[str, Any] | None,
                    message: dict[str, Any]) -> None:
        """Run after the reply went out, with the reply's message (None when there was none, or
        an empty one) and the message handled. Failures are logged, not raised."""
        ...


class Modules(Protocol):
    def socket_hooks(self, kind: str) -> SocketHooks | None:
        """The hooks registered for a message kind, or None (the common case: keep it cheap)."""
        ...

    def rpc_function(self, rpc_id: str) -> Any | None:
        """The RPC function registered under an id, or None."""
        ...

    async def call_rpc(self, function: Any, fields: dict[str, Any], payload: str) -> str:
        """Call an RPC function found by `rpc_function` with the context `fields` of the caller
        (see `session_fields`): its result as the payload string; KizunaError when it fails."""
        ...

    def session_fields(self, session: Session) -> dict[str, Any]:
        """The context fields of a socket session (user, session id, vars, client address...)."""
        ...

    def session_event(self, which: str, session: Session) -> None:
        """A socket session started (`which="start"`) or ended (`"end"`). Never blocks."""
        ...

    def has_matchmaker_matched(self) -> bool:
        """Whether server code chooses the matches of the matchmaker's groups."""
        ...

    async def matchmaker_matched(self, entries: list[dict[str, Any]]) -> str | None:
        """The match id server code chose for a group the matchmaker formed (its entries, one
        per user), or None: no function, it returned none, or it failed (logged)."""
        ...


class NoModules:
    """No server modules: nothing hooked, no RPC function, events dropped."""

    def socket_hooks(self, kind: str) -> SocketHooks | None:
        return None

    def rpc_function(self, rpc_id: str) -> Any | None:
        return None

    async def call_rpc(self, function: Any, fields: dict[str, Any], payload: str) -> str:
        raise LookupError("no server modules")  # unreachable: there is no function to call

    def session_fields(self, session: Session) -> dict[str, Any]:
        return {}

    def session_event(self, which: str, session: Session) -> None:
        return None

    def has_matchmaker_matched(self) -> bool:
        return False

    async def matchmaker_matched(self, entries: list[dict[str, Any]]) -> str | None:
        return None


NO_MODULES: Modules = NoModules()
