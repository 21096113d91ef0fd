"""Friends: the social graph (user_edge), with Nakama's rules.

An edge is a row (source, destination, state, position, update_time, metadata) that the source
sees in its list. States: 0 friend, 1 invite sent, 2 invite received, 3 blocked.

- Adding a user who has not invited you writes two rows, (you -> them, 1) and (them -> you, 2),
  and sends them notification -2; adding a user who invited you turns both rows into friends (0)
  and sends them -3. Adding again, adding someone you blocked, or someone who blocked you, or a
  user that does not exist does nothing, without an error (as Nakama).
- Deleting removes your row and theirs (theirs unless it is their block): it also cancels or
  declines an invite, and unblocks. A friendship removed sends them -9.
- Blocking turns your row into a block (or writes one) and removes theirs unless they blocked you.
- `users.edge_count` is the number of rows a user is the source of (friends, invites and blocks,
  as Nakama counts them); it changes in the same transaction as the rows, and both directions of
  an edge change together.

Lists walk (state, position) with the primary key; a cursor holds the next row's position.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg

from kizuna.core.notifications import (
    CODE_FRIEND_ACCEPT,
    CODE_FRIEND_REMOVE,
    CODE_FRIEND_REQUEST,
    NewNotification,
)
from kizuna.core.users import SYSTEM_USER_ID, USER_COLUMNS, user_from_row
from kizuna.errors import Code, KizunaError, invalid
from kizuna.wire.fields import json_object
from kizuna.wire.paging import decode_cursor, encode_cursor
from kizuna.wire.types import Friend, FriendList, FriendOfFriend, FriendsOfFriendsList

if TYPE_CHECKING:
    from kizuna.core.domain import Domain

log = logging.getLogger("kizuna.friends")

FRIEND, INVITE_SENT, INVITE_RECEIVED, BLOCKED = 0, 1, 2, 3

LIST_DEFAULT = LIST_MAX = 1000  # ListFriends: absent limit lists up to 1000
FOF_DEFAULT, FOF_MAX = 10, 100  # ListFriendsOfFriends

INVALID_CURSOR = "Cursor is invalid."
INVALID_STATE = "Invalid state - state must be between 0 and 3."
NO_TARGET = "No valid ID or username was provided."
EMPTY_USERNAME = "Username must not be empty."
SELF_ADD = "Cannot add self as friend."
SELF_DELETE = "Cannot delete self."
SELF_BLOCK = "Cannot block self."
BAD_METADATA = "Metadata must be a valid JSON object."

_MAX_USERNAME = 128  # users.username is VARCHAR(128): a longer name names nobody

T = TypeVar("T")


# -- arguments -----------------------------------------------------------------------------------


def check_state(state: int | None) -> int | None:
    if state is not None and not 0 <= state <= 3:
        raise invalid(INVALID_STATE)
    return state


def check_metadata(metadata: str | None) -> str | None:
    """Friend metadata: a JSON object as text (None or "" for none)."""
    if not metadata:
        return None
    json_object(metadata, BAD_METADATA, BAD_METADATA)
    return metadata


@dataclass(frozen=True)
class Targets:
    """The users a request names: ids in canonical form and usernames, checked as Nakama does
    (its order and messages); resolved to ids by `_resolve`."""
    ids: list[str]
    usernames: list[str]

    @property
    def empty(self) -> bool:
        return not self.ids and not self.usernames


def targets(caller_id: str, caller_username: str | None, ids: list[str], usernames: list[str],
            self_message: str) -> Targets:
    checked: list[str] = []
    for raw in ids:
        try:
            parsed = str(uuid.UUID(raw))
        except (ValueError, AttributeError, TypeError):
            raise invalid(f"Invalid user ID '{raw}'.") from None
        if parsed == caller_id:
            raise invalid(self_message)
        if parsed == SYSTEM_USER_ID:
            raise invalid(f"Invalid user ID '{raw}'.")
        checked.append(parsed)
    for name in usernames:
        if name == "":
            raise invalid(EMPTY_USERNAME)
        if name == caller_username:
            raise invalid(self_message)
    return Targets(checked, list(usernames))


async def _resolve(conn: asyncpg.Connection, caller_id: str, t: Targets) -> list[str]:
    """Every user id the targets name, once, in a fixed order (rows are locked in that order,
    so two requests never wait on each other crosswise). Usernames that name nobody (or could
    not: too long, a NUL) are left out, as unknown ids are later."""
    found = set(t.ids)
    names = [n for n in t.usernames if "\x00" not in n and len(n.encode()) <= _MAX_USERNAME]
    if names:
        rows = await conn.fetch("SELECT id::text AS id FROM users WHERE username = ANY($1::text[])",
                                names)
        found.update(r["id"] for r in rows)
    found.discard(caller_id)
    return sorted(found)


_last_position = 0


def _position() -> int:
    """An edge's sort key: the time in nanoseconds, strictly increasing within this process (so
    a batch of edges of one user never shares a primary key)."""
    global _last_position
    now = time.time_ns()
    _last_position = now if now > _last_position else _last_position + 1
    return _last_position


@contextmanager
def _database_errors(message: str) -> Iterator[None]:
    try:
        yield
    except asyncpg.PostgresError as exc:
        log.error("%s %s", message, exc)
        raise KizunaError(Code.INTERNAL, message) from None


async def _in_transaction(pool: asyncpg.Pool, work: Callable[[asyncpg.Connection], Awaitable[T]]
                          ) -> T:
    """Run `work` in one transaction, again (up to 3 times) if PostgreSQL picked it to break a
    deadlock or a serialization conflict."""
    for attempt in range(3):
        try:
            async with pool.acquire() as conn, conn.transaction():
                return await work(conn)
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _username(conn: asyncpg.Connection | asyncpg.Pool, user_id: str) -> str:
    name = await conn.fetchval("SELECT username FROM users WHERE id = $1", user_id)
    if name is None:
        raise KizunaError(Code.NOT_FOUND, "User account not found.")
    return str(name)


# -- add -----------------------------------------------------------------------------------------

# One statement per target: accept their invite, or invite them. Both data-modifying parts see
# the same snapshot: the insert only happens when no edge at all links the two users, so it never
# runs beside an accept. Rows are written smaller source id first (no crosswise waits).
_ADD = """
WITH mine AS (
    SELECT state FROM user_edge WHERE source_id = $1 AND destination_id = $2
), theirs AS (
    SELECT state FROM user_edge WHERE source_id = $2 AND destination_id = $1
), accepted AS (
    UPDATE user_edge SET state = 0, update_time = now(),
        metadata = CASE WHEN source_id = $1 THEN metadata || $4::jsonb ELSE metadata END
    WHERE ((source_id = $1 AND destination_id = $2 AND state = 2)
        OR (source_id = $2 AND destination_id = $1 AND state = 1))
      AND (SELECT state FROM mine) = 2 AND (SELECT state FROM theirs) = 1
    RETURNING source_id
), inserted AS (
    INSERT INTO user_edge (source_id, destination_id, state, position, update_time, metadata)
    SELECT s, d, st, $3::bigint, now(), m FROM (VALUES
        ($1::uuid, $2::uuid, 1::smallint, $4::jsonb),
        ($2::uuid, $1::uuid, 2::smallint, '{}'::jsonb)) AS v(s, d, st, m)
    WHERE NOT EXISTS (SELECT 1 FROM mine) AND NOT EXISTS (SELECT 1 FROM theirs)
      AND EXISTS (SELECT 1 FROM users WHERE id = $2)
    ORDER BY s
    ON CONFLICT DO NOTHING
    RETURNING source_id
), counted AS (
    UPDATE users SET edge_count = edge_count + 1, update_time = now()
    WHERE id IN (SELECT source_id FROM inserted)
    RETURNING id
)
SELECT (SELECT count(*) FROM accepted) AS accepted, (SELECT count(*) FROM inserted) AS inserted,
       (SELECT count(*) FROM counted) AS counted
