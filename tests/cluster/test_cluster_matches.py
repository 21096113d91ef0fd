"""Authoritative matches across the nodes of a cluster (kizuna/runtime/cluster_matches.py): three
`kizuna server` processes on NATS, each loading the probe match handler
(tests/integration/match_modules/probe.py). A match runs on the node that created it (node1 here);
players on the other nodes join it, play it and leave it as on one node, every node lists it, and
it disappears with its node."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.cluster.conftest import Cluster
from tests.integration.nakama_http import Api
from tests.integration.test_authoritative_matches import (
    BATCH,
    JOINED,
    LEFT,
    PROBE,
    join,
    op,
    send,
)
from tests.integration.test_realtime import Player, Sock, World, presence

pytestmark = pytest.mark.timeout(180)

HTTP_KEY = "cluster-matches-key"


@pytest.fixture
def cluster(cluster_factory, tmp_path: Path) -> Cluster:
    modules = tmp_path / "modules"
    modules.mkdir()
    shutil.copy(PROBE, modules / "probe.py")
    return cluster_factory(3, "--runtime.path", str(modules), "--runtime.http_key", HTTP_KEY)


@pytest.fixture
async def worlds(cluster: Cluster) -> AsyncIterator[list[World]]:
    """One World (users, sockets, REST) per node."""
    async with aiohttp.ClientSession(skip_auto_headers=["Accept-Encoding"]) as http:
        ws = [World(node, http) for node in cluster.nodes]
        yield ws
        for w in ws:
            await w.close()


async def rpc(api: Api, name: str, payload: Any) -> str:
    r = await api.call("POST", f"/v2/rpc/{name}", data=json.dumps(json.dumps(payload)),
                       params={"http_key": HTTP_KEY})
    assert r.status == 200, (name, payload, r.status, r.json)
    return r.json["payload"]


async def signal(w: World, match_id: str, **command: Any) -> str:
    return await rpc(w.api, "probe_signal", {"match_id": match_id, "command": command})


async def stats(w: World, match_id: str) -> dict:
    return json.loads(await signal(w, match_id, do="stats"))


async def listed(w: World, token: str, **params: str) -> dict[str, dict]:
    r = await w.api.get("/v2/match", token, params={"limit": "100", "authoritative": "true",
                                                    **params})
    assert r.status == 200, r
    return {m["match_id"]: m for m in r.json.get("matches", [])}


async def until(check: Callable[[], Any], timeout: float = 10.0, every: float = 0.05) -> float:
    """Poll an async check until it is true; the seconds it took."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < timeout, "condition not met in time"
        await asyncio.sleep(every)
    return time.monotonic() - started


