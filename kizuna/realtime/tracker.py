"""The presence tracker: who (which session of which user) is on which stream.

Presences are addressed by (node, session_id): today every presence is local, but the interface is
what a cluster-wide tracker (fed over NATS) would offer too: handlers only track, untrack, update,
look up and list, and hear about joins and leaves through listeners registered per stream mode
(several areas may listen on one mode: each listener gets every event of that mode, in the order
they were registered).

Join and leave events are not delivered inside `track()`/`untrack()`: they are collected and
flushed on the next turn of the event loop, grouped per stream. So a handler can reply to its
request before the presence events go out (the order Nakama clients see), and many leaves of one
disconnect become one event per stream. Hidden presences are tracked (they receive what is sent to
the stream) but produce no events and are left out of listings.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from kizuna.core.streams import Stream

log = logging.getLogger("kizuna.realtime")


class Presence:
    __slots__ = (
        "hidden",
        "node",
        "persistence",
        "session_id",
        "status",
        "stream",
        "user_id",
        "username",
    )

    def __init__(self, node: str, session_id: str, user_id: str, username: str, stream: Stream,
                 persistence: bool = False, hidden: bool = False,
                 status: str | None = None) -> None:
        self.node = node
        self.session_id = session_id
        self.user_id = user_id
        self.username = username
        self.stream = stream
        self.persistence = persistence
        self.hidden = hidden
        self.status = status

    def __repr__(self) -> str:
        return f"Presence({self.stream}, {self.user_id}, {self.session_id})"


# (stream, joins, leaves): called on the event loop; must not block.
Listener = Callable[[Stream, list[Presence], list[Presence]], None]


class Tracker(Protocol):
    node: str

    def listen(self, mode: int, listener: Listener) -> None:
        """Add a listener for the join/leave events of every stream of a mode (listeners add up:
        a second one on a mode does not replace the first)."""

    def track(self, session_id: str, stream: Stream, user_id: str, username: str, *,
              persistence: bool = False, hidden: bool = False, status: str | None = None) -> bool:
        """Add a presence; True if it is new (an existing one is left as it is)."""

    def update(self, session_id: str, stream: Stream, user_id: str, username: str, *,
               persistence: bool = False, hidden: bool = False, status: str | None = None) -> None:
        """Replace a presence's metadata (a leave of the old and a join of the new), or track it."""

    def untrack(self, session_id: str, stream: Stream) -> bool: ...

    def untrack_all(self, session_id: str) -> None: ...

    def untrack_modes(self, session_id: str, modes: frozenset[int], keep: Stream) -> None: ...

    def get(self, session_id: str, stream: Stream) -> Presence | None: ...

    def list(self, stream: Stream, include_hidden: bool = False) -> list[Presence]: ...

    def presences(self, stream: Stream) -> Iterable[Presence]:
        """Every presence on the stream, hidden ones included: the recipients of a message."""

    def exists(self, stream: Stream) -> bool: ...

    def count(self, stream: Stream) -> int: ...

    def count_modes(self, session_id: str, modes: frozenset[int]) -> int:
        """How many streams of these modes a session is on (for the per-socket limits)."""

    def count_by_mode(self) -> dict[int, int]:
        """How many presences (hidden ones included) this node tracks per stream mode (for
        metrics: kept up to date as presences come and go, so reading it costs no scan)."""

    def count_streams(self, mode: int) -> int:
        """How many streams of a mode have presences on this node (a scan of the streams: for
        the console's status, every few seconds, not for hot paths)."""

    def streams(self, mode: int) -> builtins.list[Stream]:
        """The streams of a mode that have presences on this node (a scan of the streams: for
        the console's lists, not for hot paths)."""


_EMPTY: dict[str, Presence] = {}
_EMPTY_STREAMS: dict[Stream, Presence] = {}


