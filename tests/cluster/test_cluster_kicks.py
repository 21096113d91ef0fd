"""Closing sockets across nodes: a single-socket kick, a ban from the console of another node, a
group kick (the member leaves the group's channel wherever its socket is) and a logout revoking
a session whose socket is on another node."""

from __future__ import annotations

import aiohttp
import pytest

from tests.cluster.conftest import Cluster
from tests.cluster.test_cluster_failures import Node
from tests.console.conftest import ConsoleApi

pytestmark = pytest.mark.timeout(120)


def _console_port(node) -> int:
    return int(node.args[node.args.index("--console.port") + 1])


async def test_single_socket_kick_across_nodes(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(2, "--session.single_socket", "true")
    async with aiohttp.ClientSession() as http:
        n1, n2 = (Node(node, http) for node in cluster.nodes)
        alice = await n1.player()
        first = await n1.connect(alice)
        await n2.connect(alice)  # the newer socket, on the other node
        note = await first.push("notifications")
        assert note["notifications"][0]["code"] == -7
        closed = await first.wait_closed()
        assert closed.data == 1000


async def test_ban_from_one_node_closes_sockets_on_another(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(2)
    async with aiohttp.ClientSession() as http:
        n2 = Node(cluster.nodes[1], http)
        bob = await n2.player()
        sock = await n2.connect(bob)
        api = ConsoleApi(f"http://127.0.0.1:{_console_port(cluster.nodes[0])}")
        status, body = api.call("POST", f"/v2/console/account/{bob.uid}/ban")
        assert status == 200, body
        closed = await sock.wait_closed()
        assert closed.type == aiohttp.WSMsgType.CLOSE


async def test_group_kick_and_logout_across_nodes(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(3)
    async with aiohttp.ClientSession() as http:
        n1, n2, n3 = (Node(node, http) for node in cluster.nodes)
        owner, member = await n1.player(), await n2.player()
        r = await n1.api.post("/v2/group", owner.token, {"name": f"g-{owner.uid[:8]}",
                                                         "open": True})
        gid = r.json["id"]
        assert (await n2.api.post(f"/v2/group/{gid}/join", member.token)).status == 200
        o = await n1.connect(owner)
        m = await n2.connect(member)
        ch = await o.request("channel_join", {"target": gid, "type": 3})
        channel_id = ch["channel"]["id"]
        await m.request("channel_join", {"target": gid, "type": 3})
        await o.push("channel_presence_event", where=lambda e: e.get("joins"))
        # Kicked through a third node's API: the member's socket on node 2 leaves the channel.
        r = await n3.api.post(f"/v2/group/{gid}/kick", owner.token, params={"user_ids": member.uid})
        assert r.status == 200, r.body
        left = await o.push("channel_presence_event", where=lambda e: e.get("leaves"))
        assert left["leaves"][0]["user_id"] == member.uid
        await m.push("channel_message", where=lambda msg: msg.get("code") == 6)  # kicked notice
        ack = await o.request("channel_message_send", {"channel_id": channel_id,
                                                       "content": '{"after": "kick"}'})
        assert "channel_message_ack" in ack
        await m.no_push("channel_message", wait=0.5)

        # Logout on node 3 revokes the session whose socket is on node 2.
        r = await n3.api.post("/v2/session/logout", member.token, {"token": member.token})
        assert r.status == 200, r.body
        closed = await m.wait_closed()
        assert closed.type == aiohttp.WSMsgType.CLOSE
