"""Users as other areas show them: the columns to select and the `User` record they make.

Every area that lists users (accounts, friends, groups) selects `USER_COLUMNS` from `users u` and
builds the record with `user_from_row`, so a user looks the same wherever it appears.
"""

from __future__ import annotations

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
