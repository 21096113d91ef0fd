"""One PostgreSQL LISTEN connection per node, for every channel the domain listens on.

Session revocations (core/sessions.py) and leaderboard events (core/leaderboards.py) arrive by
NOTIFY. NOTIFY is only delivered to a connection that is listening when it is sent: when the
database drops the listening connection (a failover, `pg_terminate_backend`), what was sent until
it listens again is lost. So each consumer keeps a way to catch up (sessions poll the table,
leaderboards reload), and the listener tells them when to: `generation` counts the connections it
has listened on, and a consumer that sees it change catches up. The loss is noticed at once (the
connection's termination callback wakes every consumer through `on_lost`) or at the latest by the
next `check()` a consumer makes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

log = logging.getLogger("kizuna.listener")

_DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


class Listener:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.channels: dict[str, Callable[[Any, int, str, str], None]] = {}
        self.on_lost: list[Callable[[], None]] = []
        self.generation = 0  # connections listened on so far; a change means "catch up"
        self._conn: Any = None
        self._lock = asyncio.Lock()  # consumers check at the same moment: one reconnects

    def subscribe(self, channel: str, callback: Callable[[Any, int, str, str], None]) -> None:
        """Listen on `channel` (from the next connection on, or at `start`)."""
        self.channels[channel] = callback

    @property
    def listening(self) -> bool:
        conn = self._conn
        if conn is None:
            return False
        try:
            return not conn.is_closed()
        except asyncpg.InterfaceError:  # the pool took the lost connection back already
            return False

    async def start(self) -> None:
        async with self._lock:
            if not self.listening:
                await self._listen()

    async def stop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        for channel, callback in self.channels.items():
            with contextlib.suppress(*_DB_ERRORS):
                await conn.remove_listener(channel, callback)
        await self._discard(conn)

    async def check(self) -> None:
        """Listen again if the connection is gone (a consumer then sees `generation` change)."""
        async with self._lock:
            if not self.listening:
                await self._relisten()

    async def _relisten(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            log.warning("database listener lost; listening again")
            await self._discard(conn)
            # Whatever dropped this connection (a failover, pg_terminate_backend) most likely
            # dropped the idle pooled ones too: have the pool replace them all on next use.
            await self.pool.expire_connections()
        await self._listen()

    async def _listen(self) -> None:
        """Take a dedicated connection out of the pool and LISTEN on every channel. Idle pooled
        connections may be dead too (the pool finds out on use): try a few."""
        for _ in range(4):
            try:
                conn = await self.pool.acquire()
            except _DB_ERRORS as exc:
                log.warning("database listener: no connection", extra={"error": str(exc)})
                return
            try:
                for channel, callback in self.channels.items():
                    await conn.add_listener(channel, callback)
                conn.add_termination_listener(self._lost)
            except _DB_ERRORS as exc:
                log.debug("database listener: connection unusable", extra={"error": str(exc)})
                await self._discard(conn)
                continue
            self._conn = conn
            self.generation += 1
            return

    def _lost(self, conn: Any) -> None:
        for fn in self.on_lost:
            fn()

    async def _discard(self, conn: Any) -> None:
        """Give a broken listening connection back to the pool, which replaces it."""
        with contextlib.suppress(Exception):
            conn.terminate()
        with contextlib.suppress(Exception):
            await self.pool.release(conn)
