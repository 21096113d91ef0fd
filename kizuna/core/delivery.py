"""How the domain reaches connected players: one small interface, `Sockets`.

The domain stores and decides; delivering to sockets is the realtime layer's job. Use cases that
must reach players (a notification, a chat message sent by server code, a ban that closes a
player's sockets) call `domain.sockets`, which the realtime service implements on top of its
Router (so a cluster-aware router makes every delivery cluster-aware). With no realtime layer
(`kizuna check`, tools, some tests) it is `NO_SOCKETS`: nobody is online and deliveries are dropped.

Every method is called on the event loop, returns at once and never raises for an offline user.
"""

from __future__ import annotations

from typing import Any, Protocol

from kizuna.core.streams import PresenceId, Stream, StreamPresence
from kizuna.wire.types import ChannelMessage, Notification


class Sockets(Protocol):
    def is_online(self, user_id: str) -> bool:
        """Whether the user shows an online status (a socket with status on, on any node)."""
        ...

    def online_users(self) -> list[str]:
        """The users with at least one socket open."""
        ...

    def notify(self, user_id: str, notifications: list[Notification]) -> None:
        """Push new notifications to every socket of a user."""
        ...

    def channel_message(self, stream: Stream, message: ChannelMessage) -> None:
        """Push a chat message to everyone on its channel."""
        ...

    def leave_stream(self, user_id: str, stream: Stream) -> None:
        """Make every socket of a user leave a stream (a group member kicked, banned or gone:
        no more of the group channel's messages), with leave events to those still on it."""
        ...

    def disconnect_user(self, user_id: str, reason: str) -> None:
        """Close every socket of a user (a ban, a deleted account)."""
        ...

    def disconnect_session(self, session_id: str, reason: str) -> bool:
        """Close one socket session; False if no such session is connected."""
        ...

    def token_revoked(self, token_id: str) -> None:
        """A session token was revoked: close the sockets opened with it."""
        ...

    # -- streams (nk.stream_*: kizuna/core/streams.py) ---------------------------------------------

    def stream_join(self, stream: Stream, user_id: str, session_id: str, *, hidden: bool,
                    persistence: bool, status: str) -> bool | None:
        """Put a session of a user on a stream: True if it is new, False if it was there (left
        as it is), None if no such session of that user is connected (or it is closing)."""
        ...

    def stream_update(self, stream: Stream, user_id: str, session_id: str, *, hidden: bool,
                      persistence: bool, status: str) -> bool | None:
        """Replace a session's presence metadata on a stream, or put it there; None as
        `stream_join`."""
        ...

    def stream_leave(self, stream: Stream, user_id: str, session_id: str) -> None:
        """Take a session of a user off a stream (if it is on it)."""
        ...

    def stream_close(self, stream: Stream) -> None:
        """Take every session off a stream."""
        ...

    def stream_presences(self, stream: Stream) -> list[StreamPresence]:
        """Every presence on a stream, hidden ones included."""
        ...

    def stream_presence(self, stream: Stream, session_id: str) -> StreamPresence | None:
        ...

    def stream_count(self, stream: Stream) -> int:
        """How many presences a stream has, hidden ones included."""
        ...

    def stream_counts(self, mode: int) -> list[tuple[Stream, int]]:
        """The streams of a mode that have presences, with how many each (a scan: for
        listings such as the relayed matches of GET /v2/match, not for hot paths)."""
        ...

    def stream_data(self, stream: Stream, data: str, reliable: bool,
                    to: list[PresenceId] | None) -> None:
        """A `stream_data` push (no sender) to every session on the stream, or to `to`."""
        ...

    def stream_envelope(self, stream: Stream, kind: str, body: dict[str, Any],
                        to: list[PresenceId] | None) -> None:
        """The push `{kind: body}` to every session on the stream, or to `to`."""
        ...


class NoSockets:
    """Nobody is connected: deliveries go nowhere."""

    def is_online(self, user_id: str) -> bool:
        return False

    def online_users(self) -> list[str]:
        return []

    def notify(self, user_id: str, notifications: list[Notification]) -> None:
        return None

    def channel_message(self, stream: Stream, message: ChannelMessage) -> None:
        return None

    def leave_stream(self, user_id: str, stream: Stream) -> None:
        return None

    def disconnect_user(self, user_id: str, reason: str) -> None:
        return None

    def disconnect_session(self, session_id: str, reason: str) -> bool:
        return False

    def token_revoked(self, token_id: str) -> None:
        return None

    def stream_join(self, stream: Stream, user_id: str, session_id: str, *, hidden: bool,
                    persistence: bool, status: str) -> bool | None:
        return None

    def stream_update(self, stream: Stream, user_id: str, session_id: str, *, hidden: bool,
                      persistence: bool, status: str) -> bool | None:
        return None

    def stream_leave(self, stream: Stream, user_id: str, session_id: str) -> None:
        return None

    def stream_close(self, stream: Stream) -> None:
        return None

    def stream_presences(self, stream: Stream) -> list[StreamPresence]:
        return []

    def stream_presence(self, stream: Stream, session_id: str) -> StreamPresence | None:
        return None

    def stream_count(self, stream: Stream) -> int:
        return 0

    def stream_counts(self, mode: int) -> list[tuple[Stream, int]]:
        return []

    def stream_data(self, stream: Stream, data: str, reliable: bool,
                    to: list[PresenceId] | None) -> None:
        return None

    def stream_envelope(self, stream: Stream, kind: str, body: dict[str, Any],
                        to: list[PresenceId] | None) -> None:
        return None


NO_SOCKETS: Sockets = NoSockets()
