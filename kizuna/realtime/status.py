"""Status follows: which sessions want to hear about which users' online status.

A user's online status is presence on its status stream (tracked by each socket that connected
with `status=true` or sent a status update). When those presences change, the followers of that
user get a `status_presence_event`. Every session follows its own user, so a player sees its other
devices come and go (as Nakama does); that follow is implicit (the user's own sessions, from the
session registry) rather than stored per session. Follows are per session and local to the node
that holds the session.
"""

from __future__ import annotations

from kizuna.core.streams import Stream
from kizuna.realtime import envelope
from kizuna.realtime.session import SessionRegistry
from kizuna.realtime.tracker import Presence


class StatusRegistry:
    def __init__(self, sessions: SessionRegistry) -> None:
        self.sessions = sessions
        self._by_session: dict[str, set[str]] = {}  # session id -> followed user ids
        self._by_user: dict[str, set[str]] = {}  # user id -> following session ids

    def follow(self, session_id: str, user_ids: list[str]) -> None:
        mine = self._by_session.setdefault(session_id, set())
        for uid in user_ids:
            mine.add(uid)
            self._by_user.setdefault(uid, set()).add(session_id)

    def unfollow(self, session_id: str, user_ids: list[str]) -> None:
        mine = self._by_session.get(session_id)
        if not mine:
            return
        for uid in user_ids:
            if uid in mine:
                mine.discard(uid)
                self._drop(uid, session_id)
        if not mine:
            del self._by_session[session_id]

    def unfollow_all(self, session_id: str) -> None:
        for uid in self._by_session.pop(session_id, ()):
            self._drop(uid, session_id)

    def _drop(self, user_id: str, session_id: str) -> None:
        followers = self._by_user.get(user_id)
        if followers is not None:
            followers.discard(session_id)
            if not followers:
                del self._by_user[user_id]

    def on_presence(self, stream: Stream, joins: list[Presence], leaves: list[Presence]) -> None:
        """The tracker listener for status streams: tell the user's followers and own sessions."""
        followers = self._by_user.get(stream.subject, ())
        own = self.sessions.for_user(stream.subject)
        if not followers and not own:
            return
        body = {}
        if joins:
            body["joins"] = [envelope.user_presence(p) for p in joins]
        if leaves:
            body["leaves"] = [envelope.user_presence(p) for p in leaves]
        data = envelope.push("status_presence_event", body)
        for s in own:
            s.send(data)
        get = self.sessions.get
        for sid in followers:
            s = get(sid)
            if s is not None and s.user_id != stream.subject:
                s.send(data)
