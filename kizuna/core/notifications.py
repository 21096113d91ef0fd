"""Notifications: messages to one user, stored when persistent, pushed at once to online users.

Any part of the server notifies users through the node's `Notifier` (`domain.notifier`):
`await notifier.send([NewNotification(...)])` stores the persistent ones in `notification` and
pushes all of them, grouped by user, through `domain.sockets` (kizuna/core/delivery.py), so this
module knows nothing of sockets; with no sockets (no realtime layer), notifications are only
stored.

Listing is in (create_time, id) order with a cacheable cursor: a client keeps the cursor of its last
page and later asks only for what came after it. Reserved (negative) codes are in CODE_*.
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
import orjson

from kizuna.core.streams import NIL_UUID
from kizuna.errors import KizunaError, invalid
from kizuna.wire.fields import json_object
from kizuna.wire.paging import MALFORMED_CURSOR, decode_cursor, encode_cursor
from kizuna.wire.types import Notification, NotificationList

if TYPE_CHECKING:
    from kizuna.core.domain import Domain

log = logging.getLogger("kizuna.notifications")

CODE_DM_REQUEST = -1
CODE_FRIEND_REQUEST = -2
CODE_FRIEND_ACCEPT = -3
CODE_GROUP_ADD = -4
CODE_GROUP_JOIN_REQUEST = -5
CODE_FRIEND_JOIN_GAME = -6
CODE_SINGLE_SOCKET = -7
CODE_USER_BANNED = -8
CODE_FRIEND_REMOVE = -9

MAX_SUBJECT = 255


@dataclass(frozen=True)
class NewNotification:
    user_id: str
    subject: str
    content: dict[str, Any] | str = field(default_factory=dict)
    code: int = 0
    sender_id: str = ""
    persistent: bool = True


def make(item: NewNotification, when: datetime | None = None) -> Notification:
    """A notification ready to send: validated, with an id and a time."""
    content = item.content
    has_nul = "Notification content and subject must not contain NUL characters."
    if not isinstance(content, str):
        content = orjson.dumps(content).decode()
    json_object(content, "Notification content must be a JSON object.", has_nul)
    if "\x00" in item.subject:
        raise invalid(has_nul)
    if not item.subject or len(item.subject) > MAX_SUBJECT:
        raise invalid("Notification subject must be 1-255 characters.")
    if not -32768 <= item.code <= 32767:
        raise invalid("Notification code out of range.")
    return Notification(str(uuid.uuid4()), item.user_id, item.subject, content, item.code,
                        "" if item.sender_id == NIL_UUID else item.sender_id,
                        when or datetime.now(UTC), item.persistent)


class Notifier:
    """Sends notifications: stores the persistent ones, pushes all to the users' sockets."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain

    def _deliver(self, user_id: str, items: list[Notification]) -> None:
        try:
            self.domain.sockets.notify(user_id, items)
        except Exception:  # a delivery problem must not undo a stored notification
            log.exception("notification delivery failed", extra={"user_id": user_id})

    async def send(self, items: Iterable[NewNotification]) -> list[Notification]:
        when = datetime.now(UTC)
        made = [make(i, when) for i in items]
        stored = [n for n in made if n.persistent]
        if stored:
            await save(self.domain.pool, stored)
        by_user: dict[str, list[Notification]] = {}
        for n in made:
            by_user.setdefault(n.user_id, []).append(n)
        for user_id, ns in by_user.items():
            self._deliver(user_id, ns)
        return made

    async def send_all(self, subject: str, content: dict[str, Any] | str, code: int,
                       persistent: bool = False) -> int:
        """One notification to every user: stored for all of them when persistent (in one
        statement, whatever the number of users), pushed to those online. How many were pushed."""
        template = make(NewNotification(user_id=NIL_UUID, subject=subject, content=content,
                                        code=code, persistent=persistent))
        online = sorted(set(self.domain.sockets.online_users()))
        if persistent:
            rows = await self.domain.pool.fetch(
                "WITH ins AS (INSERT INTO notification (id, user_id, subject, content, code, "
                "sender_id, create_time) SELECT gen_random_uuid(), id, $1, $2::jsonb, $3, $4, $5 "
                "FROM users WHERE id <> $4 RETURNING id, user_id) "
                "SELECT id::text AS id, user_id::text AS user_id FROM ins "
                "WHERE user_id = ANY($6::uuid[])",
                template.subject, template.content, template.code, NIL_UUID,
                template.create_time, online)
            made = [(r["user_id"], r["id"]) for r in rows]
        else:
            made = [(u, str(uuid.uuid4())) for u in online]
        for user_id, nid in made:
            self._deliver(user_id, [Notification(nid, user_id, template.subject, template.content,
                                                 template.code, "", template.create_time,
                                                 persistent)])
        return len(made)


