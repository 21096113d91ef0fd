"""The message router: every delivery to a socket, and every closing of one, goes through here.

Recipients are addressed by presence (node, session_id), by stream, by user, by the followers of a
user's status, by session id or by session token: so a cluster router can forward the same bytes
(or the same close) to the nodes that hold the sessions, and replacing this one object makes the
socket layer cluster-aware. The local router delivers to this node's sessions and drops (with a
log line) anything addressed to a presence elsewhere. Callers encode an envelope once and pass the
bytes: every recipient shares them.

The router is also where the socket layer asks who can be reached (online users), since that is a
cluster-wide question too. Only the router writes to or closes sessions of the `SessionRegistry`
on behalf of the rest of the server (the session's own reader, keepalive and shutdown aside), and
it is how the rest of the server takes a user's sessions off a stream (`leave_stream`) and how
server code puts sessions on streams and takes them off (`stream_join`, ..., `stream_close`): a
cluster router forwards those to the node holding the session.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

from kizuna.core.streams import Stream, notifications_stream, status_stream
from kizuna.realtime.session import Session, SessionRegistry
from kizuna.realtime.status import StatusRegistry
from kizuna.realtime.tracker import Presence, Tracker

log = logging.getLogger("kizuna.realtime")


class Router(Protocol):
    # -- delivering --------------------------------------------------------------------------------

    def send_to_presences(self, presences: Iterable[Presence], data: bytes) -> None: ...

    def send_to_stream(self, stream: Stream, data: bytes, exclude: str | None = None) -> None:
        """To every presence on the stream (hidden ones too), but the session `exclude`."""

    def send_to_user(self, user_id: str, data: bytes) -> None:
        """To every socket of a user."""

    def send_to_session(self, node: str, session_id: str, data: bytes) -> bool: ...

    def send_to_followers(self, user_id: str, data: bytes) -> None:
        """A status event of a user: to the user's own sockets, then to the sessions following
        the user's status."""

    # -- session changes ---------------------------------------------------------------------------

    def leave_stream(self, user_id: str, stream: Stream) -> int:
        """Take every presence of a user off a stream (leave events go to the others). How many
        (on this node)."""

    def stream_join(self, stream: Stream, user_id: str, session_id: str, *, hidden: bool,
                    persistence: bool, status: str | None) -> bool | None:
        """Put a session of a user on a stream (server code, nk.stream_user_join): True if new,
        False if it was on it already, None if no such session of that user is connected."""

    def stream_update(self, stream: Stream, user_id: str, session_id: str, *, hidden: bool,
                      persistence: bool, status: str | None) -> bool | None:
        """Replace a session's presence on a stream (or add it); None as `stream_join`."""

    def stream_leave(self, stream: Stream, user_id: str, session_id: str) -> bool:
        """Take a session of a user off a stream; False if it was not on it."""

    def stream_close(self, stream: Stream) -> int:
        """Take every session off a stream. How many (on this node)."""

    # -- closing -----------------------------------------------------------------------------------

    def close_user(self, user_id: str, code: int, reason: str, *, notice: bytes | None = None,
                   exclude: str | None = None) -> int:
        """Close every socket of a user but the session `exclude`, each after sending it `notice`
        when given (a single-socket kick). How many were closed (on this node)."""

    def close_session(self, session_id: str, code: int, reason: str) -> bool:
        """Close one socket session; False if no such session is connected."""

    def close_token(self, token_id: str, code: int, reason: str) -> int:
        """Close the sockets opened with a session token (revoked). How many (on this node)."""

    # -- who can be reached ------------------------------------------------------------------------

    def is_online(self, user_id: str) -> bool:
        """Whether the user shows an online status (presence on its status stream)."""

    def online_users(self) -> list[str]:
        """The users with at least one socket open."""


class LocalRouter:
    def __init__(self, node: str, sessions: SessionRegistry, tracker: Tracker,
                 status: StatusRegistry) -> None:
        self.node = node
        self.sessions = sessions
        self.tracker = tracker
        self.status = status

    # -- delivering --------------------------------------------------------------------------------

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

    def send_to_followers(self, user_id: str, data: bytes) -> None:
        for own in self.sessions.for_user(user_id):
            own.send(data)
        get = self.sessions.get
        for sid in self.status.followers(user_id):
            s = get(sid)
            if s is not None and s.user_id != user_id:  # its own sessions have it already
                s.send(data)

    # -- session changes ---------------------------------------------------------------------------

    def leave_stream(self, user_id: str, stream: Stream) -> int:
        node = self.node
        mine = [p.session_id for p in self.tracker.presences(stream)
                if p.user_id == user_id and p.node == node]
        for sid in mine:
            self.tracker.untrack(sid, stream)
        return len(mine)

    def _live(self, user_id: str, session_id: str) -> Session | None:
        s = self.sessions.get(session_id)
        return s if s is not None and not s.closed and s.user_id == user_id else None

    def stream_join(self, stream: Stream, user_id: str, session_id: str, *, hidden: bool,
                    persistence: bool, status: str | None) -> bool | None:
        s = self._live(user_id, session_id)
        if s is None:
            return None
        return self.tracker.track(session_id, stream, user_id, s.username, hidden=hidden,
                                  persistence=persistence, status=status)

    def stream_update(self, stream: Stream, user_id: str, session_id: str, *, hidden: bool,
                      persistence: bool, status: str | None) -> bool | None:
        s = self._live(user_id, session_id)
        if s is None:
            return None
        is_new = self.tracker.get(session_id, stream) is None
        self.tracker.update(session_id, stream, user_id, s.username, hidden=hidden,
                            persistence=persistence, status=status)
        return is_new

    def stream_leave(self, stream: Stream, user_id: str, session_id: str) -> bool:
        p = self.tracker.get(session_id, stream)
        if p is None or p.user_id != user_id or p.node != self.node:
            return False
        return self.tracker.untrack(session_id, stream)

    def stream_close(self, stream: Stream) -> int:
        node = self.node
        mine = [p.session_id for p in self.tracker.presences(stream) if p.node == node]
        for sid in mine:
            self.tracker.untrack(sid, stream)
        return len(mine)

    # -- closing -----------------------------------------------------------------------------------

    def close_user(self, user_id: str, code: int, reason: str, *, notice: bytes | None = None,
                   exclude: str | None = None) -> int:
        closed = 0
        for s in self.sessions.for_user(user_id):
            if s.id == exclude:
                continue
            if notice is not None:
                s.send(notice)
            s.close(code, reason)
            closed += 1
        return closed

    def close_session(self, session_id: str, code: int, reason: str) -> bool:
        s = self.sessions.get(session_id)
        if s is None:
            return False
        s.close(code, reason)
        return True

    def close_token(self, token_id: str, code: int, reason: str) -> int:
        closed = 0
        for s in self.sessions:
            if s.token_id == token_id:
                s.close(code, reason)
                closed += 1
        return closed

    # -- who can be reached ------------------------------------------------------------------------

    def is_online(self, user_id: str) -> bool:
        return self.tracker.exists(status_stream(user_id))

    def online_users(self) -> list[str]:
        return self.sessions.users()
