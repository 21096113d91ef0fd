"""Users as other areas show them: the columns to select and the `User` record they make.

Every area that lists users (accounts, friends, groups) selects `USER_COLUMNS` from `users u` and
builds the record with `user_from_row`, so a user looks the same wherever it appears.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import asyncpg

from kizuna.wire.types import User

SYSTEM_USER_ID = "00000000-0000-0000-0000-000000000000"

USER_COLUMNS = (
    "u.id::text AS id, u.username, u.display_name, u.avatar_url, u.lang_tag, u.location, "
    "u.timezone, u.metadata::text AS metadata, u.facebook_id, u.google_id, u.gamecenter_id, "
    "u.steam_id, u.facebook_instant_game_id, u.apple_id, u.edge_count, u.create_time, "
    "u.update_time")


def user_from_row(row: asyncpg.Record, online: bool) -> User:
    """A `User` from a row selected with USER_COLUMNS (any area that lists users uses it)."""
    return User(
        id=row["id"], username=row["username"], display_name=row["display_name"],
        avatar_url=row["avatar_url"], lang_tag=row["lang_tag"], location=row["location"],
        timezone=row["timezone"], metadata=row["metadata"], facebook_id=row["facebook_id"],
        google_id=row["google_id"], gamecenter_id=row["gamecenter_id"], steam_id=row["steam_id"],
        facebook_instant_game_id=row["facebook_instant_game_id"], apple_id=row["apple_id"],
        edge_count=row["edge_count"], create_time=row["create_time"],
        update_time=row["update_time"], online=online)


MAX_RANDOM_USERS = 1000

_RANDOM_USERS = (
    f"SELECT {USER_COLUMNS} FROM users u WHERE u.id > $1::uuid "
    "AND (u.disable_time IS NULL OR u.disable_time <= 'epoch'::timestamptz) "
    "ORDER BY u.id LIMIT $2")


async def random_users(pool: asyncpg.Pool, count: int,
                       online: Callable[[str], bool]) -> list[User]:
    """Up to `count` users picked at random, as Nakama's GetRandomUsers: the users whose ids follow
    a random UUID, then, when that runs short, the first ones from the start of the id order (no
    user twice). Never the system user (ids start after the nil UUID) nor a disabled account.
    `count` is checked by the caller (0-MAX_RANDOM_USERS)."""
    if count <= 0:
        return []
    rows = list(await pool.fetch(_RANDOM_USERS, str(uuid.uuid4()), count))
    if len(rows) < count:
        seen = {r["id"] for r in rows}
        for r in await pool.fetch(_RANDOM_USERS, SYSTEM_USER_ID, count):
            if len(rows) >= count:
                break
            if r["id"] not in seen:
                rows.append(r)
    return [user_from_row(r, online(r["id"])) for r in rows]
