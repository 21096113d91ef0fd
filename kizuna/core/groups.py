"""Groups: create, update, delete, list and search; membership (join, leave, add, kick, ban,
promote, demote) and its listings.

A membership is an edge stored in both directions in `group_edge` (group -> user and
user -> group, same state and position); `groups.edge_count` counts the members (superadmins,
admins, members). Each change takes the group's row lock first, then changes both edges, the
count and the group channel's membership messages in one transaction: concurrent joins cannot
overshoot `max_count` (the count is checked under the lock, and the table's CHECK backs it), and
the last superadmin cannot vanish between a check and a delete. Messages and notifications are
delivered once the transaction has committed.

Rules, as Nakama's (server/core_group.go, server/api_group.go):
- roles: 0 superadmin, 1 admin, 2 member, 3 join request, 4 banned;
- update: admins and superadmins; delete: superadmins;
- join: an open group adds a member at once (message 3 group_join); a closed one records a join
  request and notifies the superadmins and admins (notification -5); a full group refuses both;
  joining again, or while banned, changes nothing;
- leave: anyone but the last superadmin (message 5); a banned user's leave changes nothing;
- add (admins, superadmins): new users become members, join requests are accepted (message 4,
  notification -4 to the user); members and banned users are left as they are;
- kick and ban (admins: members, join requests and bans; superadmins: anyone but the last
  superadmin): the edge goes (a ban leaves a banned edge), messages 6 and 8 for members, and their
  sockets leave the group channel at once;
- promote (admins: a join request to member, a member to admin; superadmins: also an admin to
  superadmin), message 7; demote (admins: an admin to member; superadmins: also a superadmin,
  never the last one), message 9;
- the caller is never acted on in a batch of users; unknown users are skipped, except by add
  (one unknown user fails the whole batch);
- `caller_id=None` is server code: it acts as a superadmin of every group.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg

from kizuna.core import chat
from kizuna.core.notifications import CODE_GROUP_ADD, CODE_GROUP_JOIN_REQUEST, NewNotification
from kizuna.core.streams import NIL_UUID
from kizuna.core.users import USER_COLUMNS, user_from_row
from kizuna.errors import Code, KizunaError, invalid
from kizuna.wire.fields import json_object
from kizuna.wire.paging import decode_cursor, encode_cursor
from kizuna.wire.types import (
    ChannelMessage,
    Group,
    GroupList,
    GroupUser,
    GroupUserList,
    UserGroup,
    UserGroupList,
)

if TYPE_CHECKING:
    from kizuna.core.domain import Domain

SUPERADMIN = 0
ADMIN = 1
MEMBER = 2
JOIN_REQUEST = 3
BANNED = 4

DEFAULT_MAX_COUNT = 100
MAX_INT32 = 2**31 - 1
# Column sizes (VARCHAR lengths count characters, as here).
MAX_NAME = 255
MAX_DESCRIPTION = 255
MAX_AVATAR_URL = 512
MAX_LANG_TAG = 18

INVALID_CURSOR = "Cursor is invalid."
MALFORMED_CURSOR = "Malformed cursor was used."

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_ACTIVE = "disable_time = '1970-01-01 00:00:00 UTC'"

GROUP_COLUMNS = (
    "g.id::text AS id, g.creator_id::text AS creator_id, g.name, g.description, g.avatar_url, "
    "g.lang_tag, g.metadata::text AS metadata, g.state, g.edge_count, g.max_count, "
    "g.create_time, g.update_time")


def group_not_found() -> KizunaError:
    return KizunaError(Code.NOT_FOUND, "Group not found.")


def permission_denied() -> KizunaError:
    return KizunaError(Code.NOT_FOUND, "Group not found or permission denied.")


def group_full() -> KizunaError:
    return invalid("Group is full.")


def _record(row: asyncpg.Record) -> Group:
    return Group(id=row["id"], creator_id=row["creator_id"], name=row["name"],
                 description=row["description"], avatar_url=row["avatar_url"],
                 lang_tag=row["lang_tag"], metadata=row["metadata"], open=row["state"] == 0,
                 edge_count=row["edge_count"], max_count=row["max_count"],
                 create_time=row["create_time"], update_time=row["update_time"])


# -- input ---------------------------------------------------------------------------------------


def group_id(value: Any) -> str:
    """A group id from a request: set, and a UUID."""
    if not value:
        raise invalid("Group ID must be set.")
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise invalid("Group ID must be a valid ID.") from None


def user_ids(values: list[str]) -> list[str]:
    """User ids to act on: UUIDs other than the nil one, each once, in the order given."""
    out: dict[str, None] = {}
    for v in values:
        try:
            uid = str(uuid.UUID(v))
        except (ValueError, AttributeError, TypeError):
            raise invalid("User ID must be a valid ID.") from None
        if uid == NIL_UUID:
            raise invalid("User ID must be a valid ID.")
        out[uid] = None
    return list(out)


def _text(value: str | None, what: str, maximum: int) -> str | None:
    """A text field: at most `maximum` characters (its column's size), no NUL (PostgreSQL text
    cannot hold one). Nakama lets both reach the database (a 500); here they are a 400."""
    if value is None:
        return None
    if len(value) > maximum:
        raise invalid(f"{what} must be at most {maximum} characters.")
    if "\x00" in value:
        raise invalid(f"{what} must not contain NUL characters.")
    return value


def _metadata(value: str | None) -> str | None:
    if value is None:
        return None
    json_object(value, "Metadata must be a JSON object.", "Metadata must not contain NUL characters.")
    return value


def _max_count(value: int) -> int:
    if value < 1:
        raise invalid("Group max count must be >= 1 when set.")
    if value > MAX_INT32:
        raise invalid(f"Group max count must be at most {MAX_INT32}.")
    return value


_last_position = 0


def _position() -> int:
    """An edge's sort position: UnixNano, as Nakama, but strictly increasing on this node (two
    edges of one group in the same state must not share a position: it is in the primary key)."""
    global _last_position
    _last_position = max(time.time_ns(), _last_position + 1)
    return _last_position


T = TypeVar("T")


async def _retry_position(fn: Callable[[], Awaitable[T]]) -> T:
    """Run a transaction again if a position collided with another node's (the primary key)."""
    for attempt in range(4):
        try:
            return await fn()
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != "group_edge_pkey" or attempt == 3:
                raise
    raise AssertionError("unreachable")