async def test_a_match_on_one_node_played_from_the_others(cluster: Cluster,
                                                         worlds: list[World]) -> None:
    one, two, three = worlds
    label = json.dumps({"mode": "duel", "level": 3})
    match_id = json.loads(await rpc(one.api, "probe_create",
                                    {"label": label, "tick_rate": 10}))["match_id"]
    assert match_id.endswith(".node1")

    # A player on node2: refused with the handler's reason, then accepted.
    alice = await two.player()
    a = await two.connect(alice)
    r = await a.request("match_join", {"match_id": match_id, "metadata": {"deny": "Invite only."}})
    assert r["error"] == {"code": 5, "message": "Invite only."}
    m = await join(a, match_id, team="red")
    a_sid = m["self"]["session_id"]
    assert m == {"match_id": match_id, "authoritative": True, "label": label, "size": 1,
                 "self": presence(alice, a_sid)}
    # The handler heard the join (match_join, with the player's node) and broadcast it.
    assert await op(a, JOINED) == {"users": [alice.uid], "metadata": [{"team": "red"}],
                                   "nodes": ["node2"]}

    # A player on node3: both hear of the join, through the match and the stream.
    bob = await three.player()
    b = await three.connect(bob)
    m = await join(b, match_id)
    b_sid = m["self"]["session_id"]
    assert m["size"] == 2 and m["presences"] == [presence(alice, a_sid)]
    for s in (a, b):
        assert await op(s, JOINED, where=lambda d: d["users"] == [bob.uid]) == {
            "users": [bob.uid], "metadata": [{}], "nodes": ["node3"]}
    assert await a.push("match_presence_event", where=lambda e: "joins" in e and e["joins"][0][
        "user_id"] == bob.uid) == {"match_id": match_id, "joins": [presence(bob, b_sid)]}

    # Inputs from node2 and node3 reach the loop on node1; its broadcast reaches both.
    await a.send_raw(send(match_id, 7, "from-a", reliable=True))
    batch = await op(b, BATCH, where=lambda d: d["inputs"][0][0] == 7)
    assert batch["inputs"] == [[7, "from-a", alice.uid, True, True]]
    await b.send_raw(send(match_id, 8, "from-b"))
    batch = await op(a, BATCH, where=lambda d: d["inputs"][0][0] == 8)
    assert batch["inputs"] == [[8, "from-b", bob.uid, False, True]]

    # Every node lists it, with its label and size, and filters it as node1 does.
    token = (await three.api.login("device", {"id": f"dev-{uuid.uuid4().hex}"}))["token"]
    record = {"match_id": match_id, "authoritative": True, "label": label, "size": 2,
              "tick_rate": 10, "handler_name": "probe"}
    for w in worlds:
        assert (await listed(w, token))[match_id] == record
    assert match_id in await listed(three, token, query="+label.mode:duel +label.level:>=3")
    assert match_id not in await listed(three, token, query="+label.mode:ffa")
    assert match_id in await listed(three, token, label=label)
    assert match_id not in await listed(three, token, min_size="3")
    assert json.loads(await rpc(three.api, "probe_get", {"match_id": match_id})) == record
    assert match_id in {m["match_id"] for m in json.loads(await rpc(
        two.api, "probe_list", {"limit": 100, "authoritative": True, "label": label}))}

    # nk.match_signal from node2 (an RPC served there) reaches the match on node1.
    s = await stats(two, match_id)
    assert s["joined"] == [alice.uid, bob.uid]
    assert s["ctx"] == {"match_id": match_id, "node": "node1", "mode": "match"}
    # A label change is seen by the other nodes' listings.
    new_label = json.dumps({"mode": "duel", "level": 4})
    assert await signal(two, match_id, do="label", label=new_label) == "labelled"

    async def relabelled() -> bool:
        return (await listed(three, token)).get(match_id, {}).get("label") == new_label

    await until(relabelled)
    assert match_id in await listed(two, token, query="+label.level:4")
    # A signal to a match that does not run is "Match not found" from any node.
    r = await two.api.call("POST", "/v2/rpc/probe_signal", params={"http_key": HTTP_KEY},
                           data=json.dumps(json.dumps({"match_id": f"{uuid.uuid4()}.node1",
                                                       "command": {"do": "stats"}})))
    assert r.status == 404 and "Match not found" in r.json["message"], r.json

    # A kick from the match reaches the player on node3: told, and the handler's match_leave.
    assert await signal(three, match_id, do="kick",
                        presences=[{"user_id": bob.uid, "session_id": b_sid}]) == "kicked"
    assert await b.push("match_presence_event", where=lambda e: "leaves" in e) == {
        "match_id": match_id, "leaves": [presence(bob, b_sid)]}
    assert await op(a, LEFT, where=lambda d: d["users"] == [bob.uid]) == {"users": [bob.uid]}

    # A disconnect on node2 is a leave for the match.
    await a.close()

    async def alice_left() -> bool:
        return (await stats(one, match_id))["left"] == [bob.uid, alice.uid]

    await until(alice_left)
    assert json.loads(await rpc(two.api, "probe_get", {"match_id": match_id}))["size"] == 0


async def test_a_match_leaves_with_its_node(cluster: Cluster, worlds: list[World]) -> None:
    one, two, three = worlds
    match_id = json.loads(await rpc(one.api, "probe_create", {"label": "doomed"}))["match_id"]
    carol: Player = await two.player()
    c: Sock = await two.connect(carol)
    c_sid = (await join(c, match_id))["self"]["session_id"]
    token = (await two.api.login("device", {"id": f"dev-{uuid.uuid4().hex}"}))["token"]
    for w in (two, three):
        assert (await listed(w, token))[match_id]["size"] == 1

    cluster.nodes[0].proc.kill()  # SIGKILL: no goodbye; the others notice the silence
    cluster.nodes[0].proc.wait(10)

    async def gone() -> bool:
        return all([match_id not in await listed(w, token) for w in (two, three)])

    took = await until(gone, timeout=5)
    assert took < 2.5, took  # node_timeout_ms is 1500 in the test clusters
    assert json.loads(await rpc(three.api, "probe_get", {"match_id": match_id})) is None
    # Its player on node2 is taken out of it and told, as when a match ends.
    assert await c.push("match_presence_event", where=lambda e: "leaves" in e) == {
        "match_id": match_id, "leaves": [presence(carol, c_sid)]}
    # Joining it now is "Match not found", as for a match that ended on one node.
    dave = await three.player()
    d = await three.connect(dave)
    r = await d.request("match_join", {"match_id": match_id})
    assert r["error"] == {"code": 4, "message": "Match not found"}
    r = await c.request("match_join", {"match_id": match_id})
    assert r["error"] == {"code": 4, "message": "Match not found"}
