"""channel_join, channel_leave, channel_message_send/update/remove, and channel presence events.

Sending, updating and removing a message are kizuna.core.chat's use cases: they store the message
and deliver it to everyone on the channel (the sender included) through `domain.sockets`, that is
this node's Router; the handler then returns the sender's ack, so the channel gets the message
before the sender gets its ack.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import asyncpg

from kizuna.core import chat
from kizuna.core.notifications import CODE_DM_REQUEST, NewNotification
from kizuna.core.streams import CHANNEL, DM, GROUP, Stream
from kizuna.errors import invalid
from kizuna.realtime import envelope
from kizuna.realtime.tracker import Presence
from kizuna.wire import encode, fields
from kizuna.wire.types import ChannelMessage

if TYPE_CHECKING:
    from kizuna.realtime.handlers import Reply
    from kizuna.realtime.service import RealtimeService
    from kizuna.realtime.session import Session

log = logging.getLogger("kizuna.realtime")

CHANNEL_MODES = frozenset({CHANNEL, DM, GROUP})


def _channel(body: dict[str, Any]) -> Stream:
    stream = chat.parse_channel_id(fields.field(body, "channel_id"))
    if stream is None:
        raise invalid("Invalid channel identifier")
    return stream


async def channel_join(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    target = fields.text(body, "target")
    kind = fields.integer(body, "type", bits=32)
    persistence = fields.boolean(body, "persistence", True)
    hidden = fields.boolean(body, "hidden", False)
    if not target:
        raise invalid("Invalid channel target")
    other = None
    if kind in (chat.TYPE_UNSPECIFIED, chat.TYPE_ROOM):
        stream = chat.room_stream(target)
    elif kind == chat.TYPE_DIRECT_MESSAGE:
        other = await chat.dm_target(rt.pool, session.user_id, target)
        stream = chat.dm_stream(session.user_id, other)
    elif kind == chat.TYPE_GROUP:
        stream = await chat.group_stream(rt.pool, session.user_id, target)
    else:
        raise invalid("Unrecognized channel type")

    tracker = rt.tracker
    is_new = tracker.get(session.id, stream) is None
    limit = rt.config.socket.max_channels_per_socket
    if is_new and tracker.count_modes(session.id, CHANNEL_MODES) >= limit:
        raise invalid(f"Channel limit reached - a socket may be in at most {limit} channels.")
    if is_new and other is not None and not any(p.user_id == other for p in tracker.list(stream)):
        # Only a new join asks the other user, so a rejoin does not notify twice. A failure to
        # notify does not stop the join (as Nakama).
        try:
            await rt.notifier.send([NewNotification(
                user_id=other, subject=f"{session.username} wants to chat",
                content={"username": session.username}, code=CODE_DM_REQUEST,
                sender_id=session.user_id, persistent=True)])
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            log.warning("Could not send the direct message notification",
                        extra={"uid": session.user_id, "to": other, "error": str(exc)})
    if session.closed:
        return None
    tracker.track(session.id, stream, session.user_id, session.username,
                  persistence=persistence, hidden=hidden)
    me = tracker.get(session.id, stream)
    assert me is not None
    others = [encode.user_presence(p) for p in tracker.list(stream)
              if not (is_new and p.session_id == session.id)]
    out: dict[str, Any] = {"id": chat.channel_id(stream)}
    if others:
        out["presences"] = others
    out["self"] = encode.user_presence(me)
    out.update(chat.channel_names(stream))
    return "channel", out


def channel_leave(rt: RealtimeService, session: Session, body: dict[str, Any]) -> Reply:
    rt.tracker.untrack(session.id, _channel(body))
    return None


def _member(rt: RealtimeService, session: Session, stream: Stream, action: str) -> Presence:
    me = rt.tracker.get(session.id, stream)
    if me is None:
        raise invalid(f"Must join channel before {action} messages")
    return me


def _ack(m: ChannelMessage) -> Reply:
    return "channel_message_ack", encode.channel_message_ack(encode.channel_message(m))


async def channel_message_send(rt: RealtimeService, session: Session,
                               body: dict[str, Any]) -> Reply:
    stream = _channel(body)
    content = chat.check_content(fields.field(body, "content"))
    me = _member(rt, session, stream, "sending")
    m = await chat.send(rt.domain, stream, session.user_id, session.username, content,
                        me.persistence)
    return _ack(m)


async def channel_message_update(rt: RealtimeService, session: Session,
                                 body: dict[str, Any]) -> Reply:
    stream = _channel(body)
    message_id = fields.field(body, "message_id")
    content = chat.check_content(fields.field(body, "content"))
    me = _member(rt, session, stream, "updating")
    m = await chat.update(rt.domain, stream, message_id, session.user_id, session.username,
                          content, me.persistence)
    return _ack(m)


async def channel_message_remove(rt: RealtimeService, session: Session,
                                 body: dict[str, Any]) -> Reply:
    stream = _channel(body)
    message_id = fields.field(body, "message_id")
    me = _member(rt, session, stream, "removing")
    m = await chat.remove(rt.domain, stream, message_id, session.user_id, session.username,
                          me.persistence)
    return _ack(m)


HANDLERS = {
    "channel_join": channel_join, "channel_leave": channel_leave,
    "channel_message_send": channel_message_send,
    "channel_message_update": channel_message_update,
    "channel_message_remove": channel_message_remove,
}


def install(rt: RealtimeService) -> None:
    def on_presence(stream: Stream, joins: list[Presence], leaves: list[Presence]) -> None:
        event: dict[str, Any] = {"channel_id": chat.channel_id(stream)}
        if joins:
            event["joins"] = [encode.user_presence(p) for p in joins]
        if leaves:
            event["leaves"] = [encode.user_presence(p) for p in leaves]
        event.update(chat.channel_names(stream))
        rt.router.send_to_stream(stream, envelope.push("channel_presence_event", event))

    for mode in CHANNEL_MODES:
        rt.tracker.listen(mode, on_presence)