@asynccontextmanager
async def _locked(pool: asyncpg.Pool, gid: str) -> AsyncIterator[tuple[asyncpg.Connection,
                                                                      asyncpg.Record | None]]:
    """A transaction holding the group's row lock, and the group (None if absent or disabled)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"SELECT g.id::text AS id, g.name, g.state, g.edge_count, g.max_count FROM groups g "
            f"WHERE g.id = $1 AND g.{_ACTIVE} FOR UPDATE", gid)
        yield conn, row


async def _state(conn: asyncpg.Connection | asyncpg.Pool, gid: str, uid: str) -> int | None:
    state: int | None = await conn.fetchval(
        "SELECT state FROM group_edge WHERE source_id = $1 AND destination_id = $2", gid, uid)
    return state


async def _add_edges(conn: asyncpg.Connection, gid: str, uid: str, state: int) -> bool:
    """Both edges of a new membership; False if the user already has one with this group."""
    status: str = await conn.execute(
        "INSERT INTO group_edge (position, state, source_id, destination_id) "
        "VALUES ($1, $2, $3, $4), ($1, $2, $4, $3) "
        "ON CONFLICT (source_id, destination_id) DO NOTHING", _position(), state, gid, uid)
    return status != "INSERT 0 0"


async def _set_state(conn: asyncpg.Connection, gid: str, uid: str, state: int) -> None:
    await conn.execute(
        "UPDATE group_edge SET state = $3, update_time = now() "
        "WHERE (source_id = $1 AND destination_id = $2) OR (source_id = $2 AND destination_id = $1)",
        gid, uid, state)


async def _delete_edges(conn: asyncpg.Connection, gid: str, uid: str) -> None:
    await conn.execute(
        "DELETE FROM group_edge "
        "WHERE (source_id = $1 AND destination_id = $2) OR (source_id = $2 AND destination_id = $1)",
        gid, uid)


async def _count(conn: asyncpg.Connection, gid: str, delta: int) -> None:
    """Change the member count; a group already at max_count refuses one more."""
    if delta > 0:
        done = await conn.fetchval(
            "UPDATE groups SET edge_count = edge_count + $2, update_time = now() "
            "WHERE id = $1 AND edge_count + $2 <= max_count RETURNING 1", gid, delta)
        if done is None:
            raise group_full()
    else:
        await conn.execute(
            "UPDATE groups SET edge_count = edge_count + $2, update_time = now() WHERE id = $1",
            gid, delta)


async def _superadmins(conn: asyncpg.Connection, gid: str) -> int:
    n: int = await conn.fetchval(
        "SELECT count(*) FROM group_edge WHERE source_id = $1 AND state = 0", gid)
    return n


async def _usernames(conn: asyncpg.Connection, uids: list[str]) -> dict[str, str]:
    rows = await conn.fetch("SELECT id::text AS id, username FROM users WHERE id = ANY($1::uuid[])",
                            uids)
    return {r["id"]: r["username"] for r in rows}


def _caller_state(state: int | None) -> int:
    """The role of a caller that manages members (admins and superadmins only)."""
    if state is None or state > ADMIN:
        raise permission_denied()
    return state


# -- groups --------------------------------------------------------------------------------------


async def create_group(pool: asyncpg.Pool, user_id: str, name: str, *,
                       creator_id: str | None = None, lang_tag: str = "", description: str = "",
                       avatar_url: str = "", open: bool = False, metadata: str | None = None,
                       max_count: int = DEFAULT_MAX_COUNT) -> Group:
    """A new group with `user_id` as its superadmin (and only member). `creator_id` defaults to
    the user. A taken name is a 409."""
    if user_id == NIL_UUID:
        raise invalid("Group creator must be a user.")
    if not name:
        raise invalid("Group name must be set.")
    _text(name, "Group name", MAX_NAME)
    _text(lang_tag, "Group language", MAX_LANG_TAG)
    _text(description, "Group description", MAX_DESCRIPTION)
    _text(avatar_url, "Group avatar URL", MAX_AVATAR_URL)
    _metadata(metadata)
    _max_count(max_count)

    async def attempt() -> Group:
        async with pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)",
                                       user_id):
                raise KizunaError(Code.NOT_FOUND, "User account not found.")
            try:
                row = await conn.fetchrow(
                    f"INSERT INTO groups AS g (id, creator_id, name, description, avatar_url, "
                    f"lang_tag, metadata, state, edge_count, max_count) "
                    f"VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, 1, $9) "
                    f"RETURNING {GROUP_COLUMNS}",
                    str(uuid.uuid4()), creator_id or user_id, name, description, avatar_url,
                    lang_tag or "en", metadata or "{}", 0 if open else 1, max_count)
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name == "groups_name_key":
                    raise KizunaError(Code.ALREADY_EXISTS, "Group name is in use.") from None
                raise
            await _add_edges(conn, row["id"], user_id, SUPERADMIN)
            return _record(row)
    return await _retry_position(attempt)


async def update_group(pool: asyncpg.Pool, gid: str, caller_id: str | None, *,
                       name: str | None = None, creator_id: str | None = None,
                       lang_tag: str | None = None, description: str | None = None,
                       avatar_url: str | None = None, open: bool | None = None,
                       metadata: str | None = None, max_count: int | None = None) -> None:
    """Change the given fields (None: not given); "" clears a description or avatar URL.
    Admins and superadmins only."""
    if name is not None and not name:
        raise invalid("Group name cannot be empty.")
    if lang_tag is not None and not lang_tag:
        raise invalid("Group language cannot be empty.")
    values: dict[str, Any] = {
        "name": _text(name, "Group name", MAX_NAME),
        "lang_tag": _text(lang_tag, "Group language", MAX_LANG_TAG),
        "description": _text(description, "Group description", MAX_DESCRIPTION),
        "avatar_url": _text(avatar_url, "Group avatar URL", MAX_AVATAR_URL),
        "state": None if open is None else (0 if open else 1),
        "metadata": _metadata(metadata),
        "max_count": None if max_count is None else _max_count(max_count),
        "creator_id": creator_id,
    }
    sets, args = [], [gid]
    for column, value in values.items():
        if value is None:
            continue
        if column in ("description", "avatar_url") and value == "":
            sets.append(f"{column} = NULL")
            continue
        args.append(value)
        sets.append(f"{column} = ${len(args)}" + ("::jsonb" if column == "metadata" else ""))
    if not sets:
        raise invalid("Specify at least one field to update.")
    if caller_id is not None and (await _state(pool, gid, caller_id) not in (SUPERADMIN, ADMIN)):
        raise KizunaError(Code.NOT_FOUND, "Group not found or you're not allowed to update.")
    try:
        status = await pool.execute(
            f"UPDATE groups SET update_time = now(), {', '.join(sets)} "
            f"WHERE id = $1 AND {_ACTIVE}", *args)
    except asyncpg.UniqueViolationError:
        raise invalid("Group name is in use.") from None
    except asyncpg.CheckViolationError:
        raise invalid("Group max count cannot be below its member count.") from None
    if status == "UPDATE 0":
        raise invalid("No new fields in group update.")


async def delete_group(domain: Domain, gid: str, caller_id: str | None) -> None:
    """Delete a group and every membership (superadmins only; an absent group is no error). Its
    members' sockets leave the group's channel."""
    async with domain.pool.acquire() as conn, conn.transaction():
        if caller_id is not None and await _state(conn, gid, caller_id) != SUPERADMIN:
            raise invalid("Group not found or you're not allowed to delete.")
        deleted = await conn.fetchval("DELETE FROM groups WHERE id = $1 RETURNING id", gid)
        if deleted is None:
            return
        rows = await conn.fetch(
            "DELETE FROM group_edge WHERE source_id = $1 OR destination_id = $1 "
            "RETURNING source_id::text AS source_id, destination_id::text AS destination_id, state",
            gid)
    stream = chat.group_channel(gid)
    for r in rows:
        if r["source_id"] == gid and r["state"] <= MEMBER:
            domain.sockets.leave_stream(r["destination_id"], stream)


async def get_groups(pool: asyncpg.Pool, ids: list[str]) -> list[Group]:
    if not ids:
        return []
    rows = await pool.fetch(
        f"SELECT {GROUP_COLUMNS} FROM groups g WHERE g.{_ACTIVE} AND g.id = ANY($1::uuid[])", ids)
    return [_record(r) for r in rows]


# -- membership ----------------------------------------------------------------------------------


async def join_group(domain: Domain, gid: str, user_id: str, username: str) -> None:
    """Join an open group, or ask to join a closed one (its admins are notified)."""
    messages: list[ChannelMessage] = []

    async def attempt() -> list[str]:
        messages.clear()
        async with _locked(domain.pool, gid) as (conn, group):
            if group is None:
                raise group_not_found()
            if group["edge_count"] >= group["max_count"]:
                raise group_full()
            if group["state"] != 0:
                if not await _add_edges(conn, gid, user_id, JOIN_REQUEST):
                    return []
                rows = await conn.fetch(
                    "SELECT destination_id::text AS id FROM group_edge WHERE source_id = $1 "
                    "AND state <= 1", gid)
                return [r["id"] for r in rows]
            if not await _add_edges(conn, gid, user_id, MEMBER):
                return []  # already in it (or banned): nothing changes
            await _count(conn, gid, 1)
            messages.append(chat.membership_message(gid, chat.GROUP_JOIN, user_id, username))
            await chat.store_messages(conn, messages)
            return []

    admins = await _retry_position(attempt)
    chat.deliver(domain, messages)
    if admins:
        content = {"group_id": gid, "username": username}
        await domain.notifier.send([NewNotification(
            user_id=a, subject=f"User {username} wants to join your group", content=content,
            code=CODE_GROUP_JOIN_REQUEST, sender_id=user_id) for a in admins])


async def leave_group(domain: Domain, gid: str, user_id: str, username: str) -> None:
    """Leave a group (or withdraw a join request); the last superadmin cannot. Not being in the
    group is no error."""
    messages: list[ChannelMessage] = []
    async with _locked(domain.pool, gid) as (conn, group):
        state = await _state(conn, gid, user_id)
        if state is None or state == BANNED:
            return
        if state == SUPERADMIN and await _superadmins(conn, gid) <= 1:
            raise invalid("Cannot leave group when you are the last superadmin.")
        await _delete_edges(conn, gid, user_id)
        if state <= MEMBER:
            if group is None:
                raise group_not_found()
            await _count(conn, gid, -1)
        messages.append(chat.membership_message(gid, chat.GROUP_LEAVE, user_id, username))
        await chat.store_messages(conn, messages)
    chat.deliver(domain, messages)
    domain.sockets.leave_stream(user_id, chat.group_channel(gid))


@dataclass
class _Batch:
    """What a change of several users' memberships produced, delivered after the commit."""
    messages: list[ChannelMessage]
    removed: list[str]  # users whose sockets leave the group channel
    notify: list[NewNotification]


