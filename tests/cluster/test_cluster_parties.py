"""Parties across the nodes of a cluster: three `kizuna server` processes on NATS, the players'
sockets on different nodes, real sockets (the clients of tests/integration/test_parties.py).

A party lives on the node that created it ("<uuid>.<node>"); the other nodes' sessions reach it
through that node, and its pushes reach them through theirs. What each socket receives is what
one node sends: the replies, Nakama's errors ("Error listing party join requests: party leader
only"), `party`, `party_presence_event`, `party_join_request`, `party_leader`, `party_data`,
`party_update`, `party_close`, `party_matchmaker_ticket` and `matchmaker_matched`. A party whose
node dies ends: its members on the other nodes get `party_close`.
"""

from __future__ import annotations

import base64
import time
import uuid

import pytest

from tests.cluster.conftest import Cluster
from tests.integration.test_parties import (
    Member,
    bad,
    create,
    error,
    joined,
    ok,
    presence_event,
)
from tests.integration.test_realtime import World

pytestmark = pytest.mark.timeout(240)


async def member(w: World) -> Member:
    p = await w.player()
    return Member(p, await w.connect(p))


@pytest.fixture
def cluster(cluster_factory) -> Cluster:
    return cluster_factory(3, "--matchmaker.interval_sec", "1")


async def test_a_closed_party_across_three_nodes(worlds: list[World]):
    n1, n2, n3 = worlds
    lead, ann, bob = await member(n1), await member(n3), await member(n2)
    party = await create(lead, open=False, max_size=4)
    pid = party["party_id"]
    assert pid.endswith(".node1")

    # A join request from node 3 reaches the leader on node 1; the leader accepts it.
    await ok(ann, "party_join", {"party_id": pid})
    req = await lead.sock.push("party_join_request")
    ann_p = req["presences"][0]
    assert req == {"party_id": pid, "presences": [ann_p]} and ann_p["user_id"] == ann.uid
    r = await lead.sock.request("party_join_request_list", {"party_id": pid})
    assert r["party_join_request"] == {"party_id": pid, "presences": [ann_p]}
    # Refusals made on node 1 reach node 3 with Nakama's words.
    assert await error(ann, "party_join_request_list", {"party_id": pid}) == bad(
        "Error listing party join requests: party leader only")
    assert await error(ann, "party_join", {"party_id": pid}) == bad(
        "Error joining party: party join request duplicate")
    await ok(lead, "party_accept", {"party_id": pid, "presence": ann_p})
    got = await joined(ann, pid)
    assert got == {"party_id": pid, "max_size": 4, "self": ann_p, "leader": lead.p,
                   "presences": [lead.p, ann_p]}
    await presence_event(lead, pid, joins=[ann])

    # Node 2 asks; the leader accepts; every member hears of it, whatever its node.
    await ok(bob, "party_join", {"party_id": pid})
    bob_p = (await lead.sock.push("party_join_request"))["presences"][0]
    await ok(lead, "party_accept", {"party_id": pid, "presence": bob_p})
    got = await joined(bob, pid)
    assert got["presences"] == [lead.p, ann_p, bob_p] and got["leader"] == lead.p
    await presence_event(lead, pid, joins=[bob])
    await presence_event(ann, pid, joins=[bob])

    # Party data from node 3 to the members on nodes 1 and 2 (not back to the sender).
    data = base64.b64encode(b"across").decode()
    await ok(ann, "party_data_send", {"party_id": pid, "op_code": "7", "data": data})
    for m in (lead, bob):
        assert await m.sock.push("party_data") == {"party_id": pid, "presence": ann_p,
                                                   "op_code": "7", "data": data}
    await ann.sock.no_push("party_data")
    assert await error(lead, "party_data_send", {"party_id": f"{uuid.uuid4()}.node3"}) == bad(
        "Error sending party data: party not found")

    # The leader's socket closes on node 1: the oldest member (node 3) leads, the party lives on.
    await lead.sock.close()
    for m in (ann, bob):
        assert await m.sock.push("party_leader") == {"party_id": pid, "presence": ann_p}
        await presence_event(m, pid, leaves=[lead])

    # The new leader (node 3) updates the party and removes node 2's member.
    await ok(ann, "party_update", {"party_id": pid, "label": "raid", "open": True})
    for m in (ann, bob):
        assert await m.sock.push("party_update") == {"party_id": pid, "label": "raid",
                                                     "open": True}
    assert await error(bob, "party_close", {"party_id": pid}) == bad(
        "Error closing party: party leader only")
    await ok(ann, "party_remove", {"party_id": pid, "presence": bob_p})
    assert await bob.sock.push("party_close") == {"party_id": pid}
    await presence_event(ann, pid, leaves=[bob])
    await bob.sock.no_push("party_presence_event")

    # Open now: node 2's member comes back at once, then the leader closes the party.
    await ok(bob, "party_join", {"party_id": pid})
    got = await joined(bob, pid)
    assert got == {"party_id": pid, "open": True, "max_size": 4, "label": "raid",
                   "self": bob_p, "leader": ann_p, "presences": [ann_p, bob_p]}
    await presence_event(ann, pid, joins=[bob])
    await ok(ann, "party_close", {"party_id": pid})
    for m in (ann, bob):
        assert await m.sock.push("party_close") == {"party_id": pid}
        await m.sock.no_push("party_presence_event")
    assert await error(bob, "party_join", {"party_id": pid}) == bad(
        "Error joining party: party not found")