class LocalTracker:
    """A tracker for one node, in memory."""

    def __init__(self, node: str) -> None:
        self.node = node
        self._by_stream: dict[Stream, dict[str, Presence]] = {}
        self._by_session: dict[str, dict[Stream, Presence]] = {}
        self._per_mode: dict[int, int] = {}
        self._listeners: dict[int, list[Listener]] = {}
        self._events: list[tuple[Presence, bool]] = []  # (presence, is_join)
        self._flush_handle: asyncio.Handle | None = None

    # -- changes -------------------------------------------------------------------------------

    def listen(self, mode: int, listener: Listener) -> None:
        self._listeners.setdefault(mode, []).append(listener)

    def track(self, session_id: str, stream: Stream, user_id: str, username: str, *,
              persistence: bool = False, hidden: bool = False, status: str | None = None) -> bool:
        mine = self._by_session.get(session_id)
        if mine is not None and stream in mine:
            return False
        p = Presence(self.node, session_id, user_id, username, stream, persistence, hidden, status)
        self._add(p)
        if not hidden:
            self._event(p, True)
        return True

    def update(self, session_id: str, stream: Stream, user_id: str, username: str, *,
               persistence: bool = False, hidden: bool = False, status: str | None = None) -> None:
        old = self.get(session_id, stream)
        p = Presence(self.node, session_id, user_id, username, stream, persistence, hidden, status)
        if old is not None:
            self._remove(old)
            if not old.hidden:
                self._event(old, False)
        self._add(p)
        if not hidden:
            self._event(p, True)

    def untrack(self, session_id: str, stream: Stream) -> bool:
        p = self.get(session_id, stream)
        if p is None:
            return False
        self._remove(p)
        if not p.hidden:
            self._event(p, False)
        return True

    def untrack_all(self, session_id: str) -> None:
        mine = self._by_session.get(session_id)
        if not mine:
            return
        for p in list(mine.values()):
            self._remove(p)
            if not p.hidden:
                self._event(p, False)

    def untrack_modes(self, session_id: str, modes: frozenset[int], keep: Stream) -> None:
        mine = self._by_session.get(session_id)
        if not mine:
            return
        for stream in [s for s in mine if s.mode in modes and s != keep]:
            self.untrack(session_id, stream)

    def _add(self, p: Presence) -> None:
        members = self._by_stream.setdefault(p.stream, {})
        if p.session_id not in members and p.node == self.node:  # counts: this node's own
            mode = p.stream.mode
            self._per_mode[mode] = self._per_mode.get(mode, 0) + 1
        members[p.session_id] = p
        self._by_session.setdefault(p.session_id, {})[p.stream] = p

    def _remove(self, p: Presence) -> None:
        members = self._by_stream.get(p.stream)
        if members is not None:
            if members.pop(p.session_id, None) is not None and p.node == self.node:
                self._per_mode[p.stream.mode] -= 1
            if not members:
                del self._by_stream[p.stream]
        mine = self._by_session.get(p.session_id)
        if mine is not None:
            mine.pop(p.stream, None)
            if not mine:
                del self._by_session[p.session_id]

    # -- events --------------------------------------------------------------------------------

    def _event(self, p: Presence, join: bool) -> None:
        if p.stream.mode not in self._listeners:
            return
        self._events.append((p, join))
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        events, self._events = self._events, []
        grouped: dict[Stream, tuple[list[Presence], list[Presence]]] = {}
        for p, join in events:
            joins, leaves = grouped.setdefault(p.stream, ([], []))
            (joins if join else leaves).append(p)
        for stream, (joins, leaves) in grouped.items():
            for listener in self._listeners.get(stream.mode, ()):
                try:
                    listener(stream, joins, leaves)
                except Exception:  # one failing listener must not starve the others
                    log.exception("presence listener failed", extra={"mode": stream.mode})

    # -- reading -------------------------------------------------------------------------------

    def get(self, session_id: str, stream: Stream) -> Presence | None:
        mine = self._by_session.get(session_id)
        return None if mine is None else mine.get(stream)

    def list(self, stream: Stream, include_hidden: bool = False) -> list[Presence]:
        members = self._by_stream.get(stream, _EMPTY).values()
        if include_hidden:
            return list(members)
        return [p for p in members if not p.hidden]

    def presences(self, stream: Stream) -> Iterable[Presence]:
        return self._by_stream.get(stream, _EMPTY).values()

    def exists(self, stream: Stream) -> bool:
        return stream in self._by_stream

    def count(self, stream: Stream) -> int:
        return len(self._by_stream.get(stream, _EMPTY))

    def count_modes(self, session_id: str, modes: frozenset[int]) -> int:
        return sum(1 for s in self._by_session.get(session_id, _EMPTY_STREAMS) if s.mode in modes)

    def count_by_mode(self) -> dict[int, int]:
        return {mode: n for mode, n in self._per_mode.items() if n}

    def count_streams(self, mode: int) -> int:
        return sum(1 for s in self._by_stream if s.mode == mode)

    def streams(self, mode: int) -> builtins.list[Stream]:
        return [s for s in self._by_stream if s.mode == mode]

    def streams_of(self, session_id: str) -> builtins.list[Stream]:
        return [*self._by_session.get(session_id, {})]

    @property
    def size(self) -> int:
        return sum(len(m) for m in self._by_stream.values())
