"""status_follow, status_unfollow, status_update."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kizuna.core import status as core_status
from kizuna.core.errors import invalid
from kizuna.core.streams import STATUS, status_stream
from kizuna.realtime import envelope

if TYPE_CHECKING:
    from kizuna.realtime.service import RealtimeService
    from kizuna.realtime.session import Session

MAX_STATUS = 2048


async def status_follow(rt: "RealtimeService", session: "Session", cid: str | None,
                        body: dict[str, Any]) -> None:
    user_ids = core_status.parse_user_ids(envelope.field(body, "user_ids", "userIds"))
    usernames = core_status.parse_usernames(envelope.field(body, "usernames"))
    followed = await core_status.followable(rt.pool, session.user_id, session.username,
                                            user_ids, usernames)
    if session.closed:
        return
    rt.status.follow(session.id, followed)
    presences = [envelope.user_presence(p) for uid in followed
                 for p in rt.tracker.list(status_stream(uid))]
    session.send(envelope.reply(cid, "status", {"presences": presences} if presences else {}))


def status_unfollow(rt: "RealtimeService", session: "Session", cid: str | None,
                    body: dict[str, Any]) -> None:
    user_ids = core_status.parse_user_ids(envelope.field(body, "user_ids", "userIds"))
    rt.status.unfollow(session.id, [u for u in user_ids if u != session.user_id])
    session.send(envelope.empty(cid))


def status_update(rt: "RealtimeService", session: "Session", cid: str | None,
                  body: dict[str, Any]) -> None:
    stream = status_stream(session.user_id)
    value = envelope.wrapped(body.get("status"))
    if value is None:
        # No status at all: appear offline.
        rt.tracker.untrack(session.id, stream)
        session.send(envelope.empty(cid))
        return
    if not isinstance(value, str):
        raise invalid("status: expected a string")
    if len(value) > MAX_STATUS:
        raise invalid("Status must be 2048 characters or less")
    rt.tracker.update(session.id, stream, session.user_id, session.username, status=value)
    session.send(envelope.empty(cid))


HANDLERS = {"status_follow": status_follow, "status_unfollow": status_unfollow,
            "status_update": status_update}


def install(rt: "RealtimeService") -> None:
    rt.tracker.listen(STATUS, rt.status.on_presence)