async def _manage(domain: Domain, gid: str, caller_id: str | None, uids: list[str],
                  change: Callable[[asyncpg.Connection, asyncpg.Record, int, str, int | None,
                                    str, _Batch], Awaitable[None]],
                  *, lookup_all: bool = False) -> None:
    """Run `change(conn, group, caller_state, uid, state, username, batch)` for each user in one
    transaction under the group's lock, then deliver what it produced."""
    uids = [u for u in uids if u != caller_id]
    batch = _Batch([], [], [])

    async def attempt() -> None:
        batch.messages.clear()
        batch.removed.clear()
        batch.notify.clear()
        async with _locked(domain.pool, gid) as (conn, group):
            caller_state = SUPERADMIN
            if caller_id is not None:
                caller_state = _caller_state(await _state(conn, gid, caller_id))
            if group is None:
                raise group_not_found()
            if not uids:
                return
            names = await _usernames(conn, uids)
            if lookup_all and len(names) < len(uids):
                raise invalid("One or more users not found.")
            for uid in uids:
                if uid in names:
                    await change(conn, group, caller_state, uid, await _state(conn, gid, uid),
                                 names[uid], batch)
            await chat.store_messages(conn, batch.messages)

    await _retry_position(attempt)
    chat.deliver(domain, batch.messages)
    stream = chat.group_channel(gid)
    for uid in batch.removed:
        domain.sockets.leave_stream(uid, stream)
    if batch.notify:
        await domain.notifier.send(batch.notify)


