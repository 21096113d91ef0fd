"""Chat: channel ids, message persistence and history.

A channel is a stream (kizuna.core.streams). Its id is "<mode>.<subject>.<subcontext>.<label>":
rooms are "2...<name>" (1-64 characters), direct messages "4.<smaller uid>.<larger uid>." and group
channels "3.<group id>..". Persisted messages live in `message`, keyed by the channel's stream and
ordered by (create_time, id); unused stream parts are stored as the nil UUID / ''.

Who may do what (rules, as Nakama's):
- anyone may join a room and read its history; a direct message needs an existing other user, and
  only its two users may read its history; a group's channel is for its members (superadmins,
  admins, members) only, to join and to read;
- only a message's sender may update or remove it, and only in the channel it was sent to (Nakama
  does not check the channel; we do);
- content is a JSON object, as a string.

`send`, `update` and `remove` are the use cases (REST has none; the socket and server code call
them): check, store, then deliver to everyone on the channel through `domain.sockets`.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg

from kizuna.core.streams import CHANNEL, DM, GROUP, NIL_UUID, Stream
from kizuna.errors import Code, KizunaError, invalid
from kizuna.wire.fields import json_object
from kizuna.wire.paging import decode_cursor, encode_cursor
from kizuna.wire.types import ChannelMessage, ChannelMessageList

if TYPE_CHECKING:
    from kizuna.core.domain import Domain

# Message codes.
CHAT = 0
CHAT_UPDATE = 1
CHAT_REMOVE = 2

# Channel join types.
TYPE_UNSPECIFIED = 0
TYPE_ROOM = 1
TYPE_DIRECT_MESSAGE = 2
TYPE_GROUP = 3

MAX_ROOM_NAME = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

INVALID_CURSOR = "Cursor is invalid or expired."
INVALID_CONTENT = "Message content must be a valid JSON object"


# -- channel ids ---------------------------------------------------------------------------------


def _uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        return None


def channel_id(stream: Stream) -> str:
    return f"{stream.mode}.{stream.subject}.{stream.subcontext}.{stream.label}"


def parse_channel_id(value: Any) -> Stream | None:
    """The stream a channel id names, or None if it is not a well-formed channel id."""
    if not isinstance(value, str) or not value:
        return None
    parts = value.split(".", 3)
    if len(parts) != 4:
        return None
    mode, subject, subcontext, label = parts
    if mode == "2":
        if subject or subcontext or not 1 <= len(label) <= MAX_ROOM_NAME:
            return None
        return Stream(CHANNEL, "", "", label)
    if mode == "4":
        if label:
            return None
        one, two = _uuid_or_none(subject), _uuid_or_none(subcontext)
        if one is None or two is None:
            return None
        return Stream(DM, one, two, "")
    if mode == "3":
        if subcontext or label:
            return None
        group = _uuid_or_none(subject)
        return None if group is None else Stream(GROUP, group, "", "")
    return None


def channel_names(stream: Stream) -> dict[str, str]:
    """The fields that name a channel in messages and events: room_name, or the two user ids."""
    if stream.mode == CHANNEL:
        return {"room_name": stream.label}
    if stream.mode == DM:
        return {"user_id_one": stream.subject, "user_id_two": stream.subcontext}
    if stream.mode == GROUP:
        return {"group_id": stream.subject}
    return {}


def room_stream(name: Any) -> Stream:
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_ROOM_NAME:
        raise invalid("Channel name is required and must be 1-64 chars")
    if _CONTROL.search(name):
        raise invalid("Channel name must not contain control chars")
    return Stream(CHANNEL, "", "", name)


def dm_stream(user_id: str, other: str) -> Stream:
    one, two = sorted((user_id, other))
    return Stream(DM, one, two, "")


async def dm_target(pool: asyncpg.Pool, user_id: str, target: Any) -> str:
    """The other user of a direct message, checked: a valid, existing user other than the caller,
    who has not blocked the caller."""
    other = _uuid_or_none(target) if isinstance(target, str) else None
    if other is None or other == NIL_UUID:
        raise invalid("Invalid user ID in direct message join")
    if other == user_id:
        raise invalid("Cannot open direct message channel with self")
    # The other user must exist and must not have blocked the caller (friend state 3).
    if not await pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1) AND NOT EXISTS (SELECT 1 FROM "
            "user_edge WHERE source_id = $1 AND destination_id = $2 AND state = 3)",
            other, user_id):
        raise invalid("User ID not found")
    return other


async def is_group_member(pool: asyncpg.Pool | asyncpg.Connection, group_id: str,
                          user_id: str) -> bool:
    """Whether the user is a member of the group (superadmin, admin or member: not a join request
    or a ban), which is what group chat (joining the channel, reading its history) needs."""
    return bool(await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM group_edge WHERE source_id = $1 AND destination_id = $2 "
        "AND state <= 2)", group_id, user_id))


async def group_stream(pool: asyncpg.Pool, user_id: str, target: Any) -> Stream:
    """The channel of a group the user may join: a valid group id of which the user is a member."""
    group = _uuid_or_none(target) if isinstance(target, str) else None
    if group is None:
        raise invalid("Invalid group ID in group channel join")
    if not await is_group_member(pool, group, user_id):
        raise invalid("Group not found")
    return Stream(GROUP, group, "", "")


def check_content(content: Any) -> str:
    """Message content: a JSON object encoded as a string (returned unchanged)."""
    if not isinstance(content, str):
        raise invalid(INVALID_CONTENT)
    json_object(content, INVALID_CONTENT, "Message content must not contain NUL characters")
    return content


# -- messages ------------------------------------------------------------------------------------


def message(stream: Stream, message_id: str, code: int, sender_id: str, username: str,
            content: str, create_time: datetime, update_time: datetime,
            persistent: bool) -> ChannelMessage:
    """A ChannelMessage record of a channel (its id and naming fields filled from the stream)."""
    return ChannelMessage(channel_id(stream), message_id, code, sender_id, username, content,
                          create_time, update_time, persistent, **channel_names(stream))


def now() -> datetime:
    """The current time at the database's precision (microseconds), UTC."""
    return datetime.now(UTC)