"""


async def add_friends(domain: Domain, user_id: str, username: str | None, ids: list[str],
                      usernames: list[str], metadata: str | None = None) -> None:
    """Invite the named users, or accept their invites; notify each of them (-2 or -3).
    `username` None: the caller's, looked up."""
    t = targets(user_id, username, ids, usernames, SELF_ADD)
    if t.empty:
        return
    meta = check_metadata(metadata) or "{}"

    async def work(conn: asyncpg.Connection) -> tuple[str, list[tuple[str, bool]]]:
        name = username if username is not None else await _username(conn, user_id)
        found = await _resolve(conn, user_id, t)
        if not found and not t.ids:
            raise invalid(NO_TARGET)
        done: list[tuple[str, bool]] = []
        for friend_id in found:
            row = await conn.fetchrow(_ADD, user_id, friend_id, _position(), meta)
            if row["accepted"] == 2:
                done.append((friend_id, True))
            elif row["inserted"] == 2:
                done.append((friend_id, False))
        return name, done

    with _database_errors("Error while trying to add friends."):
        name, done = await _in_transaction(domain.pool, work)
    if not done:
        return
    content = {"username": name}
    await domain.notifier.send([
        NewNotification(
            user_id=friend_id, content=content, sender_id=user_id,
            subject=f"{name} accepted your friend request" if accepted
            else f"{name} wants to add you as a friend",
            code=CODE_FRIEND_ACCEPT if accepted else CODE_FRIEND_REQUEST, persistent=True)
        for friend_id, accepted in done])


