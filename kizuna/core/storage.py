"""The storage engine: JSON objects keyed by (collection, key, owner).

Rules, as Nakama's:
- a value is a JSON object; its version is the MD5 hex of the value exactly as sent;
- a write with version "" overwrites, "*" only creates, anything else must match the stored
  version (optimistic concurrency); a batch is one transaction: one rejection writes nothing;
- permission_read 0 (no client read), 1 (owner), 2 (public); permission_write 0 (no client
  write), 1 (owner); both default to 1;
- clients read their own objects with read >= 1 and anyone's with read 2; lists of another
  user's collection, and lists across owners, show public objects only.

`caller=None` means an authoritative (server-side) call: permissions are not enforced.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg

from kizuna.errors import Code, KizunaError, invalid
from kizuna.wire.fields import json_object
from kizuna.wire.paging import MALFORMED_CURSOR, decode_cursor, encode_cursor
from kizuna.wire.types import StorageAck, StorageObject, StorageObjectList

log = logging.getLogger("kizuna.storage")

SYSTEM_USER_ID = "00000000-0000-0000-0000-000000000000"
MAX_NAME = 128

REJECTED_VERSION = "Storage write rejected - version check failed."
REJECTED_PERMISSION = "Storage write rejected - permission denied."
REJECTED_DELETE = "Storage delete rejected - not found, version check failed, or permission denied."
INVALID_NAMES = "Invalid collection or key value supplied. They must be set."
INVALID_USER = "Invalid user ID - make sure user ID is a valid UUID."


@dataclass(frozen=True)
class WriteOp:
    collection: str
    key: str
    value: str
    user_id: str  # owner
    version: str = ""
    permission_read: int | None = None
    permission_write: int | None = None


@dataclass(frozen=True)
class ObjectId:
    collection: str
    key: str
    user_id: str = ""
    version: str = ""


def version_of(value: str) -> str:
    return hashlib.md5(value.encode()).hexdigest()


def _check_set(collection: str, key: str) -> None:
    if not collection or not key:
        raise invalid(INVALID_NAMES)


def _check_names(collection: str, key: str) -> None:
    """Names of an object to write: set, and no longer than the VARCHAR(128) columns. (Nakama
    lets a too-long name reach the database and answers 500; a client error is a 400 here.)"""
    _check_set(collection, key)
    if len(collection) > MAX_NAME:
        raise invalid(f"Invalid collection value supplied. It must be at most {MAX_NAME} characters.")
    if len(key) > MAX_NAME:
        raise invalid(f"Invalid key value supplied. It must be at most {MAX_NAME} characters.")


def validate_write(op: WriteOp) -> None:
    if not op.collection or not op.key or not op.value:
        raise invalid(INVALID_NAMES)
    _check_names(op.collection, op.key)
    if op.permission_read is not None and op.permission_read not in (0, 1, 2):
        raise invalid("Invalid Read permission supplied. It must be either 0, 1 or 2.")
    if op.permission_write is not None and op.permission_write not in (0, 1):
        raise invalid("Invalid Write permission supplied. It must be either 0 or 1.")
    json_object(op.value, "Value must be a JSON object.",
                "Value must not contain NUL characters.")


# A statement that failed, or a connection lost under it (terminated backend, restart): both are
# Nakama's Internal error with the operation's fixed text, logged in one line.
_DB_FAULTS = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError)


@contextmanager
def _database_errors(message: str) -> Iterator[None]:
    """Any other database failure is Nakama's Internal error with its fixed text."""
    try:
        yield
    except _DB_FAULTS as exc:
        log.error("%s %s", message, exc)
        raise KizunaError(Code.INTERNAL, message) from None


def _uuid(value: str, *, allow_nil: bool) -> str:
    try:
        parsed = str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise invalid(INVALID_USER) from None
    if not allow_nil and parsed == SYSTEM_USER_ID:
        raise invalid(INVALID_USER)
    return parsed


