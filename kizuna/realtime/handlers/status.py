"""status_follow, status_unfollow, status_update, and status presence events.

A change of a user's status presences becomes one `status_presence_event`, which the Router
delivers to the user's own sockets and to the sessions following the user (`send_to_followers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kizuna.core import status as core_status
from kizuna.core.streams import STATUS, Stream, status_stream
from kizuna.errors import invalid
from kizuna.realtime import envelope
from kizuna.realtime.tracker import Presence
from kizuna.wire import encode, fields

if TYPE_CHECKING:
    from kizuna.realtime.handlers import Reply
    from kizuna.realtime.service import RealtimeService
    from kizuna.realtime.session import Session

MAX_STATUS = 2048


async def status_follow(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    user_ids = core_status.parse_user_ids(fields.field(body, "user_ids"))
    usernames = core_status.parse_usernames(fields.field(body, "usernames"))
    followed = await core_status.followable(rt.pool, session.user_id, session.username,
                                            user_ids, usernames)
    if session.closed:
        return None
    rt.status.follow(session.id, followed)
    presences = [encode.user_presence(p) for uid in followed
                 for p in rt.tracker.list(status_stream(uid))]
    return "status", {"presences": presences} if presences else {}


def status_unfollow(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    user_ids = core_status.parse_user_ids(fields.field(body, "user_ids"))
    rt.status.unfollow(session.id, [u for u in user_ids if u != session.user_id])
    return None


def status_update(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    stream = status_stream(session.user_id)
    value = fields.wrapped(fields.field(body, "status"))
    if value is None:
        # No status at all: appear offline.
        rt.tracker.untrack(session.id, stream)
        return None
    if not isinstance(value, str):
        raise invalid("status: expected a string")
    if len(value) > MAX_STATUS:
        raise invalid("Status must be 2048 characters or less")
    rt.tracker.update(session.id, stream, session.user_id, session.username, status=value)
    return None


HANDLERS = {"status_follow": status_follow, "status_unfollow": status_unfollow,
            "status_update": status_update}


def install(rt: RealtimeService) -> None:
    def on_presence(stream: Stream, joins: list[Presence], leaves: list[Presence]) -> None:
        body: dict[str, Any] = {}
        if joins:
            body["joins"] = [encode.user_presence(p) for p in joins]
        if leaves:
            body["leaves"] = [encode.user_presence(p) for p in leaves]
        rt.router.send_to_followers(stream.subject, envelope.push("status_presence_event", body))

    rt.tracker.listen(STATUS, on_presence)