# -- delete --------------------------------------------------------------------------------------

_DELETE = """
WITH gone AS (
    DELETE FROM user_edge
    WHERE (source_id = $1 AND destination_id = $2)
       OR (source_id = $2 AND destination_id = $1 AND state <> 3)
    RETURNING source_id, state
), counted AS (
    UPDATE users SET edge_count = edge_count - 1, update_time = now()
    WHERE id IN (SELECT source_id FROM gone)
    RETURNING id
)
SELECT coalesce(bool_or(state = 0), false) AS were_friends, (SELECT count(*) FROM counted) AS n
FROM gone
"""


async def delete_friends(domain: Domain, user_id: str, username: str | None, ids: list[str],
                         usernames: list[str]) -> None:
    """Remove the edges with the named users (both directions, except their blocks): unfriend,
    cancel or decline an invite, unblock. A removed friendship notifies the other user (-9)."""
    t = targets(user_id, username, ids, usernames, SELF_DELETE)
    if t.empty:
        return

    async def work(conn: asyncpg.Connection) -> tuple[str, list[str]]:
        name = username if username is not None else await _username(conn, user_id)
        removed = []
        for friend_id in await _resolve(conn, user_id, t):
            row = await conn.fetchrow(_DELETE, user_id, friend_id)
            if row["were_friends"]:
                removed.append(friend_id)
        return name, removed

    with _database_errors("Error while trying to delete friends."):
        name, removed = await _in_transaction(domain.pool, work)
    if removed:
        await domain.notifier.send([
            NewNotification(user_id=friend_id, subject=f"{name} removed you as a friend",
                            content={"username": name}, code=CODE_FRIEND_REMOVE,
                            sender_id=user_id, persistent=True)
            for friend_id in removed])


# -- block ---------------------------------------------------------------------------------------

_BLOCK = """
WITH mine AS (
    UPDATE user_edge SET state = 3, update_time = now()
    WHERE source_id = $1 AND destination_id = $2
    RETURNING source_id
), created AS (
    INSERT INTO user_edge (source_id, destination_id, state, position, update_time)
    SELECT $1::uuid, $2::uuid, 3::smallint, $3::bigint, now()
    WHERE NOT EXISTS (SELECT 1 FROM user_edge WHERE source_id = $1 AND destination_id = $2)
      AND EXISTS (SELECT 1 FROM users WHERE id = $2)
    ON CONFLICT DO NOTHING
    RETURNING source_id
), theirs AS (
    DELETE FROM user_edge WHERE source_id = $2 AND destination_id = $1 AND state <> 3
    RETURNING source_id
), counted AS (
    UPDATE users SET edge_count = edge_count + CASE WHEN id = $1 THEN 1 ELSE -1 END,
        update_time = now()
    WHERE id IN (SELECT source_id FROM created UNION ALL SELECT source_id FROM theirs)
    RETURNING id
)
SELECT (SELECT count(*) FROM mine) + (SELECT count(*) FROM created) AS blocked,
       (SELECT count(*) FROM counted) AS n
"""


async def block_friends(domain: Domain, user_id: str, username: str | None, ids: list[str],
                        usernames: list[str]) -> None:
    """Block the named users: your edge becomes (or is written as) a block, theirs is removed
    unless it is their own block. Users that do not exist are skipped."""
    t = targets(user_id, username, ids, usernames, SELF_BLOCK)
    if t.empty:
        return

    async def work(conn: asyncpg.Connection) -> None:
        found = await _resolve(conn, user_id, t)
        if not found and not t.ids:
            raise invalid(NO_TARGET)
        for friend_id in found:
            await conn.fetchrow(_BLOCK, user_id, friend_id, _position())

    with _database_errors("Error while trying to block friends."):
        await _in_transaction(domain.pool, work)


# -- metadata ------------------------------------------------------------------------------------


async def update_metadata(pool: asyncpg.Pool, user_id: str, friend_id: str,
                          metadata: str) -> None:
    """Replace the metadata of a user's edge to another (nothing when there is no edge)."""
    meta = check_metadata(metadata) or "{}"
    with _database_errors("Error while trying to update friend metadata."):
        await pool.execute(
            "UPDATE user_edge SET metadata = $3::jsonb WHERE source_id = $1 AND destination_id = $2",
            user_id, friend_id, meta)


