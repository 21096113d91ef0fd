"""The node registry: which Kizuna nodes are alive, on which release, serving or draining.

Each node process registers one row in `kizuna_node` at start, refreshes `heartbeat_at` every
HEARTBEAT_SEC (5 s), marks itself `draining` when a shutdown begins and deletes its row when it
stops cleanly.

Identity: a row belongs to one process, not to a node name. Its key (the `name` column) is
`<name>/<instance>`, the configured node name and an instance id drawn at each start, so two
processes given the same name (a mistake, or a restart that overlaps the old process) keep a row
each, and the one that stops deletes only its own. `Node.name` is the configured name,
`Node.instance` the instance id.

Liveness: a node is live while its heartbeat is younger than ALIVE_SEC, LIVE_INTERVALS (3)
heartbeat intervals (15 s). A row older than that (a killed or crashed node, a machine gone)
is not live, and is deleted by the next node that heartbeats or starts, or by the next
`live_nodes()` call (migrate up/down/status, restore): no row outlives its node for long, so no
later downgrade finds rows to lose in `kizuna_node`. A live node whose heartbeat was late (a
database outage) registers again on its next heartbeat.

Nodes of releases older than the registry cannot register; they are still found through
PostgreSQL's `pg_stat_activity`: every Kizuna connection is named `kizuna <node> [<version>]`.
`kizuna migrate up` uses both to refuse a contract migration while an older node still serves.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from kizuna.ops.nodestats import NodeStats

log = logging.getLogger("kizuna.nodes")

HEARTBEAT_SEC = 5.0
LIVE_INTERVALS = 3
ALIVE_SEC = LIVE_INTERVALS * HEARTBEAT_SEC
# Rows whose heartbeat is older than this are deleted (by any node, or any live_nodes() call).
EXPIRE_SEC = ALIVE_SEC
TABLE = "kizuna_node"
KEY_SEPARATOR = "/"  # node names are letters, digits, '-' and '_': never a '/'

_DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


@dataclass(frozen=True)
class Node:
    name: str
    version: str
    state: str
    address: str
    seconds_since_heartbeat: float
    source: str  # "registry" or "connections"
    instance: str = ""  # the process's instance id ("" when seen by its connections only)
    schema_newest: str = ""  # the newest schema its release serves, as it registered it

    def describe(self) -> str:
        where = f" at {self.address}" if self.address else ""
        which = f", instance {self.instance}" if self.instance else ""
        return f"{self.name} (Kizuna {self.version or 'unknown'}, {self.state}{where}{which})"


def row_key(name: str, instance: str) -> str:
    """The `kizuna_node.name` value of a node process: `<name>/<instance>`."""
    return f"{name}{KEY_SEPARATOR}{instance}"


def split_key(key: str) -> tuple[str, str]:
    """(name, instance) of a `kizuna_node.name` value; instance "" for a bare name."""
    name, _, instance = key.partition(KEY_SEPARATOR)
    return name, instance


def new_instance_id() -> str:
    return uuid.uuid4().hex[:12]


async def _table_exists(conn: asyncpg.Connection | asyncpg.Pool) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", TABLE))


async def expire_stale(conn: asyncpg.Connection | asyncpg.Pool) -> int:
    """Delete the rows of nodes whose heartbeat is older than EXPIRE_SEC; how many went.
    Never fails: inside a caller's transaction it runs in a savepoint, and an error (a read-only
    role, a missing table) just leaves the rows, which `live_nodes` ignores anyway."""
    try:
        if isinstance(conn, asyncpg.Pool):
            status = await conn.execute(
                f"DELETE FROM {TABLE} WHERE heartbeat_at < now() - make_interval(secs => $1)",
                EXPIRE_SEC)
        else:
            async with conn.transaction():
                status = await conn.execute(
                    f"DELETE FROM {TABLE} WHERE heartbeat_at < now() - make_interval(secs => $1)",
                    EXPIRE_SEC)
    except _DB_ERRORS as exc:
        log.debug("could not expire stale node rows: %s", exc)
        return 0
    n = int(status.split()[-1]) if status.startswith("DELETE") else 0
    if n:
        log.info("Removed stale node registry rows", extra={"count": n, "older_than_sec": EXPIRE_SEC})
    return n


async def live_nodes(conn: asyncpg.Connection, *, expire: bool = True) -> list[Node]:
    """Registered nodes with a fresh heartbeat (younger than ALIVE_SEC), one per process, plus
    Kizuna servers seen only by their connections (releases that predate the registry). With
    `expire` (the default), rows past EXPIRE_SEC are deleted first (`expire_stale`)."""
    nodes: dict[str, Node] = {}
    registered_names: set[str] = set()
    if await _table_exists(conn):
        if expire:
            await expire_stale(conn)
        for r in await conn.fetch(
                f"SELECT name, version, state, address, schema_newest, "
                f"extract(epoch FROM now() - heartbeat_at)::float AS age FROM {TABLE} "
                f"WHERE heartbeat_at > now() - make_interval(secs => $1)", ALIVE_SEC):
            name, instance = split_key(r["name"])
            registered_names.add(name)
            nodes[r["name"]] = Node(name, r["version"], r["state"], r["address"], r["age"],
                                    "registry", instance, r["schema_newest"])
    for r in await conn.fetch(
            "SELECT DISTINCT application_name AS app, host(client_addr) AS addr FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND application_name LIKE 'kizuna %' AND application_name NOT LIKE 'kizuna migrate%'"):
        parts = r["app"].split()
        name = parts[1] if len(parts) > 1 else "?"
        version = parts[2] if len(parts) > 2 else ""
        if name not in registered_names and name not in nodes:
            nodes[name] = Node(name, version, "serving", r["addr"] or "", 0.0, "connections")
    return sorted(nodes.values(), key=lambda n: (n.name, n.instance))


@dataclass(frozen=True)
class NodeRow:
    """A registered node with everything it reports (the console's status page)."""
    name: str
    instance: str
    version: str
    state: str
    address: str
    schema_oldest: str
    schema_newest: str
    started_at: Any
    seconds_since_heartbeat: float
    stats: dict[str, Any]


async def node_rows(conn: asyncpg.Connection | asyncpg.Pool) -> list[NodeRow]:
    """Every live registered node with its reported stats (empty before 0011_console)."""
    if not await _table_exists(conn):
        return []
    has_stats = bool(await conn.fetchval(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = $1 AND column_name = 'stats'", TABLE))
    rows = await conn.fetch(
        f"SELECT name, version, state, address, schema_oldest, schema_newest, started_at, "
        f"{'stats' if has_stats else chr(39) + '{}' + chr(39) + '::jsonb AS stats'}, "
        f"extract(epoch FROM now() - heartbeat_at)::float AS age FROM {TABLE} "
        f"WHERE heartbeat_at > now() - make_interval(secs => $1) ORDER BY name", ALIVE_SEC)
    out = []
    for r in rows:
        name, instance = split_key(r["name"])
        stats = r["stats"]
        out.append(NodeRow(name, instance, r["version"], r["state"], r["address"],
                           r["schema_oldest"], r["schema_newest"], r["started_at"], r["age"],
                           orjson.loads(stats) if isinstance(stats, str) else dict(stats or {})))
    return out


class Registry:
    """This process's row: registered at start, heartbeated, marked draining, removed at stop."""

    def __init__(self, pool: asyncpg.Pool, name: str, version: str, oldest: str, newest: str,
                 address: str = "", instance: str | None = None,
                 stats: NodeStats | None = None) -> None:
        self.pool = pool
        self.stats = stats  # what the console's status page shows of this node (0011_console)
        self._has_stats: bool | None = None  # whether kizuna_node.stats exists (checked per beat until it does)
        self.name = name
        self.instance = instance or new_instance_id()
        self.key = row_key(name, self.instance)
        self.version = version
        self.oldest = oldest
        self.newest = newest
        self.address = address or socket.gethostname()
        self.state = "serving"
        self._task: asyncio.Task | None = None
        self.enabled = False

    async def start(self) -> None:
        if not await _table_exists(self.pool):
            log.warning("node registry table missing (run `kizuna migrate up`); this node is not "
                        "registered")
            return
        self.enabled = True
        await expire_stale(self.pool)
        # Registered processes only: this node's own pool connections already carry its name
        # (`kizuna <name> <version>`), so a node seen by its connections alone may be itself.
        twins = [n for n in await self._live() if n.name == self.name and n.source == "registry"]
        if twins:
            log.warning("Another live node uses this node's name: node names must be unique in "
                        "a cluster (each process keeps its own registry row)",
                        extra={"node": self.name, "others": [n.describe() for n in twins]})
        await self._upsert()
        log.info("Registered in the node registry", extra={
            "node": self.name, "instance": self.instance, "heartbeat_sec": HEARTBEAT_SEC})
        self._task = asyncio.create_task(self._beat(), name="node-heartbeat")

    async def _live(self) -> list[Node]:
        async with self.pool.acquire() as conn:
            return await live_nodes(conn, expire=False)

    async def _upsert(self) -> None:
        await self.pool.execute(
            f"INSERT INTO {TABLE} (name, version, schema_oldest, schema_newest, address, state, "
            f"started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6, now(), now()) "
            f"ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, "
            f"schema_oldest = EXCLUDED.schema_oldest, schema_newest = EXCLUDED.schema_newest, "
            f"address = EXCLUDED.address, state = EXCLUDED.state, heartbeat_at = now()",
            self.key, self.version, self.oldest, self.newest, self.address, self.state)

    async def heartbeat(self) -> None:
        """One beat: refresh this row (registering again if it expired while the database was
        out of reach) and delete the rows of nodes that stopped beating."""
        if self.stats is not None and await self._stats_column():
            status = await self.pool.execute(
                f"UPDATE {TABLE} SET heartbeat_at = now(), stats = $2::jsonb WHERE name = $1",
                self.key, orjson.dumps(self.stats.snapshot()).decode())
            await self._merge_clients()
        else:
            status = await self.pool.execute(
                f"UPDATE {TABLE} SET heartbeat_at = now() WHERE name = $1", self.key)
        if status == "UPDATE 0":
            log.warning("This node's registry row had expired (heartbeats failed for longer than "
                        f"{EXPIRE_SEC:g} s): registering again", extra={"node": self.name})
            await self._upsert()
        await expire_stale(self.pool)

    async def _stats_column(self) -> bool:
        """Whether the registry has the `stats` column (0011_console): a node of this release
        may serve a schema before it, and see it appear when `migrate up` runs."""
        if not self._has_stats:
            self._has_stats = bool(await self.pool.fetchval(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = $1 AND column_name = 'stats'", TABLE))
        return self._has_stats

    async def _merge_clients(self) -> None:
        """Add the client SDKs seen since the last beat to kizuna_client_seen."""
        assert self.stats is not None
        clients = self.stats.take_clients()
        if not clients:
            return
        rows = [(sdk, version, agent, count) for (sdk, version), (count, agent) in clients.items()]
        await self.pool.executemany(
            "INSERT INTO kizuna_client_seen AS c (sdk, version, user_agent, requests) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (sdk, version) DO UPDATE SET "
            "last_seen = now(), requests = c.requests + EXCLUDED.requests, "
            "user_agent = EXCLUDED.user_agent", rows)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SEC)
            try:
                await self.heartbeat()
            except _DB_ERRORS as exc:
                log.warning("node heartbeat failed", extra={"error": str(exc)})

    async def draining(self) -> None:
        self.state = "draining"
        if self.enabled:
            try:
                await self.pool.execute(f"UPDATE {TABLE} SET state = 'draining', heartbeat_at = now() "
                                        f"WHERE name = $1", self.key)
            except _DB_ERRORS:
                pass

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self.enabled:
            try:
                await self.pool.execute(f"DELETE FROM {TABLE} WHERE name = $1", self.key)
            except _DB_ERRORS:
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
