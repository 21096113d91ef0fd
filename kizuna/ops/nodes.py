"""The node registry: which Kizuna nodes are alive, on which release, serving or draining.

Each node upserts a row in `kizuna_node` at start, refreshes `heartbeat_at` every few seconds,
marks itself `draining` when a shutdown begins and deletes its row when it stops cleanly. A node
is alive while its heartbeat is fresh (three intervals), so a crashed node drops out by itself.

Nodes of releases older than the registry cannot register; they are still found through
PostgreSQL's `pg_stat_activity`: every Kizuna connection is named `kizuna <node> [<version>]`.
`kizuna migrate up` uses both to refuse a contract migration while an older node still serves.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass

import asyncpg

log = logging.getLogger("kizuna.nodes")

HEARTBEAT_SEC = 5.0
ALIVE_SEC = 3 * HEARTBEAT_SEC
TABLE = "kizuna_node"


@dataclass(frozen=True)
class Node:
    name: str
    version: str
    state: str
    address: str
    seconds_since_heartbeat: float
    source: str  # "registry" or "connections"

    def describe(self) -> str:
        where = f" at {self.address}" if self.address else ""
        return f"{self.name} (Kizuna {self.version or 'unknown'}, {self.state}{where})"


async def _table_exists(conn: asyncpg.Connection | asyncpg.Pool) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", TABLE))


async def live_nodes(conn: asyncpg.Connection) -> list[Node]:
    """Registered nodes with a fresh heartbeat, plus Kizuna servers seen only by their
    connections (releases that predate the registry)."""
    nodes: dict[str, Node] = {}
    if await _table_exists(conn):
        for r in await conn.fetch(
                f"SELECT name, version, state, address, "
                f"extract(epoch FROM now() - heartbeat_at)::float AS age FROM {TABLE} "
                f"WHERE heartbeat_at > now() - make_interval(secs => $1)", ALIVE_SEC):
            nodes[r["name"]] = Node(r["name"], r["version"], r["state"], r["address"],
                                    r["age"], "registry")
    for r in await conn.fetch(
            "SELECT DISTINCT application_name AS app, host(client_addr) AS addr FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND application_name LIKE 'kizuna %' AND application_name NOT LIKE 'kizuna migrate%'"):
        parts = r["app"].split()
        name = parts[1] if len(parts) > 1 else "?"
        version = parts[2] if len(parts) > 2 else ""
        if name not in nodes:
            nodes[name] = Node(name, version, "serving", r["addr"] or "", 0.0, "connections")
    return sorted(nodes.values(), key=lambda n: n.name)


class Registry:
    """This node's row: registered at start, heartbeated, marked draining, removed at stop."""

    def __init__(self, pool: asyncpg.Pool, name: str, version: str, oldest: str, newest: str,
                 address: str = "") -> None:
        self.pool = pool
        self.name = name
        self.version = version
        self.oldest = oldest
        self.newest = newest
        self.address = address or socket.gethostname()
        self._task: asyncio.Task | None = None
        self.enabled = False

    async def start(self) -> None:
        if not await _table_exists(self.pool):
            log.warning("node registry table missing (run `kizuna migrate up`); this node is not "
                        "registered")
            return
        self.enabled = True
        await self._upsert("serving")
        self._task = asyncio.create_task(self._beat(), name="node-heartbeat")

    async def _upsert(self, state: str) -> None:
        await self.pool.execute(
            f"INSERT INTO {TABLE} (name, version, schema_oldest, schema_newest, address, state, "
            f"started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6, now(), now()) "
            f"ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, "
            f"schema_oldest = EXCLUDED.schema_oldest, schema_newest = EXCLUDED.schema_newest, "
            f"address = EXCLUDED.address, state = EXCLUDED.state, heartbeat_at = now()",
            self.name, self.version, self.oldest, self.newest, self.address, state)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SEC)
            try:
                await self.pool.execute(
                    f"UPDATE {TABLE} SET heartbeat_at = now() WHERE name = $1", self.name)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("node heartbeat failed", extra={"error": str(exc)})

    async def draining(self) -> None:
        if self.enabled:
            try:
                await self.pool.execute(f"UPDATE {TABLE} SET state = 'draining', heartbeat_at = now() "
                                        f"WHERE name = $1", self.name)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pass

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self.enabled:
            try:
                await self.pool.execute(f"DELETE FROM {TABLE} WHERE name = $1 AND version = $2",
                                        self.name, self.version)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pass


def contract_guard(conn: asyncpg.Connection, version: str):
    """The migrate Engine's `before_contract` hook: refuse while other releases still serve."""
    from kizuna.migrate.errors import MigrateError

    async def hook(m) -> None:
        others = [n for n in await live_nodes(conn) if n.version != version]
        if others:
            raise MigrateError(
                f"{m.id} is a contract migration, and nodes of other releases still serve this "
                f"database: {', '.join(n.describe() for n in others)}",
                "Upgrade those nodes to this release (or stop them: they drain on SIGTERM), then "
                "run `kizuna migrate up` again. The migrations before it were applied.",
                migration=m.id, nodes=[n.name for n in others])
    return hook
