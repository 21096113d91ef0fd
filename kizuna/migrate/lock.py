"""The cluster lock every `kizuna migrate` process takes before touching the schema.

A session-level PostgreSQL advisory lock, taken with `pg_try_advisory_lock` in a polling loop
on the connection that then runs the migrations. Waiters never block inside
`pg_advisory_lock`: a blocked waiter holds a snapshot, and `CREATE INDEX CONCURRENTLY` run by the
holder would wait for it forever (the Flyway #1654 / golang-migrate #960 deadlock). Holding the lock
on the executing connection means a killed migrator keeps the lock until its backend has really
stopped, so a re-run can never overlap the statement it interrupted.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from kizuna.migrate.errors import MigrateError


def lock_key(namespace: str = "core") -> int:
    digest = hashlib.sha256(f"kizuna:migrate:{namespace}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass(frozen=True)
class Holder:
    pid: int
    application_name: str
    client: str
    since: str
    state: str
    query: str

    def describe(self) -> str:
        what = self.application_name or "an unnamed client"
        doing = f", running: {self.query[:120]}" if self.state == "active" and self.query else ""
        return f"{what} (backend pid {self.pid}, client {self.client or 'local'}, since {self.since}{doing})"


async def holder(conn: asyncpg.Connection, key: int) -> Holder | None:
    row = await conn.fetchrow(
        """
        SELECT a.pid, coalesce(a.application_name, '') AS app,
               coalesce(host(a.client_addr), '') AS client,
               to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS since,
               coalesce(a.state, '') AS state, coalesce(a.query, '') AS query
        FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.database = (
                SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid = (($1::bigint >> 32) & 4294967295)::oid
          AND l.objid = ($1::bigint & 4294967295)::oid AND l.objsubid = 1
        LIMIT 1
        """, key)
    if row is None:
        return None
    return Holder(row["pid"], row["app"], row["client"], row["since"], row["state"], row["query"])


async def acquire(conn: asyncpg.Connection, key: int, *, wait_sec: float,
                  on_wait: Callable[[Holder | None, float], Awaitable[None] | None] | None = None,
                  report_every: float = 5.0) -> None:
    """Poll for the lock; report the holder now and then; give up after `wait_sec`."""
    started = time.monotonic()
    delay = 0.05
    last_report = -report_every
    while True:
        if await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
            return
        waited = time.monotonic() - started
        if waited >= wait_sec:
            h = await holder(conn, key)
            who = h.describe() if h else "another process"
            raise MigrateError(
                f"gave up waiting for the migration lock after {waited:.0f}s: held by {who}",
                "Wait for that migration to finish, or raise --lock-wait. If its process is gone, "
                "the lock frees itself when its database connection closes.")
        if on_wait is not None and waited - last_report >= report_every:
            last_report = waited
            result = on_wait(await holder(conn, key), waited)
            if asyncio.iscoroutine(result):
                await result
        await asyncio.sleep(delay + random.uniform(0, delay / 2))
        delay = min(delay * 1.6, 1.0)


async def release(conn: asyncpg.Connection, key: int) -> None:
    if not conn.is_closed():
        await conn.fetchval("SELECT pg_advisory_unlock($1)", key)