async def add_group_users(domain: Domain, caller_id: str | None, gid: str,
                          uids: list[str]) -> None:
    """Add users as members, accepting their join requests (admins and superadmins). Each added
    user gets notification -4; one unknown user fails the whole batch."""

    async def change(conn: asyncpg.Connection, group: asyncpg.Record, caller_state: int,
                     uid: str, state: int | None, username: str, batch: _Batch) -> None:
        if state is None:
            await _add_edges(conn, gid, uid, MEMBER)
        elif state == JOIN_REQUEST:
            await _set_state(conn, gid, uid, MEMBER)
        else:
            return  # a member already, or banned
        await _count(conn, gid, 1)
        batch.messages.append(chat.membership_message(gid, chat.GROUP_ADD, uid, username))
        batch.notify.append(NewNotification(
            user_id=uid, subject=f"You've been added to group {group['name']}",
            content={"group_id": gid, "name": group["name"]}, code=CODE_GROUP_ADD,
            sender_id=caller_id or ""))

    await _manage(domain, gid, caller_id, uids, change, lookup_all=True)


async def _may_remove(conn: asyncpg.Connection, gid: str, caller_state: int, state: int) -> bool:
    """Whether a caller may kick or ban a user in `state`: admins only members, join requests
    and banned users; superadmins anyone but the last superadmin."""
    if caller_state == ADMIN:
        return state > ADMIN
    return state != SUPERADMIN or await _superadmins(conn, gid) > 1


