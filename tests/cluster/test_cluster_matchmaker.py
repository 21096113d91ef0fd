"""The matchmaker across the nodes of a cluster: three `kizuna server` processes on NATS, real
sockets (the clients of tests/integration/test_matchmaker.py).

Every node holds a replica of every ticket and only the leader (the live node with the lowest
name, node1 here) forms groups: tickets added on three nodes match into one group, each member
gets its `matchmaker_matched` on its own node, with the same token, which opens one relayed
match whatever node a member joins it on. A removed ticket, or a closed socket's, never matches.
When the leader is killed, the next one (node2) already holds the tickets waiting on the other
nodes and matches them within a few seconds.
"""

from __future__ import annotations

import time
import uuid

import pytest

from tests.cluster.conftest import Cluster
from tests.integration.nakama_http import verify
from tests.integration.test_matchmaker import add, add_body, pool, user
from tests.integration.test_realtime import Player, Sock, World, presence, session_id

pytestmark = pytest.mark.timeout(240)


async def player_on(w: World) -> tuple[Player, Sock]:
    p = await w.player()
    return p, await w.connect(p)


@pytest.fixture
def cluster(cluster_factory) -> Cluster:
    # Groups smaller than max_count form on a ticket's last interval: 2 s to 4 s after its add.
    return cluster_factory(3, "--matchmaker.interval_sec", "2")


async def test_tickets_of_three_nodes_match_into_one_group(worlds: list[World]):
    (alice, a), (bob, b), (cat, c) = [await player_on(w) for w in worlds]
    sids = [await session_id(s) for s in (a, b, c)]
    mine = pool()
    body = add_body(mine, min_count=3, max_count=3, region="eu")
    t_a = await add(a, body)
    t_b = await add(b, body)
    await a.no_push("matchmaker_matched", wait=0.5)  # two of three: nothing forms

    # Every node holds every ticket: the stats are the cluster's on each node.
    for w, p in zip(worlds, (alice, bob, cat), strict=True):
        r = await w.api.get("/v2/matchmaker/stats", p.token)
        assert r.status == 200 and r.json["ticket_count"] == 2, r.json

    t_c = await add(c, body)
    pushes = [await s.push("matchmaker_matched", timeout=5) for s in (a, b, c)]
    users = [user(p, sid, mine, region="eu")
             for p, sid in zip((alice, bob, cat), sids, strict=True)]
    for push, ticket, me in zip(pushes, (t_a, t_b, t_c), users, strict=True):
        assert push == {"ticket": ticket, "token": pushes[0]["token"], "users": users,
                        "self": me}
    mid = verify(pushes[0]["token"])["mid"]

    # The leader's token opens on any node, and the players land in one relayed match.
    r = await c.request("match_join", {"token": pushes[2]["token"]})
    assert r["match"] == {"match_id": mid, "size": 1, "self": presence(cat, sids[2])}
    r = await a.request("match_join", {"token": pushes[0]["token"]})
    assert r["match"] == {"match_id": mid, "size": 2, "presences": [presence(cat, sids[2])],
                          "self": presence(alice, sids[0])}
    r = await b.request("match_join", {"token": pushes[1]["token"]})
    assert r["match"]["size"] == 3 and r["match"]["match_id"] == mid

    # Matched tickets are gone everywhere; the completions are the cluster's.
    r = await b.request("matchmaker_remove", {"ticket": t_b})
    assert r["error"] == {"code": 3, "message": "Matchmaker ticket not found"}
    for w, p in zip(worlds, (alice, bob, cat), strict=True):
        r = await w.api.get("/v2/matchmaker/stats", p.token)
        assert r.json.get("ticket_count", 0) == 0 and len(r.json["completions"]) == 3, r.json


async def test_a_removed_or_closed_ticket_is_not_matched_on_another_node(worlds: list[World]):
    (_, a), (_, b), (_, c) = [await player_on(w) for w in worlds]
    _, d = await player_on(worlds[1])
    mine = pool()
    body = add_body(mine, min_count=2, max_count=2)
    t_a = await add(a, body)
    r = await a.request("matchmaker_remove", {"ticket": t_a})  # on node 1
    assert set(r) == {"cid"}, r
    await add(b, add_body(mine, min_count=2, max_count=2, query="+properties.x:y"))
    await b.close()  # its ticket goes with its socket (node 2)
    await c.no_push("matchmaker_matched", wait=0.3)
    # Node 3's ticket finds neither of them; a later one on node 2 matches it.
    t_c = await add(c, add_body(mine, min_count=2, max_count=2, x="y"))
    await c.no_push("matchmaker_matched", wait=1.0)
    t_d = await add(d, body)
    pc = await c.push("matchmaker_matched", timeout=5)
    pd = await d.push("matchmaker_matched", timeout=5)
    assert (pc["ticket"], pd["ticket"]) == (t_c, t_d) and pc["token"] == pd["token"]
    assert len(pc["users"]) == 2


async def test_the_next_leader_matches_when_the_leader_is_killed(cluster: Cluster,
                                                                 worlds: list[World]):
    _, w2, w3 = worlds
    (bob, b), (cat, c) = await player_on(w2), await player_on(w3)
    mine = pool()
    # min 2, max 3: before their last interval (2 s to 4 s away) only a group of 3 would form.
    body = add_body(mine, min_count=2, max_count=3)
    t_b = await add(b, body)
    t_c = await add(c, body)
    cluster.nodes[0].stop(sig=9)  # node1, the leader
    killed = time.monotonic()
    pb = await b.push("matchmaker_matched", timeout=10)
    pc = await c.push("matchmaker_matched", timeout=10)
    took = time.monotonic() - killed
    assert took < 6, took
    assert pb["ticket"] == t_b and pc["ticket"] == t_c and pb["token"] == pc["token"]
    assert sorted(u["presence"]["user_id"] for u in pb["users"]) == sorted([bob.uid, cat.uid])

    # The new leader (node2) matches new tickets at once, node 3's included.
    (dan, d), (eve, e) = await player_on(w3), await player_on(w2)
    again = pool()
    t_d = await add(d, add_body(again))
    started = time.monotonic()
    t_e = await add(e, add_body(again))
    pd = await d.push("matchmaker_matched", timeout=5)
    pe = await e.push("matchmaker_matched", timeout=5)
    assert time.monotonic() - started < 2
    assert (pd["ticket"], pe["ticket"]) == (t_d, t_e) and pd["token"] == pe["token"]
    assert uuid.UUID(t_d) and {u["presence"]["user_id"] for u in pd["users"]} == {dan.uid,
                                                                                  eve.uid}
