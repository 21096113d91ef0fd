"""The message router: deliver one encoded envelope to presences, to a stream, or to a user.

Recipients are addressed by (node, session_id), so a cluster router can forward the same bytes to
the node that holds a session; the local router delivers to this node's sessions and drops (with a
log line) anything addressed elsewhere. Callers encode an envelope once and pass the bytes: every
recipient shares them.
"""

from __future__ import annotations

import logging
from typing import Iterable, Protocol

from kizuna.core.streams import Stream, notifications_stream
from kizuna.realtime.session import SessionRegistry
from kizuna.realtime.tracker import Presence, Tracker

log = logging.getLogger("kizuna.realtime")


class Router(Protocol):
    def send_to_presences(self, presences: Iterable[Presence], data: bytes) -> None: ...

    def send_to_stream(self, stream: Stream, data: bytes, exclude: str | None = None) -> None:
        """To every presence on the stream (hidden ones too), but the session `exclude`."""

    def send_to_user(self, user_id: str, data: bytes) -> None:
        """To every socket of a user."""

    def send_to_session(self, node: str, session_id: str, data: bytes) -> bool: ...


class LocalRouter:
    def __init__(self, node: str, sessions: SessionRegistry, tracker: Tracker) -> None:
        self.node = node
        self.sessions = sessions
        self.tracker = tracker

    def send_to_presences(self, presences: Iterable[Presence], data: bytes) -> None:
        get, node = self.sessions.get, self.node
        for p in presences:
            if p.node != node:
                log.warning("no route to a remote presence", extra={"node": p.node})
                continue
            s = get(p.session_id)
            if s is not None:
                s.send(data)

    def send_to_stream(self, stream: Stream, data: bytes, exclude: str | None = None) -> None:
        get, node = self.sessions.get, self.node
        for p in self.tracker.presences(stream):
            sid = p.session_id
            if sid == exclude:
                continue
            if p.node != node:
                log.warning("no route to a remote presence", extra={"node": p.node})
                continue
            s = get(sid)
            if s is not None:
                s.send(data)

    def send_to_user(self, user_id: str, data: bytes) -> None:
        self.send_to_stream(notifications_stream(user_id), data)

    def send_to_session(self, node: str, session_id: str, data: bytes) -> bool:
        if node != self.node:
            return False
        s = self.sessions.get(session_id)
        return s is not None and s.send(data)
