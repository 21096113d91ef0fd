"""The migration journal: what is applied, how far a partial run got, and an audit log.

`kizuna_migration` has one row per applied (or partially applied) migration. `state` is
`applied`, `partial_up` (a no-transaction migration stopped after `statements_done` statements)
or `partial_down` (its down section stopped part-way). `kizuna_migration_log` keeps every
up, down and forced action with the Kizuna version and the host:pid that did it, including the
operator's `migrate resolve` verdicts (`resolve-applied`, `resolve-rolled-back`: who, when, what)
and downs forced past live nodes (`ignore-live-nodes`).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

TABLE = "kizuna_migration"
LOG_TABLE = "kizuna_migration_log"

BOOTSTRAP = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id              TEXT        PRIMARY KEY,
    checksum        TEXT        NOT NULL,
    state           TEXT        NOT NULL DEFAULT 'applied',
    statements_done INTEGER     NOT NULL DEFAULT 0,
    phase           TEXT        NOT NULL DEFAULT 'expand',
    applied_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    duration_ms     INTEGER     NOT NULL DEFAULT 0,
    kizuna_version  TEXT        NOT NULL DEFAULT '',
    applied_by      TEXT        NOT NULL DEFAULT '',
    schema_snapshot JSONB,
    CONSTRAINT {TABLE}_state_check CHECK (state IN ('applied', 'partial_up', 'partial_down'))
);
CREATE TABLE IF NOT EXISTS {LOG_TABLE} (
    seq            BIGSERIAL   PRIMARY KEY,
    at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    migration_id   TEXT        NOT NULL,
    action         TEXT        NOT NULL,
    kizuna_version TEXT        NOT NULL,
    actor          TEXT        NOT NULL,
    detail         TEXT        NOT NULL DEFAULT ''
);
"""


def actor() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def operator() -> str:
    """The operating-system user running this command (for the audit log)."""
    try:
        import getpass

        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no passwd entry (some containers)
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


RESOLVE_ACTIONS = ("resolve-applied", "resolve-rolled-back")


@dataclass(frozen=True)
class Resolution:
    """The last `migrate resolve` of a migration, when nothing ran on it since."""
    action: str
    at: datetime
    actor: str
    detail: str

    @property
    def outcome(self) -> str:
        return self.action.removeprefix("resolve-").replace("-", " ")

    def describe(self) -> str:
        return (f"resolved by hand as {self.outcome} at {self.at:%Y-%m-%d %H:%M:%S} UTC "
                f"by {self.actor}")


@dataclass(frozen=True)
class Applied:
    id: str
    checksum: str
    state: str
    statements_done: int
    phase: str
    applied_at: datetime
    duration_ms: int
    kizuna_version: str
    applied_by: str


async def exists(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", TABLE))


async def bootstrap(conn: asyncpg.Connection) -> None:
    await conn.execute(BOOTSTRAP)


async def read(conn: asyncpg.Connection) -> dict[str, Applied]:
    if not await exists(conn):
        return {}
    rows = await conn.fetch(
        f"SELECT id, checksum, state, statements_done, phase, applied_at, duration_ms, "
        f"kizuna_version, applied_by FROM {TABLE} ORDER BY id")
    return {r["id"]: Applied(**dict(r)) for r in rows}


async def begin_partial(conn: asyncpg.Connection, mid: str, checksum: str, phase: str,
                        version: str, state: str) -> None:
    await conn.execute(
        f"INSERT INTO {TABLE} (id, checksum, state, statements_done, phase, kizuna_version, applied_by) "
        f"VALUES ($1, $2, $3, 0, $4, $5, $6) "
        f"ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, statements_done = 0",
        mid, checksum, state, phase, version, actor())


async def set_progress(conn: asyncpg.Connection, mid: str, done: int) -> None:
    await conn.execute(f"UPDATE {TABLE} SET statements_done = $2 WHERE id = $1", mid, done)


async def mark_applied(conn: asyncpg.Connection, mid: str, checksum: str, phase: str,
                       version: str, duration_ms: int, snapshot: Any) -> None:
    await conn.execute(
        f"INSERT INTO {TABLE} (id, checksum, state, statements_done, phase, applied_at, duration_ms, "
        f"kizuna_version, applied_by, schema_snapshot) "
        f"VALUES ($1, $2, 'applied', 0, $3, now(), $4, $5, $6, $7::jsonb) "
        f"ON CONFLICT (id) DO UPDATE SET state = 'applied', statements_done = 0, applied_at = now(), "
        f"duration_ms = EXCLUDED.duration_ms, kizuna_version = EXCLUDED.kizuna_version, "
        f"applied_by = EXCLUDED.applied_by, schema_snapshot = EXCLUDED.schema_snapshot, "
        f"checksum = EXCLUDED.checksum",
        mid, checksum, phase, duration_ms, version, actor(), orjson.dumps(snapshot).decode())


async def remove(conn: asyncpg.Connection, mid: str) -> None:
    await conn.execute(f"DELETE FROM {TABLE} WHERE id = $1", mid)


async def log(conn: asyncpg.Connection, mid: str, action: str, version: str, detail: str = "") -> None:
    await conn.execute(
        f"INSERT INTO {LOG_TABLE} (migration_id, action, kizuna_version, actor, detail) "
        f"VALUES ($1, $2, $3, $4, $5)", mid, action, version, actor(), detail)


async def snapshot_of(conn: asyncpg.Connection, mid: str) -> Any | None:
    raw = await conn.fetchval(f"SELECT schema_snapshot FROM {TABLE} WHERE id = $1", mid)
    return None if raw is None else orjson.loads(raw)


async def resolutions(conn: asyncpg.Connection) -> dict[str, Resolution]:
    """Migrations whose latest journal action is a `migrate resolve` verdict."""
    if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", LOG_TABLE):
        return {}
    rows = await conn.fetch(
        f"SELECT DISTINCT ON (migration_id) migration_id, action, at AT TIME ZONE 'UTC' AS at, "
        f"actor, detail FROM {LOG_TABLE} ORDER BY migration_id, seq DESC")
    return {r["migration_id"]: Resolution(r["action"], r["at"], r["actor"], r["detail"])
            for r in rows if r["action"] in RESOLVE_ACTIONS}
