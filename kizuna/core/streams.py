"""Streams: the addresses presences join and messages are sent to (Nakama's PresenceStream).

A stream is (mode, subject, subcontext, label). Subject and subcontext are UUID strings, or "" when
unused; label is free text. The realtime layer tracks who is on which stream; the domain only needs
to name them (a chat channel is a stream, so is a relayed match or a user's notification inbox).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from kizuna.errors import invalid, not_found

if TYPE_CHECKING:
    from kizuna.core.delivery import Sockets

NIL_UUID = "00000000-0000-0000-0000-000000000000"

# Stream modes, as Nakama numbers them.
NOTIFICATIONS = 0
STATUS = 1
CHANNEL = 2
GROUP = 3
DM = 4
MATCH_RELAYED = 5
MATCH_AUTHORITATIVE = 6
PARTY = 7


class Stream(NamedTuple):
    mode: int
    subject: str = ""
    subcontext: str = ""
    label: str = ""


def notifications_stream(user_id: str) -> Stream:
    """Every socket of a user is on this stream (hidden): how a user is reached."""
    return Stream(NOTIFICATIONS, user_id)


def status_stream(user_id: str) -> Stream:
    """Sockets of a user that show an online status to followers."""
    return Stream(STATUS, user_id)


# -- custom streams (nk.stream_*) ----------------------------------------------------------------
#
# Server code may put any connected session on any stream, send to a stream's sessions, list and
# count presences, and close a stream (Nakama's stream_* calls). The realtime layer holds the
# presences; these are the rules (what a stream id may be, which modes server code may change the
# membership of) and the use cases, reaching sockets through `Sockets` (delivery.py).

MAX_MODE = 255
BUILTIN_MODES = frozenset(range(8))
"""Modes 0-7 are the server's own streams (notifications, status, chat, matches, parties); custom
streams use 8-255, and their presence events are `stream_presence_event`s."""

RESERVED_MODES = frozenset({NOTIFICATIONS, MATCH_AUTHORITATIVE, PARTY})
"""Modes whose membership server code may read and send to but not change: every socket's own
notification presence (how the server reaches a user), the players of authoritative matches
(their handler admits them: core/matches.py) and parties."""

_STREAM_KEYS = frozenset({"mode", "subject", "subcontext", "label"})


class PresenceId(NamedTuple):
    """Where one socket session is: its node and session id."""

    node: str
    session_id: str


@dataclass(frozen=True, slots=True)
class StreamPresence:
    """A session on a stream, with its metadata."""

    user_id: str
    session_id: str
    node: str
    username: str
    hidden: bool
    persistence: bool
    status: str  # "" when none was given


def _uuid(value: object, what: str) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise invalid(f"stream {what} must be a string")
    try:
        canonical = str(uuid.UUID(value))
    except ValueError:
        raise invalid(f"stream {what} must be a valid identifier") from None
    return "" if canonical == NIL_UUID else canonical


def parse(value: object) -> Stream:
    """The stream a server call names: a mapping {"mode", "subject", "subcontext", "label"}.

    `mode` (0-255) is required; `subject` and `subcontext` are UUIDs or "" (the nil UUID is ""),
    `label` any text. Other keys are refused (a misspelt key would silently name another stream).
    """
    if not isinstance(value, Mapping):
        raise invalid("stream: expected a dict {mode, subject, subcontext, label}")
    unknown = sorted(str(k) for k in value if k not in _STREAM_KEYS)
    if unknown:
        raise invalid(f"stream: unknown key {unknown[0]!r} (expected mode, subject, subcontext, "
                      "label)")
    mode = value.get("mode")
    if mode is None:
        raise invalid("stream mode is required")
    if isinstance(mode, bool) or not isinstance(mode, int):
        raise invalid("stream mode must be a number")
    if not 0 <= mode <= MAX_MODE:
        raise invalid(f"stream mode must be 0-{MAX_MODE}")
    label = value.get("label")
    if label is None:
        label = ""
    if not isinstance(label, str):
        raise invalid("stream label must be a string")
    if "\x00" in label:
        raise invalid("stream label must not contain U+0000")
    return Stream(mode, _uuid(value.get("subject"), "subject"),
                  _uuid(value.get("subcontext"), "subcontext"), label)


def _changeable(stream: Stream) -> None:
    if stream.mode in RESERVED_MODES:
        raise invalid(f"stream mode {stream.mode} is reserved: server code cannot change who is on "
                      "its streams (use a custom mode, 8-255)")


def _connected(user_id: str, session_id: str, joined: bool | None) -> bool:
    if joined is None:
        raise not_found(f"session {session_id} of user {user_id} is not connected")
    return joined


def join(sockets: Sockets, stream: Stream, user_id: str, session_id: str, *, hidden: bool,
         persistence: bool, status: str) -> bool:
    """Put a user's connected session on a stream; True if it was not on it already (an existing
    presence is left as it is). Presence events go to the stream unless `hidden`."""
    _changeable(stream)
    return _connected(user_id, session_id, sockets.stream_join(
        stream, user_id, session_id, hidden=hidden, persistence=persistence, status=status))


def update(sockets: Sockets, stream: Stream, user_id: str, session_id: str, *, hidden: bool,
           persistence: bool, status: str) -> None:
    """Replace a session's presence metadata on a stream (putting it on the stream if needed)."""
    _changeable(stream)
    _connected(user_id, session_id, sockets.stream_update(
        stream, user_id, session_id, hidden=hidden, persistence=persistence, status=status))


def leave(sockets: Sockets, stream: Stream, user_id: str, session_id: str) -> None:
    """Take a user's session off a stream (nothing happens if it is not on it)."""
    _changeable(stream)
    sockets.stream_leave(stream, user_id, session_id)


def close(sockets: Sockets, stream: Stream) -> None:
    """Take every session off a stream."""
    _changeable(stream)
    sockets.stream_close(stream)


def presences(sockets: Sockets, stream: Stream, include_hidden: bool = True,
              include_not_hidden: bool = True) -> list[StreamPresence]:
    return [p for p in sockets.stream_presences(stream)
            if (include_hidden if p.hidden else include_not_hidden)]


def presence(sockets: Sockets, stream: Stream, user_id: str,
             session_id: str) -> StreamPresence | None:
    p = sockets.stream_presence(stream, session_id)
    return p if p is not None and p.user_id == user_id else None


def count(sockets: Sockets, stream: Stream) -> int:
    return sockets.stream_count(stream)


def send(sockets: Sockets, stream: Stream, data: str, to: list[PresenceId] | None,
         reliable: bool) -> None:
    """A `stream_data` {stream, data, reliable} (no sender) to every session on the stream, or to
    the sessions `to` only (on the stream or not, as Nakama)."""
    sockets.stream_data(stream, data, reliable, to or None)


def send_raw(sockets: Sockets, stream: Stream, kind: str, body: dict[str, Any],
             to: list[PresenceId] | None) -> None:
    """Any envelope `{kind: body}` to every session on the stream, or to the sessions `to`."""
    sockets.stream_envelope(stream, kind, body, to or None)


def parse_node_id(value: object) -> tuple[str, str] | None:
    """(uuid, node) of an id "<uuid>.<node>" (matches and parties; the node part may be empty),
    or None. Split at the first dot: the rest is the node's name."""
    if not isinstance(value, str):
        return None
    head, dot, node = value.partition(".")
    if not dot:
        return None
    try:
        return str(uuid.UUID(head)), node
    except ValueError:
        return None


def node_id(stream: Stream) -> str:
    """The "<uuid>.<node>" id of the match or party whose members are on `stream`."""
    return f"{stream.subject}.{stream.label}"