async def kick_group_users(domain: Domain, caller_id: str | None, gid: str,
                           uids: list[str]) -> None:
    """Remove users from a group (members, join requests, and bans, which lifts them)."""

    async def change(conn: asyncpg.Connection, group: asyncpg.Record, caller_state: int,
                     uid: str, state: int | None, username: str, batch: _Batch) -> None:
        if state is None or not await _may_remove(conn, gid, caller_state, state):
            return
        await _delete_edges(conn, gid, uid)
        if state <= MEMBER:
            await _count(conn, gid, -1)
            batch.messages.append(chat.membership_message(gid, chat.GROUP_KICK, uid, username))
            batch.removed.append(uid)

    await _manage(domain, gid, caller_id, uids, change)


async def ban_group_users(domain: Domain, caller_id: str | None, gid: str,
                          uids: list[str]) -> None:
    """Ban users of a group (members and join requests): they leave it and cannot join again
    until kicked (which lifts the ban)."""

    async def change(conn: asyncpg.Connection, group: asyncpg.Record, caller_state: int,
                     uid: str, state: int | None, username: str, batch: _Batch) -> None:
        if state is None or state == BANNED or not await _may_remove(conn, gid, caller_state,
                                                                      state):
            return
        await _delete_edges(conn, gid, uid)
        await _add_edges(conn, gid, uid, BANNED)
        if state <= MEMBER:
            await _count(conn, gid, -1)
            batch.messages.append(chat.membership_message(gid, chat.GROUP_BAN, uid, username))
            batch.removed.append(uid)

    await _manage(domain, gid, caller_id, uids, change)


