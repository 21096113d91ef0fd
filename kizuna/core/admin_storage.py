"""Storage as the console's operator sees it: every object, whoever owns it, whatever its
permissions.

Reads and writes go through core/storage.py (the same validation, versions and write path as
clients and server code, with `authoritative=True`); what is here is what only an operator needs:
- the collection names, read by a loose index scan over the primary key (collection, key,
  user_id): one index probe per collection instead of a scan of every object;
- one page of objects of any owner, across collections or in one, with keyset pagination on an
  index (see `list_objects` for which index each filter uses), and a count that never scans more
  than COUNT_CAP rows;
- a single object by (collection, key, owner), and its delete, which say "not found" (404) when
  there is nothing to read or delete rather than succeeding silently.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from kizuna.core import storage
from kizuna.core.storage import INVALID_USER, REJECTED_VERSION, SYSTEM_USER_ID
from kizuna.errors import Code, KizunaError, invalid
from kizuna.wire.paging import MALFORMED_CURSOR, decode_cursor, encode_cursor
from kizuna.wire.types import StorageAck, StorageObject

COUNT_CAP = 10_000  # a page's total_count counts at most this many rows (then it is a floor)
NOT_FOUND = "Storage object not found."
REJECTED_DELETE_VERSION = "Storage delete rejected - version check failed."
KEY_NEEDS_COLLECTION = "A collection is required to filter by key."

_COLUMNS = ("collection, key, user_id::text AS user_id, value::text AS value, version, "
            "read, write, create_time, update_time")


def owner_id(value: str | None) -> str:
    """An owner as the console names it: a UUID; "" or None is the system owner (nil UUID)."""
    if not value:
        return SYSTEM_USER_ID
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise invalid(INVALID_USER) from None


def _record(row: asyncpg.Record) -> StorageObject:
    return StorageObject(row["collection"], row["key"], row["user_id"], row["value"],
                         row["version"], row["read"], row["write"], row["create_time"],
                         row["update_time"])


# -- collections ---------------------------------------------------------------------------------

# A loose index scan over storage_pkey: each step finds the first collection after the previous
# one with one index probe, so listing 20 collections of 10 million objects reads ~20 index
# entries, not 10 million rows (as SELECT DISTINCT would).
_COLLECTIONS = """
WITH RECURSIVE c(collection) AS (
    (SELECT collection FROM storage WHERE collection > $1 ORDER BY collection LIMIT 1)
    UNION ALL
    SELECT (SELECT s.collection FROM storage s WHERE s.collection > c.collection
            ORDER BY s.collection LIMIT 1)
    FROM c WHERE c.collection IS NOT NULL
)
SELECT collection FROM c WHERE collection IS NOT NULL LIMIT $2
"""


async def list_collections(pool: asyncpg.Pool, limit: int,
                           cursor: str | None) -> tuple[list[str], str | None]:
    """Collection names in order, `limit` per page, and the next page's cursor (None at the end)."""
    after = ""
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != 1 or not isinstance(values[0], str) or "\x00" in values[0]:
            raise invalid(MALFORMED_CURSOR)
        after = values[0]
    rows = await pool.fetch(_COLLECTIONS, after, limit + 1)
    names = [r["collection"] for r in rows]
    more = len(names) > limit
    names = names[:limit]
    return names, encode_cursor([names[-1]]) if more and names else None


# -- objects -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectPage:
    objects: list[StorageObject]
    next_cursor: str | None
    total_count: int
    total_exact: bool  # False: at least total_count (counting stopped at COUNT_CAP) or estimated


def _position(cursor: str) -> tuple[str, str, str, int]:
    """The (collection, key, owner, read) of the last object of the previous page."""
    values = decode_cursor(cursor)
    try:
        collection, key, user_id, read = values
        if (not isinstance(collection, str) or not isinstance(key, str)
                or "\x00" in collection + key or not isinstance(user_id, str)
                or type(read) is not int or not 0 <= read <= 32767):
            raise ValueError
        return collection, key, str(uuid.UUID(user_id)), read
    except (ValueError, TypeError):
        raise invalid(MALFORMED_CURSOR) from None


def _plan(collection: str | None, user_id: str | None,
          key: str | None) -> tuple[list[str], list[Any], list[str]]:
    """The filter (conditions, arguments) and the keyset order of a listing. Each order is an
    index's, after the filter's equality columns, so a page is one index range read:
    - nothing: storage_pkey (collection, key, user_id);
    - a collection: storage_pkey, by key then owner;
    - a collection and a key: storage_pkey, by owner;
    - a collection and an owner: collection_user_id_read_key_idx, by read permission then key;
    - an owner only: by collection then key (storage_user_id_idx and a sort of that owner's
      objects, or storage_pkey filtered, whichever PostgreSQL estimates cheaper for the owner).
    """
    conds: list[str] = []
    args: list[Any] = []
    if collection is not None:
        args.append(collection)
        conds.append(f"collection = ${len(args)}")
    if key is not None:
        args.append(key)
        conds.append(f"key = ${len(args)}")
    if user_id is not None:
        args.append(user_id)
        conds.append(f"user_id = ${len(args)}::uuid")
    if collection is None:
        order = ["collection", "key"] if user_id is not None else ["collection", "key", "user_id"]
    elif key is not None:
        order = ["user_id"]
    elif user_id is not None:
        order = ["read", "key"]
    else:
        order = ["key", "user_id"]
    return conds, args, order