async def test_a_party_queues_across_nodes_and_matches_a_player_of_a_third(worlds: list[World]):
    n1, n2, n3 = worlds
    lead, ann, solo = await member(n2), await member(n3), await member(n1)
    pid = (await create(lead, open=True))["party_id"]
    await ok(ann, "party_join", {"party_id": pid})
    await joined(ann, pid)
    await presence_event(lead, pid, joins=[ann])

    pool = uuid.uuid4().hex
    query = f"+properties.pool:{pool}"
    add = {"party_id": pid, "min_count": 3, "max_count": 3, "query": query,
           "string_properties": {"pool": pool}, "numeric_properties": {"rank": 7}}
    assert await error(ann, "party_matchmaker_add", add) == bad(
        "Error adding party to matchmaker: party leader only")
    r = await lead.sock.request("party_matchmaker_add", add)
    ticket = r["party_matchmaker_ticket"]["ticket"]
    assert await ann.sock.push("party_matchmaker_ticket") == {"party_id": pid, "ticket": ticket}

    # Withdrawn from node 3? Only the leader may; the leader withdraws and queues again.
    assert await error(ann, "party_matchmaker_remove", {"party_id": pid, "ticket": ticket}) == \
        bad("Error closing party: party leader only")
    await ok(lead, "party_matchmaker_remove", {"party_id": pid, "ticket": ticket})
    r = await lead.sock.request("party_matchmaker_add", add)
    ticket = r["party_matchmaker_ticket"]["ticket"]
    await ann.sock.push("party_matchmaker_ticket")

    # A solo player on node 1 completes the group: the three get one token.
    r = await solo.sock.request("matchmaker_add", {
        "min_count": 3, "max_count": 3, "query": query, "string_properties": {"pool": pool}})
    solo_ticket = r["matchmaker_ticket"]["ticket"]
    pushes = {m: await m.sock.push("matchmaker_matched", timeout=10) for m in (lead, ann, solo)}
    users = pushes[lead]["users"]
    assert sorted(u["presence"]["user_id"] for u in users) == sorted(
        [lead.uid, ann.uid, solo.uid])
    for m, push in pushes.items():
        assert push["users"] == users and push["token"] == pushes[lead]["token"]
        assert push["ticket"] == (solo_ticket if m is solo else ticket)
        assert push["self"]["presence"]["user_id"] == m.uid


async def test_a_party_whose_node_dies_closes_for_its_members(cluster: Cluster,
                                                              worlds: list[World]):
    n1, n2, _ = worlds
    lead = await member(worlds[2])
    pid = (await create(lead, open=True))["party_id"]
    assert pid.endswith(".node3")
    ann, bob = await member(n1), await member(n2)
    for m in (ann, bob):
        await ok(m, "party_join", {"party_id": pid})
        await joined(m, pid)
    await presence_event(ann, pid, joins=[bob])

    # A member on node 1 also holds a join request with a party of node 2 (it stays).
    other = await member(n2)
    other_pid = (await create(other, open=False))["party_id"]
    await ok(ann, "party_join", {"party_id": other_pid})
    await other.sock.push("party_join_request")

    cluster.nodes[2].stop(sig=9)
    started = time.monotonic()
    for m in (ann, bob):
        assert await m.sock.push("party_close", timeout=10,
                                 where=lambda b: b["party_id"] == pid) == {"party_id": pid}
    took = time.monotonic() - started
    assert took < 6, took  # the node timeout (1.5 s here) and a heartbeat
    for m in (ann, bob):
        await m.sock.no_push("party_presence_event", wait=0.5)
    assert await error(ann, "party_join", {"party_id": pid}) == bad(
        "Error joining party: party not found")
    r = await other.sock.request("party_join_request_list", {"party_id": other_pid})
    assert [p["user_id"] for p in r["party_join_request"]["presences"]] == [ann.uid]