async def promote_group_users(domain: Domain, caller_id: str | None, gid: str,
                              uids: list[str]) -> None:
    """Raise users one role: a join request to member, a member to admin (by admins and
    superadmins), an admin to superadmin (by superadmins)."""

    async def change(conn: asyncpg.Connection, group: asyncpg.Record, caller_state: int,
                     uid: str, state: int | None, username: str, batch: _Batch) -> None:
        if state is None or not caller_state < state <= JOIN_REQUEST or state == SUPERADMIN:
            return
        await _set_state(conn, gid, uid, state - 1)
        if state == JOIN_REQUEST:
            await _count(conn, gid, 1)
        batch.messages.append(chat.membership_message(gid, chat.GROUP_PROMOTE, uid, username))

    await _manage(domain, gid, caller_id, uids, change)


async def demote_group_users(domain: Domain, caller_id: str | None, gid: str,
                             uids: list[str]) -> None:
    """Lower users one role: an admin to member (by admins and superadmins), a superadmin to
    admin (by superadmins, never the last one). Members stay members."""

    async def change(conn: asyncpg.Connection, group: asyncpg.Record, caller_state: int,
                     uid: str, state: int | None, username: str, batch: _Batch) -> None:
        if state is None or not caller_state <= state < MEMBER:
            return
        if state == SUPERADMIN and await _superadmins(conn, gid) <= 1:
            return
        await _set_state(conn, gid, uid, state + 1)
        batch.messages.append(chat.membership_message(gid, chat.GROUP_DEMOTE, uid, username))

    await _manage(domain, gid, caller_id, uids, change)


# -- listings of members and memberships ---------------------------------------------------------


def _edge_cursor(kind: str, cursor: str | None, state: int | None) -> tuple[int, int] | None:
    """The (state, position) a members/memberships cursor continues after."""
    if not cursor:
        return None
    values = decode_cursor(cursor, INVALID_CURSOR)
    if (len(values) != 3 or values[0] != kind or type(values[1]) is not int
            or type(values[2]) is not int or not 0 <= values[1] <= BANNED
            or abs(values[2]) >= 2**63):
        raise invalid(INVALID_CURSOR)
    if state is not None and values[1] != state:
        raise invalid(INVALID_CURSOR)  # a cursor of a listing with another filter
    return values[1], values[2]


def _edge_filter(state: int | None, after: tuple[int, int] | None, args: list[Any]) -> str:
    if state is not None:
        args.append(state)
        sql = f" AND ge.state = ${len(args)}"
    else:
        sql = " AND ge.state >= 0 AND ge.state <= 3"  # banned users are listed only on request
    if after is not None:
        args += list(after)
        sql += f" AND (ge.state, ge.position) > (${len(args) - 1}::smallint, ${len(args)}::bigint)"
    return sql