# -- write ---------------------------------------------------------------------------------------

_UPSERT = """
INSERT INTO storage AS s (collection, key, user_id, value, version, read, write, create_time, update_time)
VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, now(), now())
ON CONFLICT (collection, key, user_id) DO UPDATE
SET value = EXCLUDED.value, version = EXCLUDED.version, read = EXCLUDED.read,
    write = EXCLUDED.write, update_time = now()
WHERE ($8 OR s.write = 1)
  AND NOT (s.version = EXCLUDED.version AND s.read = EXCLUDED.read AND s.write = EXCLUDED.write)
RETURNING create_time, update_time
"""
# When the upsert changed nothing: the row as it stands (a refused write, or an unchanged one).
_CURRENT = """
SELECT write, create_time, update_time FROM storage
WHERE collection = $1 AND key = $2 AND user_id = $3
"""
_CREATE = """
INSERT INTO storage (collection, key, user_id, value, version, read, write, create_time, update_time)
VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, now(), now())
ON CONFLICT (collection, key, user_id) DO NOTHING
RETURNING create_time, update_time
"""
_IF_MATCH = """
UPDATE storage SET value = $4::jsonb, version = $5, read = $6, write = $7, update_time = now()
WHERE collection = $1 AND key = $2 AND user_id = $3 AND version = $8 AND ($9 OR write = 1)
RETURNING create_time, update_time
"""


async def write_objects(pool: asyncpg.Pool, ops: list[WriteOp], *, authoritative: bool = False) -> list[StorageAck]:
    """Write a batch atomically; acks come back in request order."""
    if not ops:
        return []
    for op in ops:
        validate_write(op)
    acks: list[StorageAck | None] = [None] * len(ops)
    order = sorted(range(len(ops)), key=lambda i: (ops[i].collection, ops[i].key, ops[i].user_id))
    try:
        async with pool.acquire() as conn, conn.transaction():
            for i in order:
                op = ops[i]
                new_version = version_of(op.value)
                read = 1 if op.permission_read is None else op.permission_read
                write = 1 if op.permission_write is None else op.permission_write
                base = (op.collection, op.key, op.user_id, op.value, new_version, read, write)
                if op.version == "":
                    row = await conn.fetchrow(_UPSERT, *base, authoritative)
                    if row is None:
                        # Either the owner may not write it, or it already holds this exact
                        # value and permissions: then, as Nakama, nothing is updated and the ack
                        # carries the stored times.
                        row = await conn.fetchrow(_CURRENT, op.collection, op.key, op.user_id)
                        if row is None or (row["write"] != 1 and not authoritative):
                            raise invalid(REJECTED_PERMISSION)
                elif op.version == "*":
                    row = await conn.fetchrow(_CREATE, *base)
                    if row is None:
                        raise invalid(REJECTED_VERSION)
                else:
                    row = await conn.fetchrow(_IF_MATCH, *base, op.version, authoritative)
                    if row is None:
                        stored = await conn.fetchval(_CURRENT, op.collection, op.key, op.user_id)
                        if stored is not None and stored != 1 and not authoritative:
                            raise invalid(REJECTED_PERMISSION)
                        raise invalid(REJECTED_VERSION)
                acks[i] = StorageAck(op.collection, op.key, new_version, op.user_id,
                              row["create_time"], row["update_time"])
    except asyncpg.ForeignKeyViolationError:
        raise KizunaError(Code.NOT_FOUND, "User account not found.") from None
    except asyncpg.UntranslatableCharacterError:
        raise invalid("Value must not contain NUL characters.") from None
    except _DB_FAULTS as exc:
        log.error("Error writing storage objects. %s", exc)
        raise KizunaError(Code.INTERNAL, "Error writing storage objects.") from None
    return [a for a in acks if a is not None]


# -- read ----------------------------------------------------------------------------------------