# -- lists ---------------------------------------------------------------------------------------

_LIST = (f"SELECT {USER_COLUMNS}, e.state, e.position, e.update_time AS edge_update_time, "
         "e.metadata::text AS edge_metadata FROM user_edge e JOIN users u ON u.id = e.destination_id "
         "WHERE e.source_id = $1")

_INT64 = 2**63


def _list_position(cursor: str, state: int | None) -> tuple[int, int]:
    values = decode_cursor(cursor, INVALID_CURSOR)
    try:
        at_state, at_position = values
        if (type(at_state) is not int or not 0 <= at_state <= 3 or type(at_position) is not int
                or not -_INT64 <= at_position < _INT64):
            raise ValueError
    except (ValueError, TypeError):
        raise invalid(INVALID_CURSOR) from None
    if state is not None and state != at_state:
        raise invalid(INVALID_CURSOR)  # a cursor of another filter
    return at_state, at_position


async def list_friends(domain: Domain, user_id: str, limit: int, state: int | None,
                       cursor: str | None) -> FriendList:
    """One page of a user's edges (all, or those in `state`), in (state, position) order, and the
    cursor of the next page (None at the end). `limit` is checked by the caller."""
    check_state(state)
    after = _list_position(cursor, state) if cursor else None
    sql = _LIST
    args: list[Any] = [user_id]
    if state is not None:
        args.append(state)
        sql += f" AND e.state = ${len(args)}"
    if after is not None:
        args += list(after)
        sql += f" AND (e.state, e.position) >= (${len(args) - 1}::smallint, ${len(args)}::bigint)"
    args.append(limit + 1)
    sql += f" ORDER BY e.state, e.position LIMIT ${len(args)}"
    with _database_errors("Error while trying to list friends."):
        rows = await domain.pool.fetch(sql, *args)
    online = domain.sockets.is_online
    friends = [Friend(user_from_row(r, online(r["id"])), r["state"], r["edge_update_time"],
                      r["edge_metadata"]) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        nxt = rows[limit]
        next_cursor = encode_cursor([nxt["state"], nxt["position"]])
    return FriendList(friends, next_cursor)


_FOF = (f"SELECT e.source_id::text AS referrer, {USER_COLUMNS} "
        "FROM user_edge e JOIN users u ON u.id = e.destination_id "
        "WHERE e.source_id IN (SELECT destination_id FROM user_edge WHERE source_id = $1 AND state = 0) "
        "AND e.state = 0 AND e.destination_id <> $1 "
        "AND e.destination_id NOT IN (SELECT destination_id FROM user_edge WHERE source_id = $1 AND state = 0)")


def _fof_position(cursor: str) -> tuple[str, str]:
    values = decode_cursor(cursor, INVALID_CURSOR)
    try:
        source, destination = values
        return str(uuid.UUID(source)), str(uuid.UUID(destination))
    except (ValueError, TypeError, AttributeError):
        raise invalid(INVALID_CURSOR) from None


async def list_friends_of_friends(domain: Domain, user_id: str, limit: int,
                                  cursor: str | None) -> FriendsOfFriendsList:
    """The friends of a user's friends who are neither the user nor already friends, each with
    the friend who knows them (a user known through two friends appears twice, as in Nakama), in
    (friend id, user id) order, and the cursor of the next page (None at the end)."""
    args: list[Any] = [user_id]
    sql = _FOF
    if cursor:
        args += list(_fof_position(cursor))
        sql += " AND (e.source_id, e.destination_id) >= ($2::uuid, $3::uuid)"
    args.append(limit + 1)
    sql += f" ORDER BY e.source_id, e.destination_id LIMIT ${len(args)}"
    with _database_errors("Error while trying to list friends."):
        rows = await domain.pool.fetch(sql, *args)
    online = domain.sockets.is_online
    items = [FriendOfFriend(r["referrer"], user_from_row(r, online(r["id"])))
             for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        nxt = rows[limit]
        next_cursor = encode_cursor([nxt["referrer"], nxt["id"]])
    return FriendsOfFriendsList(items, next_cursor)


async def remove_user(conn: asyncpg.Connection, user_id: str) -> None:
    """Before a user is deleted (in the deleting transaction): every user with an edge to it
    loses that edge from its count. The edges themselves go with the user (ON DELETE CASCADE)."""
    await conn.execute(
        "UPDATE users SET edge_count = GREATEST(edge_count - 1, 0) "
        "WHERE id IN (SELECT source_id FROM user_edge WHERE destination_id = $1)", user_id)