def _db_stream(stream: Stream) -> tuple[int, str, str, str]:
    return stream.mode, stream.subject or NIL_UUID, stream.subcontext or NIL_UUID, stream.label


# One message's columns, in _INSERT_MANY's order (id, code, sender, username, the four stream
# columns, content, time).
_Row = tuple[str, int, str, str, int, str, str, str, str, datetime]

_INSERT_MANY = """
INSERT INTO message (id, code, sender_id, username, stream_mode, stream_subject, stream_descriptor,
                     stream_label, content, create_time, update_time)
SELECT id, code, sender_id, username, mode, subject, descriptor, label, content, t, t
FROM unnest($1::uuid[], $2::smallint[], $3::uuid[], $4::text[], $5::smallint[], $6::uuid[],
            $7::uuid[], $8::text[], $9::jsonb[], $10::timestamptz[])
     AS m(id, code, sender_id, username, mode, subject, descriptor, label, content, t)
"""


class MessageWriter:
    """Stores new chat messages with group commit.

    A busy node sends thousands of messages a second; one INSERT (and one round trip) each would
    make the database the bottleneck. Instead, messages arriving while a write is in flight wait
    for the next one, and each write stores all of them in a single statement. Every caller still
    returns only once its own message is stored, so acks keep meaning "persisted". If a batch
    fails, its messages are retried one by one so that one bad row cannot sink the others.
    """

    def __init__(self, pool: asyncpg.Pool, max_batch: int = 1000) -> None:
        self.pool = pool
        self.max_batch = max_batch
        self._pending: list[tuple[_Row, asyncio.Future[None]]] = []
        self._writing = False

    async def insert(self, m: ChannelMessage, stream: Stream) -> None:
        row: _Row = (m.message_id, m.code, m.sender_id, m.username, *_db_stream(stream), m.content, m.create_time)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, fut))
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().create_task(self._write())
        await fut

    async def _write(self) -> None:
        try:
            while self._pending:
                batch = self._pending[:self.max_batch]
                del self._pending[:self.max_batch]
                results: list[Exception | None]
                try:
                    await self._store([row for row, _ in batch])
                    results = [None] * len(batch)
                except Exception as exc:  # reported to each waiting caller
                    results = [exc] * len(batch) if len(batch) == 1 else \
                        [await self._store_one(row) for row, _ in batch]
                for (_, fut), err in zip(batch, results, strict=True):
                    if fut.done():
                        continue
                    if err is None:
                        fut.set_result(None)
                    else:
                        fut.set_exception(err)
        finally:
            self._writing = False

    async def _store(self, rows: list[_Row]) -> None:
        await self.pool.execute(_INSERT_MANY, *(list(col) for col in zip(*rows, strict=True)))

    async def _store_one(self, row: _Row) -> Exception | None:
        try:
            await self._store([row])
            return None
        except Exception as exc:
            return exc


async def send(domain: Domain, stream: Stream, sender_id: str, username: str, content: Any,
               persist: bool) -> ChannelMessage:
    """Send a chat message: stored when `persist` (the sender joined with persistence, or server
    code asked), then delivered to everyone on the channel, the sender included."""
    m = await send_message(domain.messages, stream, sender_id, username, check_content(content),
                           persist)
    domain.sockets.channel_message(stream, m)
    return m


