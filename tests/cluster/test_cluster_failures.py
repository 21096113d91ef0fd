"""A cluster losing a node, and losing NATS: players on the surviving nodes see the dead node's
users leave (status followers, chat rooms, getUsers offline) within a bounded time, and go on
playing; a NATS restart is survived (nodes reconnect and re-synchronise presences, including
changes made while NATS was down)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.cluster.conftest import HEARTBEAT_MS, NODE_TIMEOUT_MS, Cluster
from tests.integration.test_realtime import World

pytestmark = pytest.mark.timeout(120)


class Node(World):
    """Players and sockets against one node of the cluster."""


async def _online(api_node: Node, viewer_token: str, uid: str) -> bool:
    async with api_node.http.get(f"{api_node.server.url}/v2/user", params={"ids": uid},
                                 headers={"Authorization": f"Bearer {viewer_token}"}) as r:
        body = await r.json()
        return bool(body["users"][0].get("online"))


async def _until(pred, timeout: float, what: str) -> float:
    """Wait until `pred()` (a coroutine function) is true; seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await pred():
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {what}")


async def test_a_killed_node_disappears_from_every_presence_list(cluster_factory, capsys) -> None:
    cluster: Cluster = cluster_factory(3)
    async with aiohttp.ClientSession() as http:
        n1, n2, n3 = (Node(node, http) for node in cluster.nodes)
        alice, bob, carol = await n1.player(), await n2.player(), await n3.player()
        a = await n1.connect(alice, status=True)
        k = await n3.connect(carol, status=True)
        b = await n2.connect(bob)
        r = await b.request("status_follow", {"user_ids": [alice.uid, carol.uid]})
        assert len(r["status"]["presences"]) == 2
        for s in (a, b, k):
            await s.request("channel_join", {"target": "lobby", "type": 1})
        await b.push("channel_presence_event", where=lambda e: any(
            j["user_id"] == carol.uid for j in e.get("joins", [])))
        assert await _online(n1, bob.token, carol.uid)

        killed_at = time.monotonic()
        cluster.nodes[2].proc.kill()  # SIGKILL: no goodbye
        cluster.nodes[2].proc.wait()
        bound = (NODE_TIMEOUT_MS + 2 * HEARTBEAT_MS) / 1000 + 1
        left = await b.push("status_presence_event", timeout=bound + 5)
        took = time.monotonic() - killed_at
        assert left == {"leaves": [{"user_id": carol.uid, "session_id": left["leaves"][0]
                                    ["session_id"], "username": carol.username, "status": ""}]}
        assert took <= bound, f"status leave after {took:.1f}s, bound {bound:.1f}s"
        with capsys.disabled():
            print(f"\nkilled node: its user's status leave reached a follower after {took:.2f} s "
                  f"(heartbeat {HEARTBEAT_MS} ms, node timeout {NODE_TIMEOUT_MS} ms)")
        room = await a.push("channel_presence_event", where=lambda e: e.get("leaves"))
        assert room["leaves"][0]["user_id"] == carol.uid
        await b.push("channel_presence_event", where=lambda e: e.get("leaves"))
        # Every surviving node drops the dead one on its own clock: each within the bound.
        for n in (n1, n2):
            async def offline(n: Node = n) -> bool:
                return not await _online(n, bob.token, carol.uid)
            await _until(offline, bound - took + 1, f"carol offline on {n.server.port}")

        # The survivors play on: chat between nodes 1 and 2, a new player on node 2.
        msg = await a.request("channel_message_send", {
            "channel_id": "2...lobby", "content": '{"still": "here"}'})
        got = await b.push("channel_message", where=lambda m: m["message_id"] ==
                           msg["channel_message_ack"]["message_id"])
        assert got["content"] == '{"still": "here"}'
        dave = await n2.player()
        d = await n2.connect(dave)
        joined = await d.request("channel_join", {"target": "lobby", "type": 1})
        assert sorted(p["user_id"] for p in joined["channel"]["presences"]) == sorted(
            [alice.uid, bob.uid])
    assert "Node timed out" in cluster.nodes[0].log() or "Node timed out" in cluster.nodes[1].log()


async def test_nats_restart_is_survived(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(2)
    async with aiohttp.ClientSession() as http:
        n1, n2 = (Node(node, http) for node in cluster.nodes)
        alice, bob, carol = await n1.player(), await n2.player(), await n2.player()
        a = await n1.connect(alice)
        b = await n2.connect(bob, status=True)
        await a.request("status_follow", {"user_ids": [bob.uid, carol.uid]})
        for s in (a, b):
            await s.request("channel_join", {"target": "hall", "type": 1})
        await a.push("channel_presence_event", where=lambda e: e.get("joins"))

        # NATS goes away for longer than the node timeout, and comes back on the same port.
        # Meanwhile carol connects on node 2 and bob leaves the hall: node 1 hears of it after.
        port = cluster.nats.port
        cluster.nats.stop()
        c = await n2.connect(carol, status=True)
        await b.request("channel_leave", {"channel_id": "2...hall"})
        await asyncio.sleep(NODE_TIMEOUT_MS / 1000 + 0.5)
        from kizuna.cluster import embedded_nats

        cluster.nats = embedded_nats.start(port=port)

        async def synced() -> bool:
            return await _online(n1, alice.token, carol.uid)

        took = await _until(synced, 15, "node 1 sees carol (connected on node 2 while NATS was down)")
        assert took < 15
        # Bob left the hall while NATS was down: node 1 knows.
        r = await a.request("channel_join", {"target": "hall", "type": 1})  # already in
        assert bob.uid not in [p["user_id"] for p in r["channel"].get("presences", [])]

        # Deliveries across nodes work again, both ways.
        msg = await c.request("channel_join", {"target": "hall", "type": 1})
        assert [p["user_id"] for p in msg["channel"]["presences"]] == [alice.uid]
        ack = await a.request("channel_message_send", {"channel_id": "2...hall",
                                                       "content": '{"after": "restart"}'})
        await c.push("channel_message", where=lambda m: m["message_id"] ==
                     ack["channel_message_ack"]["message_id"])
        await b.request("status_update", {"status": "back"})
        ev = await a.push("status_presence_event", where=lambda e: any(
            j.get("status") == "back" for j in e.get("joins", [])))
        assert ev["joins"][0]["user_id"] == bob.uid
    logs = cluster.logs()
    assert "Lost the NATS connection" in logs and "NATS connection back" in logs
