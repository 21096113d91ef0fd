"""channel_join, channel_leave, channel_message_send/update/remove, and channel presence events."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import asyncpg

from kizuna.core import chat
from kizuna.core.errors import invalid
from kizuna.core.notifications import CODE_DM_REQUEST, NewNotification
from kizuna.core.streams import CHANNEL, DM, GROUP, Stream
from kizuna.realtime import envelope
from kizuna.realtime.tracker import Presence

if TYPE_CHECKING:
    from kizuna.realtime.service import RealtimeService
    from kizuna.realtime.session import Session

log = logging.getLogger("kizuna.realtime")


def _channel(body: dict[str, Any]) -> tuple[str, Stream]:
    channel_id = envelope.field(body, "channel_id", "channelId")
    stream = chat.parse_channel_id(channel_id)
    if stream is None:
        raise invalid("Invalid channel identifier")
    return chat.channel_id(stream), stream


async def channel_join(rt: "RealtimeService", session: "Session", cid: str | None,
                       body: dict[str, Any]) -> None:
    target = envelope.text(body, "target")
    kind = envelope.integer(body, "type")
    persistence = envelope.boolean(body, "persistence", True)
    hidden = envelope.boolean(body, "hidden", False)
    if not target:
        raise invalid("Invalid channel target")
    other = None
    if kind in (chat.TYPE_UNSPECIFIED, chat.TYPE_ROOM):
        stream = chat.room_stream(target)
    elif kind == chat.TYPE_DIRECT_MESSAGE:
        other = await chat.dm_target(rt.pool, session.user_id, target)
        stream = chat.dm_stream(session.user_id, other)
    elif kind == chat.TYPE_GROUP:
        raise invalid("Group channels are not supported yet")
    else:
        raise invalid("Unrecognized channel type")

    tracker = rt.tracker
    is_new = tracker.get(session.id, stream) is None
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
        return
    tracker.track(session.id, stream, session.user_id, session.username,
                  persistence=persistence, hidden=hidden)
    me = tracker.get(session.id, stream)
    others = [envelope.user_presence(p) for p in tracker.list(stream)
              if not (is_new and p.session_id == session.id)]
    out: dict[str, Any] = {"id": chat.channel_id(stream)}
    if others:
        out["presences"] = others
    out["self"] = envelope.user_presence(me)
    out.update(chat.channel_names(stream))
    session.send(envelope.reply(cid, "channel", out))


def channel_leave(rt: "RealtimeService", session: "Session", cid: str | None,
                  body: dict[str, Any]) -> None:
    _, stream = _channel(body)
    rt.tracker.untrack(session.id, stream)
    session.send(envelope.empty(cid))


def _member(rt: "RealtimeService", session: "Session", stream: Stream, action: str) -> Presence:
    me = rt.tracker.get(session.id, stream)
    if me is None:
        raise invalid(f"Must join channel before {action} messages")
    return me


def broadcast(rt: "RealtimeService", channel_id: str, stream: Stream,
              m: chat.Message) -> dict[str, Any]:
    """A `channel_message` to everyone on the channel (its sender included); the message."""
    names = chat.channel_names(stream)
    created = envelope.timestamp(m.create_time)
    updated = created if m.update_time is m.create_time else envelope.timestamp(m.update_time)
    message = {"channel_id": channel_id, "message_id": m.id, "code": m.code,
               "sender_id": m.sender_id, "username": m.username, "content": m.content,
               "create_time": created, "update_time": updated, "persistent": m.persistent, **names}
    rt.router.send_to_stream(stream, envelope.push("channel_message", message))
    return message


def ack(message: dict[str, Any]) -> dict[str, Any]:
    """The sender's `channel_message_ack` for a message: the message without sender and content."""
    return {k: v for k, v in message.items() if k not in ("sender_id", "content")}


def _deliver(rt: "RealtimeService", session: "Session", cid: str | None, channel_id: str,
             stream: Stream, m: chat.Message) -> None:
    """The message to everyone on the channel (sender included), then the ack to the sender."""
    message = broadcast(rt, channel_id, stream, m)
    session.send(envelope.reply(cid, "channel_message_ack", ack(message)))


async def channel_message_send(rt: "RealtimeService", session: "Session", cid: str | None,
                               body: dict[str, Any]) -> None:
    channel_id, stream = _channel(body)
    content = chat.check_content(body.get("content"))
    me = _member(rt, session, stream, "sending")
    m = await chat.send_message(rt.messages, stream, session.user_id, session.username, content,
                                me.persistence)
    _deliver(rt, session, cid, channel_id, stream, m)


async def channel_message_update(rt: "RealtimeService", session: "Session", cid: str | None,
                                 body: dict[str, Any]) -> None:
    channel_id, stream = _channel(body)
    message_id = envelope.field(body, "message_id", "messageId")
    content = chat.check_content(body.get("content"))
    me = _member(rt, session, stream, "updating")
    m = await chat.update_message(rt.pool, stream, message_id, session.user_id, session.username,
                                  content, me.persistence)
    _deliver(rt, session, cid, channel_id, stream, m)


async def channel_message_remove(rt: "RealtimeService", session: "Session", cid: str | None,
                                 body: dict[str, Any]) -> None:
    channel_id, stream = _channel(body)
    message_id = envelope.field(body, "message_id", "messageId")
    me = _member(rt, session, stream, "removing")
    m = await chat.remove_message(rt.pool, stream, message_id, session.user_id, session.username,
                                  me.persistence)
    _deliver(rt, session, cid, channel_id, stream, m)


HANDLERS = {
    "channel_join": channel_join, "channel_leave": channel_leave,
    "channel_message_send": channel_message_send,
    "channel_message_update": channel_message_update,
    "channel_message_remove": channel_message_remove,
}


def install(rt: "RealtimeService") -> None:
    def on_presence(stream: Stream, joins: list[Presence], leaves: list[Presence]) -> None:
        event: dict[str, Any] = {"channel_id": chat.channel_id(stream)}
        if joins:
            event["joins"] = [envelope.user_presence(p) for p in joins]
        if leaves:
            event["leaves"] = [envelope.user_presence(p) for p in leaves]
        event.update(chat.channel_names(stream))
        rt.router.send_to_stream(stream, envelope.push("channel_presence_event", event))

    for mode in (CHANNEL, DM, GROUP):
        rt.tracker.listen(mode, on_presence)