async def save(pool: asyncpg.Pool, notifications: list[Notification]) -> None:
    await pool.execute(
        "INSERT INTO notification (id, user_id, subject, content, code, sender_id, create_time) "
        "SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], $5::smallint[], "
        "$6::uuid[], $7::timestamptz[])",
        [n.id for n in notifications], [n.user_id for n in notifications],
        [n.subject for n in notifications], [n.content for n in notifications],
        [n.code for n in notifications], [n.sender_id or NIL_UUID for n in notifications],
        [n.create_time for n in notifications])


# -- listing and deleting ------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def _cursor(create_time: datetime | None, nid: str | None) -> str:
    """The cacheable cursor after a notification ([] for "from the start")."""
    if create_time is None or nid is None:
        return encode_cursor([])
    return encode_cursor([(create_time - _EPOCH) // _MICRO, nid])


def _position(cursor: str) -> tuple[datetime, str] | None:
    """What a cursor points after (None: from the start). Cursors of releases before 0.2 (a
    `n1;` text) are still read: clients keep cacheable cursors across server upgrades."""
    try:
        values = decode_cursor(cursor)
    except KizunaError:
        return _legacy_position(cursor)
    if not values:
        return None
    try:
        us, nid = values
        if type(us) is not int or not isinstance(nid, str):
            raise ValueError
        return _EPOCH + us * _MICRO, str(uuid.UUID(nid))
    except (ValueError, TypeError, OverflowError):
        raise invalid(MALFORMED_CURSOR) from None


def _legacy_position(cursor: str) -> tuple[datetime, str] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        if not raw.startswith(b"n1;"):
            raise ValueError
        body = raw[3:].decode()
        if not body:
            return None
        us, nid = body.split(":", 1)
        return _EPOCH + int(us) * _MICRO, str(uuid.UUID(nid))
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
        raise invalid(MALFORMED_CURSOR) from None


async def list_notifications(pool: asyncpg.Pool, user_id: str, limit: int,
                             cacheable_cursor: str | None) -> NotificationList:
    """One page of a user's notifications, oldest first, and the cursor to continue from
    (`limit` is checked by the caller, kizuna.wire.paging).

    The cursor is always given: after the last notification returned, or the one passed in when
    nothing new is there, or a "from the start" cursor for an empty inbox.
    """
    after = _position(cacheable_cursor) if cacheable_cursor else None
    if after is None:
        rows = await pool.fetch(
            "SELECT id::text AS id, subject, content::text AS content, code, sender_id::text AS "
            "sender_id, create_time FROM notification WHERE user_id = $1 "
            "ORDER BY create_time, id LIMIT $2", user_id, limit)
    else:
        rows = await pool.fetch(
            "SELECT id::text AS id, subject, content::text AS content, code, sender_id::text AS "
            "sender_id, create_time FROM notification WHERE user_id = $1 "
            "AND (create_time, id) > ($3, $4::uuid) ORDER BY create_time, id LIMIT $2",
            user_id, limit, after[0], after[1])
    items = [Notification(r["id"], user_id, r["subject"], r["content"], r["code"],
                          "" if r["sender_id"] == NIL_UUID else r["sender_id"], r["create_time"],
                          True) for r in rows]
    if items:
        cursor = _cursor(items[-1].create_time, items[-1].id)
    elif cacheable_cursor:
        cursor = cacheable_cursor
    else:
        cursor = _cursor(None, None)
    return NotificationList(items, cursor)


async def delete_notifications(pool: asyncpg.Pool, user_id: str, ids: list[str]) -> None:
    """Delete some of the user's own notifications; ids that are not UUIDs match nothing."""
    valid = []
    for i in ids:
        try:
            valid.append(str(uuid.UUID(i)))
        except ValueError:
            continue
    if valid:
        await pool.execute("DELETE FROM notification WHERE user_id = $1 AND id = ANY($2::uuid[])",
                           user_id, valid)


# -- reading by id and updating (server code) ----------------------------------------------------


def _uuids(ids: Iterable[str]) -> list[str]:
    """The ids that are UUIDs, in canonical form (others cannot match a notification)."""
    out = []
    for i in ids:
        try:
            out.append(str(uuid.UUID(i)))
        except (ValueError, AttributeError, TypeError):
            continue
    return out


async def get_notifications(pool: asyncpg.Pool, user_id: str | None,
                            ids: list[str]) -> list[Notification]:
    """Stored notifications by id (any user's, or only `user_id`'s), oldest first; ids that match
    nothing are left out."""
    valid = _uuids(ids)
    if not valid:
        return []
    rows = await pool.fetch(
        "SELECT id::text AS id, user_id::text AS user_id, subject, content::text AS content, code, "
        "sender_id::text AS sender_id, create_time FROM notification "
        "WHERE id = ANY($1::uuid[]) AND ($2::uuid IS NULL OR user_id = $2::uuid) "
        "ORDER BY create_time, id", valid, user_id)
    return [Notification(r["id"], r["user_id"], r["subject"], r["content"], r["code"],
                         "" if r["sender_id"] == NIL_UUID else r["sender_id"], r["create_time"],
                         True) for r in rows]


@dataclass(frozen=True)
class NotificationUpdate:
    """A change to a stored notification: `None` leaves a field as it is."""

    id: str
    subject: str | None = None
    content: dict[str, Any] | str | None = None
    sender_id: str | None = None


async def update_notifications(pool: asyncpg.Pool, updates: list[NotificationUpdate]) -> None:
    """Change the subject, content or sender of stored notifications (Nakama's
    NotificationsUpdate), all in one transaction. Ids that match nothing change nothing; the
    notifications are not pushed again."""
    has_nul = "Notification content and subject must not contain NUL characters."
    rows: list[tuple[str, str | None, str | None, str | None]] = []
    for u in updates:
        try:
            nid = str(uuid.UUID(u.id))
        except (ValueError, AttributeError, TypeError):
            raise invalid("Notification ID must be a UUID.") from None
        if u.subject is not None:
            if "\x00" in u.subject:
                raise invalid(has_nul)
            if not u.subject or len(u.subject) > MAX_SUBJECT:
                raise invalid("Notification subject must be 1-255 characters.")
        content = u.content
        if content is not None:
            if not isinstance(content, str):
                content = orjson.dumps(content).decode()
            json_object(content, "Notification content must be a JSON object.", has_nul)
        sender = u.sender_id
        if sender is not None:
            try:
                sender = str(uuid.UUID(sender)) if sender else NIL_UUID
            except (ValueError, AttributeError, TypeError):
                raise invalid("Notification sender must be a user ID.") from None
        rows.append((nid, u.subject, content, sender))
    if not rows:
        return
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            "UPDATE notification SET subject = COALESCE($2::text, subject), "
            "content = COALESCE($3::jsonb, content), sender_id = COALESCE($4::uuid, sender_id) "
            "WHERE id = $1::uuid", rows)