_COLUMNS = ("collection, key, user_id::text AS user_id, value::text AS value, version, "
            "read, write, create_time, update_time")


def _record(row: asyncpg.Record) -> StorageObject:
    return StorageObject(row["collection"], row["key"], row["user_id"], row["value"],
                         row["version"], row["read"], row["write"], row["create_time"],
                         row["update_time"])


# Which rows a caller may read: any for an authoritative call ($caller NULL), public ones, and
# its own readable ones.
_READABLE = "(${n}::uuid IS NULL OR s.read = 2 OR (s.read = 1 AND s.user_id = ${n}::uuid))"

# The shapes of a read, each a prepared statement whose *generic* plan is an index scan of
# storage_pkey per object. That matters: PostgreSQL builds a custom plan for each of the first
# five executions of a prepared statement and then keeps its generic plan only if that looks no
# dearer. A join to `unnest($1)` of array parameters gets the default estimate of 100 rows for
# the unnest in the generic plan (10-100x dearer than the custom plan, which sees the real array
# length), so such a statement is planned anew on every call, and planning (~0.2-0.35 ms) cost
# more than executing (~0.05-0.1 ms). One object has its own statement (a primary key lookup);
# 2..READ_FIXED_MAX objects a VALUES list of that many rows (the planner counts them exactly);
# larger batches keep the unnest join, where one plan is spread over many objects.
READ_FIXED_MAX = 16

_READ_ONE = (f"SELECT {_COLUMNS} FROM storage s "
             "WHERE s.collection = $1::text AND s.key = $2::text AND s.user_id = $3::uuid "
             f"AND {_READABLE.format(n=4)}")


def _read_values(count: int) -> str:
    rows = ", ".join(f"(${3 * i + 1}::text, ${3 * i + 2}::text, ${3 * i + 3}::uuid)"
                     for i in range(count))
    return (f"SELECT {_COLUMNS} FROM storage s JOIN (VALUES {rows}) AS q(c, k, u) "
            "ON s.collection = q.c AND s.key = q.k AND s.user_id = q.u "
            f"WHERE {_READABLE.format(n=3 * count + 1)} "
            "ORDER BY s.collection, s.key, s.user_id")


_READ_VALUES = {n: _read_values(n) for n in range(2, READ_FIXED_MAX + 1)}

_READ_MANY = (f"SELECT {_COLUMNS} FROM storage s "
              "JOIN unnest($1::text[], $2::text[], $3::uuid[]) AS q(c, k, u) "
              "ON s.collection = q.c AND s.key = q.k AND s.user_id = q.u "
              f"WHERE {_READABLE.format(n=4)} "
              "ORDER BY s.collection, s.key, s.user_id")


async def read_objects(pool: asyncpg.Pool, caller: str | None,
                       ids: list[ObjectId]) -> list[StorageObject]:
    """Objects the caller may read, in (collection, key, owner) order, each once; missing or
    unreadable ones are left out."""
    if not ids:
        return []
    wanted: dict[tuple[str, str, str], None] = {}  # distinct, in request order
    for oid in ids:
        _check_set(oid.collection, oid.key)  # a too-long name is simply not found, as in Nakama
        owner = _uuid(oid.user_id, allow_nil=False) if oid.user_id else SYSTEM_USER_ID
        wanted[(oid.collection, oid.key, owner)] = None
    with _database_errors("Error reading storage objects."):
        if len(wanted) == 1:
            (collection, key, owner), = wanted
            row = await pool.fetchrow(_READ_ONE, collection, key, owner, caller)
            return [] if row is None else [_record(row)]
        if len(wanted) <= READ_FIXED_MAX:
            args: list[Any] = [part for oid_key in wanted for part in oid_key]
            rows = await pool.fetch(_READ_VALUES[len(wanted)], *args, caller)
        else:
            rows = await pool.fetch(_READ_MANY, [c for c, _, _ in wanted],
                                    [k for _, k, _ in wanted], [u for _, _, u in wanted], caller)
    return [_record(r) for r in rows]