async def list_group_users(domain: Domain, gid: str, limit: int, state: int | None,
                           cursor: str | None) -> GroupUserList:
    """A group's users with their roles, by role then by when they got it (`limit` is checked by
    the caller; `state` is 0-4 or None for every role but banned)."""
    after = _edge_cursor("gu", cursor, state)
    args: list[Any] = [gid]
    sql = (f"SELECT {USER_COLUMNS}, ge.state AS edge_state, ge.position FROM group_edge ge "
           f"JOIN users u ON u.id = ge.destination_id WHERE ge.source_id = $1"
           + _edge_filter(state, after, args))
    args.append(limit + 1)
    rows = await domain.pool.fetch(sql + f" ORDER BY ge.state, ge.position LIMIT ${len(args)}",
                                   *args)
    online = domain.sockets.is_online
    items = [GroupUser(user_from_row(r, online(r["id"])), r["edge_state"]) for r in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    return GroupUserList(items, encode_cursor(["gu", last["edge_state"], last["position"]])
                         if last is not None else None)


async def list_user_groups(pool: asyncpg.Pool, user_id: str, limit: int, state: int | None,
                           cursor: str | None) -> UserGroupList:
    """A user's groups with the user's role in each, by role then by when the user got it."""
    after = _edge_cursor("ug", cursor, state)
    args: list[Any] = [user_id]
    sql = (f"SELECT {GROUP_COLUMNS}, ge.state AS edge_state, ge.position FROM group_edge ge "
           f"JOIN groups g ON g.id = ge.destination_id WHERE ge.source_id = $1"
           + _edge_filter(state, after, args))
    args.append(limit + 1)
    rows = await pool.fetch(sql + f" ORDER BY ge.state, ge.position LIMIT ${len(args)}", *args)
    items = [UserGroup(_record(r), r["edge_state"]) for r in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    return UserGroupList(items, encode_cursor(["ug", last["edge_state"], last["position"]])
                         if last is not None else None)


# -- listing and searching groups ----------------------------------------------------------------


def _like_prefix(pattern: str) -> str:
    """The literal text a LIKE pattern starts with (up to its first `%` or `_`; `\\` escapes)."""
    out = []
    chars = iter(pattern)
    for ch in chars:
        if ch in "%_":
            break
        if ch == "\\":
            ch = next(chars, "")
        out.append(ch)
    return "".join(out)


def _micros(t: datetime) -> int:
    return (t - _EPOCH) // _MICRO


def _group_cursor(cursor: str | None, kind: str, shape: tuple[type, ...]) -> list[Any] | None:
    if not cursor:
        return None
    values = decode_cursor(cursor)
    if (len(values) != len(shape) + 1 or values[0] != kind
            or not all(type(v) is t for v, t in zip(values[1:], shape, strict=True))):
        raise invalid(MALFORMED_CURSOR)
    try:
        values[-1] = str(uuid.UUID(values[-1]))
        for i, v in enumerate(values):
            if type(v) is int and not -(2**62) < v < 2**62:
                raise ValueError
            if i and type(v) is str and "\x00" in v:
                raise ValueError
    except ValueError:
        raise invalid(MALFORMED_CURSOR) from None
    return values[1:]


async def list_groups(pool: asyncpg.Pool, limit: int, *, name: str = "", lang_tag: str = "",
                      members: int | None = None, open: bool | None = None,
                      cursor: str | None = None) -> GroupList:
    """One page of groups, and the cursor of the next (`limit` is checked by the caller).

    - `name`: a case-insensitive LIKE pattern (`abc%` for a prefix; leading `%` and spaces are
      dropped, as Nakama does), alone: ordered by lowercase name;
    - otherwise any of `lang_tag` (exact), `open`, `members` (at most that many members):
      with `lang_tag` ordered by member count (largest first when `members` is given), with
      `members` alone largest first, else by last update.
    """
    if name and (lang_tag or open is not None or members is not None):
        raise invalid("name filter cannot be combined with any other filter")
    name = name.lstrip("% ")
    _text(name, "Group name", MAX_NAME + 2)
    _text(lang_tag, "Group language", MAX_LANG_TAG)
    if members is not None and not -MAX_INT32 - 1 <= members <= MAX_INT32:
        raise invalid("Invalid members - members must be an int32.")
    if members is not None and members < 0:
        members = None  # Nakama reads a negative count as "no filter"

    args: list[Any] = [limit + 1]
    where = [f"g.{_ACTIVE}"]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    kind: str
    shape: tuple[type, ...]
    if name:
        kind, shape = "n", (str, str)
        where.append(f'lower(g.name) COLLATE "C" LIKE lower({arg(name)}) COLLATE "C"')
        # The pattern's literal prefix as an explicit range, so that the plan is an index range
        # scan even when PostgreSQL plans the statement without looking at the pattern (a
        # generic plan of a prepared statement cannot derive the range from LIKE $n).
        low = arg(_like_prefix(name))
        where.append(f'lower(g.name) COLLATE "C" >= lower({low}) COLLATE "C"')
        where.append(f'lower(g.name) COLLATE "C" < (lower({low}) || chr(1114111)) COLLATE "C"')
        key = ['lower(g.name) COLLATE "C"', "g.id"]
        descending = False
    else:
        if open is not None:
            where.append(f"g.state = {arg(0 if open else 1)}")
        if members is not None:
            where.append(f"g.edge_count <= {arg(members)}")
        if lang_tag:
            where.append(f"g.lang_tag = {arg(lang_tag)}")
            kind, shape = "l", (int, str)
            key = ["g.edge_count", "g.id"]
            descending = members is not None
        elif members is not None:
            kind, shape = "m", (int, int, str)
            key = ["g.edge_count", "g.update_time", "g.id"]
            descending = True
        else:
            kind, shape = "u", (int, int, str)
            key = ["g.update_time", "g.edge_count", "g.id"]
            descending = False
    after = _group_cursor(cursor, kind, shape)
    if after is not None:
        values = []
        for column, value in zip(key, after, strict=True):
            if column == "g.update_time":
                value = _EPOCH + value * _MICRO
            cast = {"g.id": "::uuid", "g.edge_count": "::int"}.get(column, "")
            values.append(arg(value) + cast)
        where.append(f"({', '.join(key)}) {'<' if descending else '>'} ({', '.join(values)})")
    order = ", ".join(k + (" DESC" if descending else "") for k in key)
    rows = await pool.fetch(f"SELECT {GROUP_COLUMNS}, lower(g.name) AS lower_name FROM groups g "
                            f"WHERE {' AND '.join(where)} ORDER BY {order} LIMIT $1", *args)
    groups = [_record(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        position: dict[str, list[Any]] = {
            "n": [last["lower_name"]],
            "l": [last["edge_count"]],
            "m": [last["edge_count"], _micros(last["update_time"])],
            "u": [_micros(last["update_time"]), last["edge_count"]],
        }
        next_cursor = encode_cursor([kind, *position[kind], last["id"]])
    return GroupList(groups, next_cursor)


__all__ = [
    "ADMIN", "BANNED", "JOIN_REQUEST", "MEMBER", "SUPERADMIN", "add_group_users",
    "ban_group_users", "create_group", "delete_group", "demote_group_users", "get_groups",
    "group_id", "join_group", "kick_group_users", "leave_group", "list_group_users",
    "list_groups", "list_user_groups", "promote_group_users", "update_group", "user_ids",
]


async def remove_user(conn: asyncpg.Connection, user_id: str) -> list[tuple[str, list[str]]]:
    """Before a user is deleted (in the deleting transaction), as Nakama does: the user leaves
    every group; a group whose only superadmin it was is deleted with all its memberships.
    Returns the deleted groups with their remaining members (whose sockets leave the channel)."""
    rows = await conn.fetch(
        "SELECT e.source_id::text AS gid, e.state, (SELECT count(*) FROM group_edge o "
        "WHERE o.source_id = e.source_id AND o.state = 0 AND o.destination_id <> $1) AS others "
        "FROM group_edge e WHERE e.destination_id = $1 "
        "AND EXISTS (SELECT 1 FROM groups g WHERE g.id = e.source_id) FOR UPDATE OF e", user_id)
    deleted: list[tuple[str, list[str]]] = []
    for r in rows:
        gid = r["gid"]
        if r["state"] == SUPERADMIN and r["others"] == 0:
            members = await conn.fetch(
                "DELETE FROM group_edge WHERE source_id = $1 OR destination_id = $1 "
                "RETURNING source_id::text AS source_id, destination_id::text AS member, state",
                gid)
            await conn.execute("DELETE FROM groups WHERE id = $1", gid)
            deleted.append((gid, [m["member"] for m in members
                                  if m["source_id"] == gid and m["member"] != user_id
                                  and m["state"] <= MEMBER]))
            continue
        await _delete_edges(conn, gid, user_id)
        if r["state"] <= MEMBER:
            await _count(conn, gid, -1)
    return deleted
