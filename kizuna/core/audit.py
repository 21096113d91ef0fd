"""The console's audit log: who changed what, through the console (console_audit_log)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from kizuna.errors import invalid
from kizuna.wire.paging import MALFORMED_CURSOR, decode_cursor, encode_cursor

MAX_MESSAGE = 2000


@dataclass(frozen=True)
class AuditEntry:
    id: str
    create_time: dt.datetime
    username: str
    action: str
    resource: str
    message: str
    metadata: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "create_time": self.create_time.isoformat(),
                "username": self.username, "action": self.action, "resource": self.resource,
                "message": self.message, "metadata": self.metadata}


async def record(pool: asyncpg.Pool, username: str, action: str, resource: str, message: str,
                 metadata: dict[str, Any] | None = None) -> str:
    """Append one entry; returns its id."""
    entry_id = str(uuid.uuid4())
    await pool.execute(
        "INSERT INTO console_audit_log (id, console_username, action, resource, message, metadata) "
        "VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
        entry_id, username, action, resource, message[:MAX_MESSAGE],
        orjson.dumps(metadata or {}).decode())
    return entry_id


async def list_entries(pool: asyncpg.Pool, limit: int, cursor: str | None = None,
                       username: str | None = None) -> tuple[list[AuditEntry], str | None]:
    """Newest first, `limit` per page (keyset on create_time, id: index-backed)."""
    args: list[Any] = []
    where = []
    if cursor:
        when, last_id = _position(cursor)
        args += [when, last_id]
        where.append(f"(create_time, id) < (${len(args) - 1}, ${len(args)}::uuid)")
    if username:
        args.append(username)
        where.append(f"console_username = ${len(args)}")
    args.append(limit + 1)
    sql = ("SELECT id, create_time, console_username, action, resource, message, metadata "
           "FROM console_audit_log" + (" WHERE " + " AND ".join(where) if where else "")
           + f" ORDER BY create_time DESC, id DESC LIMIT ${len(args)}")
    rows = await pool.fetch(sql, *args)
    entries = [AuditEntry(str(r["id"]), r["create_time"], r["console_username"], r["action"],
                          r["resource"], r["message"],
                          orjson.loads(r["metadata"]) if r["metadata"] else {})
               for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = entries[-1]
        next_cursor = encode_cursor([last.create_time.isoformat(), last.id])
    return entries, next_cursor


def _position(cursor: str) -> tuple[dt.datetime, str]:
    values = decode_cursor(cursor)
    try:
        when = dt.datetime.fromisoformat(values[0])
        uuid.UUID(values[1])
        return when, str(values[1])
    except (IndexError, TypeError, ValueError):
        raise invalid(MALFORMED_CURSOR) from None