# -- list ----------------------------------------------------------------------------------------


def _position(cursor: str) -> tuple[int, str, str]:
    """The (read, key, owner) after which a page starts. Anything but a cursor this server
    made (a [int, str, uuid] that fits the columns) is malformed."""
    values = decode_cursor(cursor)
    try:
        read, key, user_id = values
        if (type(read) is not int or not 0 <= read <= 32767 or not isinstance(key, str)
                or "\x00" in key or not isinstance(user_id, str)):
            raise ValueError
        return read, key, str(uuid.UUID(user_id))
    except (ValueError, TypeError):
        raise invalid(MALFORMED_CURSOR) from None


async def list_objects(pool: asyncpg.Pool, caller: str | None, collection: str,
                       user_id: str | None, limit: int,
                       cursor: str | None) -> StorageObjectList:
    """One page of a collection, and the cursor of the next page (None at the end); `limit` is
    checked by the caller (kizuna.wire.paging).

    For a client: its own objects with read >= 1 when `user_id` is itself; another user's
    public objects; every owner's public objects when `user_id` is not given.
    """
    owner = _uuid(user_id, allow_nil=True) if user_id else None
    after = _position(cursor) if cursor else None
    conds = ["collection = $1"]
    args: list[Any] = [collection]
    if owner is not None:
        args.append(owner)
        conds.append(f"user_id = ${len(args)}")
    if caller is not None:
        conds.append("read >= 1" if owner == caller else "read = 2")
    if after is not None:
        args += list(after)
        n = len(args)
        conds.append(f"(read, key, user_id) > (${n - 2}::smallint, ${n - 1}, ${n}::uuid)")
    args.append(limit + 1)
    with _database_errors("Error listing storage objects."):
        rows = await pool.fetch(
            f"SELECT {_COLUMNS} FROM storage WHERE {' AND '.join(conds)} "
            f"ORDER BY read, key, user_id LIMIT ${len(args)}", *args)
    page = [_record(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor([last.permission_read, last.key, last.user_id])
    return StorageObjectList(page, next_cursor)


async def list_user_objects(pool: asyncpg.Pool, user_id: str) -> list[StorageObject]:
    """Every object a user owns, whatever its permissions (an account export)."""
    owner = _uuid(user_id, allow_nil=True)
    with _database_errors("Error listing storage objects."):
        rows = await pool.fetch(f"SELECT {_COLUMNS} FROM storage WHERE user_id = $1 "
                                "ORDER BY collection, key", owner)
    return [_record(r) for r in rows]


# -- delete --------------------------------------------------------------------------------------


async def delete_objects(pool: asyncpg.Pool, caller: str | None, ids: list[ObjectId]) -> None:
    """Delete a batch atomically. For a client every object must exist, be writable and match
    its version (if given); otherwise nothing is deleted."""
    if not ids:
        return
    for oid in ids:
        _check_set(oid.collection, oid.key)  # a too-long name is simply not found, as in Nakama
    order = sorted(ids, key=lambda o: (o.collection, o.key, o.user_id))
    with _database_errors("Error deleting storage objects."):
        await _delete(pool, caller, order)


async def _delete(pool: asyncpg.Pool, caller: str | None, order: list[ObjectId]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        for oid in order:
            owner = caller if caller is not None else (
                _uuid(oid.user_id, allow_nil=True) if oid.user_id else SYSTEM_USER_ID)
            status = await conn.execute(
                "DELETE FROM storage WHERE collection = $1 AND key = $2 AND user_id = $3 "
                "AND ($4 = '' OR version = $4) AND ($5 OR write > 0)",
                oid.collection, oid.key, owner, oid.version, caller is None)
            if status.endswith(" 0") and (caller is not None or oid.version):
                raise invalid(REJECTED_DELETE)