_CASTS = {"collection": "::text", "key": "::text", "user_id": "::uuid", "read": "::smallint"}


async def list_objects(pool: asyncpg.Pool, collection: str | None, user_id: str | None,
                       key: str | None, limit: int, cursor: str | None) -> ObjectPage:
    """A page of objects of any owner and permission, filtered by collection, owner and exact key
    (a key needs a collection); `limit` is checked by the caller."""
    if key and not collection:
        raise invalid(KEY_NEEDS_COLLECTION)
    owner = owner_id(user_id) if user_id else None
    conds, args, order = _plan(collection or None, owner, key or None)
    # The table's columns (s.user_id is a uuid; the selected user_id is its text).
    columns = ", ".join(f"s.{col}" for col in order)
    where = list(conds)
    page_args = list(args)
    if cursor:
        c, k, u, r = _position(cursor)
        last = {"collection": c, "key": k, "user_id": u, "read": r}
        marks = []
        for col in order:
            page_args.append(last[col])
            marks.append(f"${len(page_args)}{_CASTS[col]}")
        where.append(f"({columns}) > ({', '.join(marks)})")
    page_args.append(limit + 1)
    sql = (f"SELECT {_COLUMNS} FROM storage s"
           + (" WHERE " + " AND ".join(where) if where else "")
           + f" ORDER BY {columns} LIMIT ${len(page_args)}")
    rows = await pool.fetch(sql, *page_args)
    objects = [_record(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        o = objects[-1]
        next_cursor = encode_cursor([o.collection, o.key, o.user_id, o.permission_read])
    total, exact = await _count(pool, conds, args, order)
    return ObjectPage(objects, next_cursor, total, exact)


async def _count(pool: asyncpg.Pool, conds: list[str], args: list[Any],
                 order: list[str]) -> tuple[int, bool]:
    """How many objects match, counting at most COUNT_CAP + 1 rows; past that, the whole
    table's planner estimate when nothing is filtered, else the cap (a floor). The listing's
    order makes PostgreSQL read the same index range and stop at the cap (without it, it may
    choose a bitmap scan that reads every entry of a large collection first)."""
    where = " WHERE " + " AND ".join(conds) if conds else ""
    n = await pool.fetchval(
        f"SELECT count(*) FROM (SELECT 1 FROM storage{where} ORDER BY {', '.join(order)} "
        f"LIMIT ${len(args) + 1}) t", *args, COUNT_CAP + 1)
    if n <= COUNT_CAP:
        return int(n), True
    if not conds:
        estimate = await pool.fetchval(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = 'storage'::regclass")
        if estimate is not None and estimate > COUNT_CAP:
            return int(estimate), False
    return COUNT_CAP, False


# -- one object ----------------------------------------------------------------------------------


def _read_id(collection: str, key: str, owner: str) -> storage.ObjectId:
    # core/storage.py names the system owner "" (a client may not name the nil UUID).
    return storage.ObjectId(collection, key, "" if owner == SYSTEM_USER_ID else owner)


async def get_object(pool: asyncpg.Pool, collection: str, key: str,
                     user_id: str | None) -> StorageObject:
    """One object, whatever its permissions; 404 when there is none."""
    owner = owner_id(user_id)
    found = await storage.read_objects(pool, None, [_read_id(collection, key, owner)])
    if not found:
        raise KizunaError(Code.NOT_FOUND, NOT_FOUND)
    return found[0]


async def write_object(pool: asyncpg.Pool, collection: str, key: str, user_id: str | None,
                       value: str, version: str, permission_read: int | None,
                       permission_write: int | None) -> StorageAck:
    """Write one object as server code does (permissions not enforced), through core/storage.py:
    version "" overwrites, "*" only creates, anything else must be the stored version. A version
    given for an object that does not exist is a 404 rather than a version error."""
    owner = owner_id(user_id)
    op = storage.WriteOp(collection, key, value, owner, version, permission_read,
                         permission_write)
    try:
        [ack] = await storage.write_objects(pool, [op], authoritative=True)
    except KizunaError as err:
        if err.message == REJECTED_VERSION and version not in ("", "*"):
            exists = await pool.fetchval(
                "SELECT true FROM storage WHERE collection = $1 AND key = $2 AND user_id = $3",
                collection, key, owner)
            if not exists:
                raise KizunaError(Code.NOT_FOUND, NOT_FOUND) from None
        raise
    return ack


async def delete_object(pool: asyncpg.Pool, collection: str, key: str, user_id: str | None,
                        version: str = "") -> None:
    """Delete one object (only at `version`, when given); 404 when there is none, code 3 when its
    version is another."""
    owner = owner_id(user_id)
    if not collection or not key:
        raise invalid(storage.INVALID_NAMES)
    deleted = await pool.fetchval(
        "WITH d AS (DELETE FROM storage WHERE collection = $1 AND key = $2 AND user_id = $3 "
        "AND ($4 = '' OR version = $4) RETURNING 1) SELECT count(*) FROM d",
        collection, key, owner, version)
    if deleted:
        return
    exists = await pool.fetchval(
        "SELECT true FROM storage WHERE collection = $1 AND key = $2 AND user_id = $3",
        collection, key, owner)
    if exists:
        raise invalid(REJECTED_DELETE_VERSION)
    raise KizunaError(Code.NOT_FOUND, NOT_FOUND)

