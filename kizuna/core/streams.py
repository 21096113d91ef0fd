"""Streams: the addresses presences join and messages are sent to (Nakama's PresenceStream).

A stream is (mode, subject, subcontext, label). Subject and subcontext are UUID strings, or "" when
unused; label is free text. The realtime layer tracks who is on which stream; the domain only needs
to name them (a chat channel is a stream, so is a relayed match or a user's notification inbox).
"""

from __future__ import annotations

from typing import NamedTuple

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