async def update(domain: Domain, stream: Stream, message_id: Any, sender_id: str, username: str,
                 content: Any, persist: bool) -> ChannelMessage:
    """Edit one's own message (in its history when persisted), delivered to the channel."""
    m = await update_message(domain.pool, stream, message_id, sender_id, username,
                             check_content(content), persist)
    domain.sockets.channel_message(stream, m)
    return m


async def remove(domain: Domain, stream: Stream, message_id: Any, sender_id: str, username: str,
                 persist: bool) -> ChannelMessage:
    """Remove one's own message (from its history when persisted), delivered to the channel."""
    m = await remove_message(domain.pool, stream, message_id, sender_id, username, persist)
    domain.sockets.channel_message(stream, m)
    return m


async def send_message(writer: MessageWriter | None, stream: Stream, sender_id: str,
                       username: str, content: str, persist: bool) -> ChannelMessage:
    """A new chat message in a channel, stored when `persist` (not delivered: see `send`)."""
    when = now()
    m = message(stream, str(uuid.uuid4()), CHAT, sender_id, username, content, when, when, persist)
    if persist and writer is not None:
        try:
            await writer.insert(m, stream)
        except asyncpg.UntranslatableCharacterError:
            raise invalid("Message content must not contain NUL characters") from None
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            raise KizunaError(Code.INTERNAL,
                              "Could not persist message to channel history") from None
    return m


async def update_message(pool: asyncpg.Pool, stream: Stream, message_id: Any, sender_id: str,
                         username: str, content: str, persist: bool) -> ChannelMessage:
    mid = _message_id(message_id)
    when = now()
    created = when
    if persist:
        try:
            created = await pool.fetchval(
                "UPDATE message SET content = $3::jsonb, username = $4, update_time = $5 "
                "WHERE id = $1 AND sender_id = $2 AND stream_mode = $6 AND stream_subject = $7 "
                "AND stream_descriptor = $8 AND stream_label = $9 RETURNING create_time",
                mid, sender_id, content, username, when, *_db_stream(stream))
        except asyncpg.UntranslatableCharacterError:
            raise invalid("Message content must not contain NUL characters") from None
        if created is None:
            raise invalid("Could not find message to update in channel history")
    return message(stream, mid, CHAT_UPDATE, sender_id, username, content, created, when, persist)


async def remove_message(pool: asyncpg.Pool, stream: Stream, message_id: Any, sender_id: str,
                         username: str, persist: bool) -> ChannelMessage:
    mid = _message_id(message_id)
    when = now()
    created = when
    if persist:
        created = await pool.fetchval(
            "DELETE FROM message WHERE id = $1 AND sender_id = $2 AND stream_mode = $3 "
            "AND stream_subject = $4 AND stream_descriptor = $5 AND stream_label = $6 "
            "RETURNING create_time", mid, sender_id, *_db_stream(stream))
        if created is None:
            raise invalid("Could not find message to remove in channel history")
    return message(stream, mid, CHAT_REMOVE, sender_id, username, "{}", created, when, persist)


# -- group membership messages -------------------------------------------------------------------

# Message codes of membership changes, written to the group's channel by kizuna/core/groups.py.
GROUP_JOIN = 3
GROUP_ADD = 4
GROUP_LEAVE = 5
GROUP_KICK = 6
GROUP_PROMOTE = 7
GROUP_BAN = 8
GROUP_DEMOTE = 9


def group_channel(group_id: str) -> Stream:
    return Stream(GROUP, group_id, "", "")


def membership_message(group_id: str, code: int, user_id: str, username: str) -> ChannelMessage:
    """A membership change as Nakama writes it to the group's channel: sent by the user it is about
    (joined, added, left, kicked, promoted, banned, demoted), content `{}`, persistent."""
    when = now()
    return message(group_channel(group_id), str(uuid.uuid4()), code, user_id, username, "{}",
                   when, when, True)


async def store_messages(conn: asyncpg.Connection, items: list[ChannelMessage]) -> None:
    """Store messages in the caller's transaction (a membership change and its messages commit
    together); `deliver` them once it has committed."""
    if not items:
        return
    rows = []
    for m in items:
        stream = parse_channel_id(m.channel_id)
        assert stream is not None
        rows.append((m.message_id, m.code, m.sender_id, m.username, *_db_stream(stream), m.content,
                     m.create_time))
    await conn.execute(_INSERT_MANY, *(list(col) for col in zip(*rows, strict=True)))


def deliver(domain: Domain, items: list[ChannelMessage]) -> None:
    """Push stored messages to everyone on their channels."""
    for m in items:
        stream = parse_channel_id(m.channel_id)
        assert stream is not None
        domain.sockets.channel_message(stream, m)


