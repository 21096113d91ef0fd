"""Status follows: which sessions want to hear about which users' online status.

A user's online status is presence on its status stream (tracked by each socket that connected
with `status=true` or sent a status update). When those presences change, the followers of that
user get a `status_presence_event` (handlers/status.py listens to the tracker and hands the event
to the Router, which delivers it with `send_to_followers`). Every session follows its own user, so
a player sees its other devices come and go (as Nakama does); that follow is implicit (the user's
own sessions) rather than stored here. Follows are per session and kept by the node that holds the
session: this is only the index, it sends nothing.
"""

from __future__ import annotations

from collections.abc import Collection

_NONE: frozenset[str] = frozenset()


class StatusRegistry:
    def __init__(self) -> None:
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

    def followers(self, user_id: str) -> Collection[str]:
        """The ids of the sessions (of this node) that follow the user explicitly."""
        return self._by_user.get(user_id, _NONE)

    def _drop(self, user_id: str, session_id: str) -> None:
        followers = self._by_user.get(user_id)
        if followers is not None:
            followers.discard(session_id)
            if not followers:
                del self._by_user[user_id]
