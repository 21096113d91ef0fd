"""Status following: which users a player may follow to see their online status.

A follow names users by id or username. Unknown users are silently dropped (a client may follow a
list that includes deleted friends), as are the caller and the system user; a malformed id is an
error. Who is online, and with which status, is presence: the realtime layer's business.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from kizuna.core.streams import NIL_UUID
from kizuna.errors import invalid


def parse_user_ids(values: Any) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list):
        raise invalid("Invalid user identifier")
    out = []
    for v in values:
        try:
            out.append(str(uuid.UUID(v)))
        except (ValueError, AttributeError, TypeError):
            raise invalid("Invalid user identifier") from None
    return out


def parse_usernames(values: Any) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise invalid("Invalid username")
    return list(values)


async def followable(pool: asyncpg.Pool, caller_id: str, caller_username: str,
                     user_ids: list[str], usernames: list[str]) -> list[str]:
    """The ids of the existing users among those named, without the caller and the system user."""
    ids = sorted({u for u in user_ids if u != caller_id})
    names = sorted({n for n in usernames if n != caller_username})
    if not ids and not names:
        return []
    rows = await pool.fetch(
        "SELECT id::text AS id FROM users WHERE id = ANY($1::uuid[]) OR username = ANY($2::text[])",
        ids, names)
    return [r["id"] for r in rows if r["id"] not in (caller_id, NIL_UUID)]