def _message_id(value: Any) -> str:
    mid = _uuid_or_none(value) if isinstance(value, str) else None
    if mid is None:
        raise invalid("Invalid message identifier")
    return mid


# -- history -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cursor:
    stream: Stream
    create_time_us: int
    id: str
    forward: bool
    is_next: bool


def _encode_cursor(c: _Cursor) -> str:
    s = c.stream
    return encode_cursor([1, s.mode, s.subject, s.subcontext, s.label, c.create_time_us, c.id,
                          c.forward, c.is_next])


def _decode_cursor(value: str) -> _Cursor:
    values = decode_cursor(value, INVALID_CURSOR)
    try:
        v, mode, subject, subcontext, label, us, mid, forward, is_next = values
        if v != 1 or not all(isinstance(x, str) for x in (subject, subcontext, label, mid)):
            raise ValueError
        _from_micros(int(us))  # a time PostgreSQL and datetime can hold (else OverflowError)
        return _Cursor(Stream(int(mode), subject, subcontext, label), int(us), str(uuid.UUID(mid)),
                       bool(forward), bool(is_next))
    except (ValueError, TypeError, OverflowError):
        raise invalid(INVALID_CURSOR) from None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def _micros(t: datetime) -> int:
    return (t - _EPOCH) // _MICRO


def _from_micros(us: int) -> datetime:
    return _EPOCH + us * _MICRO


_SELECT = ("SELECT id::text AS id, code, sender_id::text AS sender_id, username, content::text "
           "AS content, create_time, update_time FROM message WHERE stream_mode = $1 "
           "AND stream_subject = $2 AND stream_descriptor = $3 AND stream_label = $4")


async def list_messages(pool: asyncpg.Pool, caller_id: str | None, stream: Stream, limit: int,
                        forward: bool, cursor: str | None) -> ChannelMessageList:
    """One page of a channel's history, with Nakama's cursor semantics.

    Without a cursor, forward lists from the oldest message, backward from the newest. A next
    cursor continues in the listing's direction, a previous cursor goes back; both keep the
    direction they were made for. The cacheable cursor lists, forward, what comes after the last
    message returned: a client keeps it to fetch only new messages later. `caller_id=None` is
    server code: any channel may be read. `limit` is checked by the caller (kizuna.wire.paging).
    """
    if stream.mode == DM and caller_id is not None and caller_id not in (stream.subject,
                                                                         stream.subcontext):
        raise invalid("Channel not found.")
    if stream.mode == GROUP and caller_id is not None and not await is_group_member(
            pool, stream.subject, caller_id):
        raise invalid("Group not found.")
    incoming = None
    if cursor:
        incoming = _decode_cursor(cursor)
        if incoming.forward != forward or incoming.stream != stream:
            raise invalid(INVALID_CURSOR)

    args: list[Any] = [*_db_stream(stream), limit + 1]
    sql = _SELECT
    if incoming is None:
        ascending = forward
    else:
        ascending = forward == incoming.is_next
        args += [_from_micros(incoming.create_time_us), incoming.id]
        sql += " AND (create_time, id) > ($6, $7::uuid)" if ascending else \
            " AND (create_time, id) < ($6, $7::uuid)"
    sql += (" ORDER BY create_time ASC, id ASC" if ascending else
            " ORDER BY create_time DESC, id DESC") + " LIMIT $5"
    rows = await pool.fetch(sql, *args)

    messages = [message(stream, r["id"], r["code"], r["sender_id"], r["username"], r["content"],
                        r["create_time"], r["update_time"], True) for r in rows[:limit]]

    def at(m: ChannelMessage, *, fwd: bool, nxt: bool) -> _Cursor:
        return _Cursor(stream, _micros(m.create_time), m.message_id, fwd, nxt)

    next_c = at(messages[-1], fwd=forward, nxt=True) if len(rows) > limit else None
    prev_c = at(messages[0], fwd=forward, nxt=False) if incoming is not None and messages else None
    if incoming is not None and not incoming.is_next:
        # A "previous page" was read in reverse: restore the listing's order and swap the cursors.
        messages.reverse()
        next_c, prev_c = prev_c, next_c
        next_c = next_c and _Cursor(next_c.stream, next_c.create_time_us, next_c.id, forward, True)
        prev_c = prev_c and _Cursor(prev_c.stream, prev_c.create_time_us, prev_c.id, forward, False)

    cacheable = None
    if messages:
        cacheable = at(messages[-1], fwd=True, nxt=True)
    elif incoming is not None:
        cacheable = _Cursor(stream, incoming.create_time_us, incoming.id, True, True)

    return ChannelMessageList(messages,
                   _encode_cursor(next_c) if next_c else None,
                   _encode_cursor(prev_c) if prev_c else None,
                   _encode_cursor(cacheable) if cacheable else None)
