"""kizuna/cluster/replica.py on a real NATS server: two nodes' buses in one process, each owning
a part (a dict) that the other mirrors. Changes arrive in order; a change that never went out is
noticed (at the next change, or at the next heartbeat) and repaired by a snapshot; a node that
leaves is forgotten; a large part crosses in several messages."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kizuna import config as config_mod
from kizuna.cluster import embedded_nats
from kizuna.cluster.bus import Bus
from kizuna.cluster.replica import Replica


class Part:
    """A node's own items (key -> value) and its copies of the others' parts."""

    def __init__(self, bus: Bus, chunk: int = 50) -> None:
        self.mine: dict[str, Any] = {}
        self.copies: dict[str, dict[str, Any]] = {}
        self.forgotten: list[str] = []
        self.replica = Replica(bus, "tp", self, chunk=chunk)

    def set(self, key: str, value: Any) -> None:
        self.mine[key] = value
        self.replica.change(["+", key, value])

    def delete(self, key: str) -> None:
        del self.mine[key]
        self.replica.change(["-", key])

    def own_items(self) -> list[Any]:
        return [[k, v] for k, v in self.mine.items()]

    def apply(self, node: str, ops: list[Any]) -> None:
        copy = self.copies.setdefault(node, {})
        for op in ops:
            if op[0] == "+":
                copy[op[1]] = op[2]
            else:
                copy.pop(op[1], None)

    def replace(self, node: str, items: list[Any]) -> None:
        self.copies[node] = {k: v for k, v in items}

    def forget(self, node: str) -> None:
        self.copies.pop(node, None)
        self.forgotten.append(node)


@pytest.fixture
async def nodes() -> AsyncIterator[Callable[[str], Any]]:
    nats = embedded_nats.start()
    prefix = f"kzt{uuid.uuid4().hex[:8]}"
    buses: list[Bus] = []

    async def node(name: str, chunk: int = 50) -> tuple[Bus, Part]:
        cfg = config_mod.load(["--cluster.nats_url", nats.url, "--cluster.subject_prefix", prefix,
                               "--cluster.heartbeat_ms", "100",
                               "--cluster.node_timeout_ms", "800"], env={})
        bus = Bus(cfg, name)
        part = Part(bus, chunk)
        await bus.start()
        buses.append(bus)
        return bus, part

    try:
        yield node
    finally:
        for bus in buses:
            await bus.stop()
        nats.stop()


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_changes_arrive_and_gaps_are_repaired(nodes) -> None:
    _, a = await nodes("a")
    a.set("before", 1)  # made before b exists: b gets it by snapshot when it comes up
    await asyncio.sleep(0.05)
    _, b = await nodes("b")
    await until(lambda: b.copies.get("a") == {"before": 1} and a.replica.has("b"))

    for i in range(5):
        a.set(f"k{i}", i)
    a.delete("k0")
    await until(lambda: b.copies["a"] == a.mine)

    # A change lost on its way (never broadcast): the next change's number shows the gap,
    # and b asks for a snapshot.
    a.mine["lost"] = "x"
    a.replica.seq += 1
    a.set("after", 2)
    await until(lambda: b.copies["a"] == a.mine)
    assert b.copies["a"]["lost"] == "x"

    # Lost, and nothing follows: the heartbeat's number gives it away.
    a.mine["quiet"] = "y"
    a.replica.seq += 1
    await until(lambda: b.copies["a"].get("quiet") == "y", timeout=2)

    # b's own part reaches a too, in parts when it is large.
    for i in range(180):
        b.set(f"b{i}", i)
    await until(lambda: a.copies.get("b") == b.mine)
    a.copies["b"] = {}  # a snapshot of 180 items crosses in four messages of 50
    b.replica.send_snapshot("a")
    await until(lambda: a.copies["b"] == b.mine)


async def test_a_node_that_leaves_is_forgotten(nodes) -> None:
    _, a = await nodes("a")
    bus_b, b = await nodes("b")
    b.set("x", 1)
    await until(lambda: a.copies.get("b") == {"x": 1})
    await bus_b.stop()
    await until(lambda: "b" in a.forgotten)
    assert "b" not in a.copies
