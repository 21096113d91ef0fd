"""Parties over real sockets: create, join (open and closed), requests, accept, reject, remove,
promote, leave, close, data, update, the party matchmaker, disconnects, the errors and the limits,
against a real `kizuna server` on a fresh database.

What is asserted is what each member's socket receives: replies (exact JSON), error envelopes
(Nakama's codes and words: "Error joining party: party full"), and the pushes `party`,
`party_presence_event`, `party_join_request`, `party_leader`, `party_data`, `party_close`,
`party_update`, `party_matchmaker_ticket` and `matchmaker_matched`.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import aiohttp
import pytest

from tests.conftest import server_on_fresh_database
from tests.integration.test_realtime import Player, Sock, World, own_server, presence

pytestmark = pytest.mark.timeout(180)
__all__ = ["own_server"]  # a fixture (servers with other flags)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with server_on_fresh_database(tmp_path_factory.mktemp("parties"),
                                  "--matchmaker.interval_sec", "1") as s:
        yield s


@pytest.fixture
async def world(srv):
    async with aiohttp.ClientSession(skip_auto_headers=["Accept-Encoding"]) as http:
        w = World(srv, http)
        yield w
        await w.close()


class Member:
    """A player, its socket and its presence (known once it created or joined a party)."""

    def __init__(self, player: Player, sock: Sock) -> None:
        self.player, self.sock = player, sock
        self.p: dict[str, Any] = {}

    @property
    def uid(self) -> str:
        return self.player.uid


async def members(w: World, n: int) -> list[Member]:
    out = []
    for _ in range(n):
        p = await w.player()
        m = Member(p, await w.connect(p))
        out.append(m)
    return out


async def create(m: Member, open: bool = False, max_size: int = 4, **extra: Any) -> dict:
    r = await m.sock.request("party_create", {"open": open, "max_size": max_size, **extra})
    assert "party" in r, r
    m.p = r["party"]["self"]
    await m.sock.push("party_presence_event")  # its own join
    return r["party"]


async def error(m: Member, kind: str, body: dict) -> dict:
    r = await m.sock.request(kind, body)
    assert "error" in r, r
    return r["error"]


def bad(message: str) -> dict:
    return {"code": 3, "message": message}


async def ok(m: Member, kind: str, body: dict) -> None:
    r = await m.sock.request(kind, body)
    assert set(r) == {"cid"}, r


async def joined(m: Member, party_id: str) -> dict:
    """The `party` a member gets once in (and its own presence event after it)."""
    party = await m.sock.push("party", where=lambda b: b["party_id"] == party_id)
    m.p = party["self"]
    await m.sock.push("party_presence_event",
                      where=lambda e: any(j["user_id"] == m.uid for j in e.get("joins", [])))
    return party


async def presence_event(m: Member, party_id: str, *, joins=(), leaves=()) -> None:
    want: dict[str, Any] = {"party_id": party_id}
    if joins:
        want["joins"] = [j.p for j in joins]
    if leaves:
        want["leaves"] = [x.p for x in leaves]
    assert await m.sock.push("party_presence_event") == want


# -- a closed party, start to end -------------------------------------------------------------------


async def test_closed_party_from_requests_to_close(world: World):
    lead, ann, bob, cal = await members(world, 4)
    party = await create(lead, open=False, max_size=3)
    pid = party["party_id"]
    uid, node = pid.split(".", 1)
    assert uuid.UUID(uid) and node == "kizuna"
    me = presence(lead.player, lead.p["session_id"])
    assert party == {"party_id": pid, "max_size": 3, "self": me, "leader": me, "presences": [me]}

    # Two requests: each waits (an empty reply), the leader hears of each.
    await ok(ann, "party_join", {"party_id": pid})
    await ok(bob, "party_join", {"party_id": pid})
    req_a = await lead.sock.push("party_join_request")
    req_b = await lead.sock.push("party_join_request")
    assert req_a == {"party_id": pid, "presences": [req_a["presences"][0]]}
    ann_p, bob_p = req_a["presences"][0], req_b["presences"][0]
    assert ann_p["user_id"] == ann.uid and bob_p["user_id"] == bob.uid
    await ann.sock.no_push("party")
    r = await lead.sock.request("party_join_request_list", {"party_id": pid})
    assert r["party_join_request"] == {"party_id": pid, "presences": [ann_p, bob_p]}
    assert await error(ann, "party_join_request_list", {"party_id": pid}) == bad(
        "Error listing party join requests: party leader only")
    assert await error(ann, "party_accept", {"party_id": pid, "presence": bob_p}) == bad(
        "Error accepting party join request: party leader only")
    assert await error(bob, "party_join", {"party_id": pid}) == bad(
        "Error joining party: party join request duplicate")

    # Accepted: `party` to the newcomer, presence events to all.
    await ok(lead, "party_accept", {"party_id": pid, "presence": ann_p})
    got = await joined(ann, pid)
    assert got == {"party_id": pid, "max_size": 3, "self": ann_p, "leader": me,
                   "presences": [me, ann_p]}
    await presence_event(lead, pid, joins=[ann])
    assert await error(lead, "party_accept", {"party_id": pid, "presence": ann_p}) == bad(
        "Error accepting party join request: party join request not found")

    # Rejected: the request is gone, the requester is told nothing (as Nakama).
    await ok(lead, "party_remove", {"party_id": pid, "presence": bob_p})
    r = await lead.sock.request("party_join_request_list", {"party_id": pid})
    assert r["party_join_request"] == {"party_id": pid}
    await bob.sock.no_push("party_close")

    # Data: to the others (base64 kept, op_code as a string), never echoed; an empty reply.
    payload = base64.b64encode(b"\x00ready").decode()
    r = await lead.sock.request("party_data_send", {"party_id": pid, "op_code": 5,
                                                    "data": payload})
    assert set(r) == {"cid"}
    assert await ann.sock.push("party_data") == {"party_id": pid, "presence": me, "op_code": "5",
                                                 "data": payload}
    await lead.sock.no_push("party_data")
    await ann.sock.send_raw(json.dumps({"party_data_send": {"party_id": pid, "op_code": "0"}}))
    assert await lead.sock.push("party_data") == {"party_id": pid, "presence": ann_p}
    assert await error(bob, "party_data_send", {"party_id": pid, "op_code": 1}) == bad(
        "Error sending party data: party member not found")
    assert await error(ann, "party_data_send", {"party_id": pid, "data": "***"}) == bad(
        "Invalid party data")

    # Promote: everyone hears of the new leader; the old one has no say any more.
    r = await lead.sock.request("party_promote", {"party_id": pid, "presence": ann_p})
    assert set(r) == {"cid"}
    for m in (lead, ann):
        assert await m.sock.push("party_leader") == {"party_id": pid, "presence": ann_p}
    assert await error(lead, "party_close", {"party_id": pid}) == bad(
        "Error closing party: party leader only")
    assert await error(ann, "party_remove", {"party_id": pid, "presence": ann_p}) == bad(
        "Error removing party member or join request: party cannot remove self")

    # A third member (accepted), then removed by the leader: it gets `party_close`.
    await ok(cal, "party_join", {"party_id": pid})
    cal_p = (await ann.sock.push("party_join_request"))["presences"][0]
    await ok(ann, "party_accept", {"party_id": pid, "presence": cal_p})
    await joined(cal, pid)
    for m in (lead, ann):
        await presence_event(m, pid, joins=[cal])
    assert await error(bob, "party_join", {"party_id": pid}) == bad(
        "Error joining party: party full")
    await ok(ann, "party_remove", {"party_id": pid, "presence": cal_p})
    assert await cal.sock.push("party_close") == {"party_id": pid}
    for m in (lead, ann):
        await presence_event(m, pid, leaves=[cal])

    # Close: `party_close` to every member; the party is gone.
    await ok(ann, "party_close", {"party_id": pid})
    for m in (lead, ann):
        assert await m.sock.push("party_close") == {"party_id": pid}
    assert await error(bob, "party_join", {"party_id": pid}) == bad(
        "Error joining party: party not found")
    await ok(lead, "party_leave", {"party_id": pid})  # leaving what is gone: nothing to do


async def test_open_party_leader_leaves_and_the_last_one_out_ends_it(world: World):
    lead, ann, bob = await members(world, 3)
    party = await create(lead, open=True, max_size=8)
    pid = party["party_id"]
    assert party["open"] is True
    await ok(ann, "party_join", {"party_id": pid})
    got = await joined(ann, pid)
    assert got["open"] is True and got["presences"] == [lead.p, ann.p]
    await presence_event(lead, pid, joins=[ann])
    await ok(ann, "party_join", {"party_id": pid})  # a member joining again: nothing happens
    await ok(bob, "party_join", {"party_id": pid})
    await joined(bob, pid)
    for m in (lead, ann):
        await presence_event(m, pid, joins=[bob])

    # The leader leaves: the oldest remaining member (ann) leads.
    await ok(lead, "party_leave", {"party_id": pid})
    for m in (ann, bob):
        assert await m.sock.push("party_leader") == {"party_id": pid, "presence": ann.p}
        await presence_event(m, pid, leaves=[lead])
    await lead.sock.no_push("party_leader")
    await ok(bob, "party_leave", {"party_id": pid})
    await presence_event(ann, pid, leaves=[bob])
    await ok(ann, "party_leave", {"party_id": pid})
    assert await error(bob, "party_join", {"party_id": pid}) == bad(
        "Error joining party: party not found")


async def test_a_closing_socket_leaves_its_parties(world: World):
    lead, ann, bob = await members(world, 3)
    pid = (await create(lead, open=False))["party_id"]
    await ok(bob, "party_join", {"party_id": pid})
    bob_p = (await lead.sock.push("party_join_request"))["presences"][0]
    await ok(lead, "party_update", {"party_id": pid, "open": True})
    await lead.sock.push("party_update")
    await ok(ann, "party_join", {"party_id": pid})
    await joined(ann, pid)
    await presence_event(lead, pid, joins=[ann])

    await lead.sock.close()  # the leader's socket: ann leads
    assert await ann.sock.push("party_leader") == {"party_id": pid, "presence": ann.p}
    await presence_event(ann, pid, leaves=[lead])
    # bob's request went to the old leader; it is still pending with the party.
    r = await ann.sock.request("party_join_request_list", {"party_id": pid})
    assert r["party_join_request"] == {"party_id": pid, "presences": [bob_p]}
    await bob.sock.close()  # a requester's socket: its request goes
    r = await ann.sock.request("party_join_request_list", {"party_id": pid})
    assert r["party_join_request"] == {"party_id": pid}


# -- party_update ---------------------------------------------------------------------------------


async def test_update_label_open_hidden(world: World):
    lead, ann, bob = await members(world, 3)
    party = await create(lead, open=True, label='{"mode":"ctf"}')
    pid = party["party_id"]
    assert party["label"] == '{"mode":"ctf"}' and "hidden" not in party
    await ok(ann, "party_join", {"party_id": pid})
    await joined(ann, pid)
    await presence_event(lead, pid, joins=[ann])
    assert await error(ann, "party_update", {"party_id": pid, "open": True}) == bad(
        "Error updating party: party leader only")
    await ok(lead, "party_update", {"party_id": pid, "label": '{"mode":"dm"}'})
    for m in (lead, ann):  # closed now (open not given: false, as the proto's default)
        assert await m.sock.push("party_update") == {"party_id": pid, "label": '{"mode":"dm"}'}
    await ok(bob, "party_join", {"party_id": pid})
    await lead.sock.push("party_join_request")
    assert await error(lead, "party_update", {"party_id": pid, "label": "x",
                                              "hidden": True}) == bad(
        "Invalid party label, a hidden party cannot have a label")
    hidden = await create(bob, open=False, hidden=True)
    assert hidden["hidden"] is True and "label" not in hidden and "open" not in hidden
    assert await error(bob, "party_create", {"max_size": 2, "label": "x", "hidden": True}) == bad(
        "Invalid party label, a hidden party cannot have a label")


# -- errors and limits -----------------------------------------------------------------------------


async def test_bad_messages(world: World):
    lead, ann = await members(world, 2)
    for size in (0, -1, 257):
        assert await error(lead, "party_create", {"open": True, "max_size": size}) == bad(
            "Invalid party max size, must be 1-256")
    assert await error(lead, "party_create", {}) == bad("Invalid party max size, must be 1-256")
    pid = (await create(lead, open=True, max_size=1))["party_id"]
    assert await error(ann, "party_join", {"party_id": pid}) == bad(
        "Error joining party: party full")
    for bad_id in ("", "nope", f"{uuid.uuid4()}", "zzz.kizuna"):
        for kind in ("party_join", "party_leave", "party_close", "party_join_request_list",
                     "party_data_send", "party_update"):
            assert await error(ann, kind, {"party_id": bad_id}) == bad("Invalid party ID"), kind
    unknown = f"{uuid.uuid4()}.kizuna"
    elsewhere = f"{pid.split('.')[0]}.othernode"
    for where in (unknown, elsewhere):
        assert await error(ann, "party_join", {"party_id": where}) == bad(
            "Error joining party: party not found")
    assert await error(ann, "party_close", {"party_id": unknown}) == bad(
        "Error closing party: party not found")
    for kind in ("party_promote", "party_accept", "party_remove"):
        for p in (None, {}, {"user_id": ann.uid}, {"session_id": "s"}, "x"):
            assert await error(lead, kind, {"party_id": pid, "presence": p}) == bad(
                "Invalid presence"), (kind, p)
    stranger = {"user_id": ann.uid, "session_id": str(uuid.uuid4()), "username": "x"}
    assert await error(lead, "party_promote", {"party_id": pid, "presence": stranger}) == bad(
        "Error promoting new party leader: party member not found")
    assert await error(lead, "party_remove", {"party_id": pid, "presence": stranger}) == bad(
        "Error removing party member or join request: party member not found")
    assert await error(lead, "party_data_send", {"party_id": pid,
                                                 "op_code": "9223372036854775808"}) == bad(
        "op_code: out of range for int64")
    # The party matchmaker's own checks come first, in Nakama's words.
    for body, message in (
            ({"min_count": 1, "max_count": 2}, "Invalid minimum count, must be >= 2"),
            ({"min_count": 3, "max_count": 2}, "Invalid maximum count, must be >= minimum count"),
            ({"min_count": 2, "max_count": 4, "count_multiple": 0},
             "Invalid count multiple, must be >= 1"),
            ({"min_count": 3, "max_count": 6, "count_multiple": 2},
             "Invalid count multiple for minimum count, must divide"),
            ({"min_count": 2, "max_count": 5, "count_multiple": 2},
             "Invalid count multiple for maximum count, must divide"),
            ({"min_count": 2, "max_count": 2}, "Invalid party ID")):
        assert await error(lead, "party_matchmaker_add", body) == bad(message), body
    assert await error(lead, "party_matchmaker_remove", {"party_id": pid}) == bad(
        "Invalid matchmaker ticket")
    assert await error(lead, "party_matchmaker_remove", {"party_id": pid, "ticket": "t"}) == bad(
        "Error closing party: matchmaker ticket not found")


async def test_per_socket_limit_and_single_party(own_server):
    limited = own_server("--socket.max_parties_per_socket", "2")
    single = own_server("--session.single_socket", "true", "--session.single_party", "true")
    async with aiohttp.ClientSession() as http:
        w = World(limited, http)
        lead, ann, other = await members(w, 3)
        first = (await create(lead, open=False))["party_id"]
        await create(lead, open=True)
        limit = bad("Party limit reached - a socket may be in at most 2 parties.")
        assert await error(lead, "party_create", {"open": True, "max_size": 2}) == limit
        await create(ann, open=True)
        await ok(ann, "party_join", {"party_id": first})  # a request counts too
        third = (await create(other, open=True))["party_id"]
        assert await error(ann, "party_join", {"party_id": third}) == limit
        await ok(ann, "party_leave", {"party_id": first})  # the request withdrawn
        await ok(ann, "party_join", {"party_id": third})
        await w.close()

        # With session.single_party a socket that joins a party leaves its others.
        w = World(single, http)
        lead, ann = await members(w, 2)
        one = (await create(lead, open=True))["party_id"]
        mine = (await create(ann, open=True))["party_id"]
        await ok(ann, "party_join", {"party_id": one})  # ann leaves `mine`, which ends
        await joined(ann, one)
        assert await error(lead, "party_join", {"party_id": mine}) == bad(
            "Error joining party: party not found")
        await w.close()


# -- the party matchmaker ----------------------------------------------------------------------------


async def test_a_party_queues_as_one_ticket(world: World):
    lead, ann, solo = await members(world, 3)
    pool = uuid.uuid4().hex
    pid = (await create(lead, open=True))["party_id"]
    await ok(ann, "party_join", {"party_id": pid})
    await joined(ann, pid)
    await presence_event(lead, pid, joins=[ann])

    query = f"+properties.pool:{pool}"
    add = {"party_id": pid, "min_count": 3, "max_count": 3, "query": query,
           "string_properties": {"pool": pool}, "numeric_properties": {"rank": 7}}
    assert await error(ann, "party_matchmaker_add", add) == bad(
        "Error adding party to matchmaker: party leader only")
    r = await lead.sock.request("party_matchmaker_add", add)
    ticket = r["party_matchmaker_ticket"]["ticket"]
    assert r["party_matchmaker_ticket"] == {"party_id": pid, "ticket": ticket}
    assert await ann.sock.push("party_matchmaker_ticket") == {"party_id": pid, "ticket": ticket}
    await lead.sock.no_push("party_matchmaker_ticket")

    # Withdrawn and queued again; a member joining (the party changed) withdraws it too.
    await ok(lead, "party_matchmaker_remove", {"party_id": pid, "ticket": ticket})
    assert await error(lead, "party_matchmaker_remove", {"party_id": pid, "ticket": ticket}) == \
        bad("Error closing party: matchmaker ticket not found")
    r = await lead.sock.request("party_matchmaker_add", add)
    ticket = r["party_matchmaker_ticket"]["ticket"]
    await ann.sock.push("party_matchmaker_ticket")
    late = (await members(world, 1))[0]
    await ok(late, "party_join", {"party_id": pid})
    await joined(late, pid)
    assert await error(lead, "party_matchmaker_remove", {"party_id": pid, "ticket": ticket}) == \
        bad("Error closing party: matchmaker ticket not found")
    await ok(late, "party_leave", {"party_id": pid})

    # The party (two) and a solo player (one) make a group of three: all three are told.
    r = await lead.sock.request("party_matchmaker_add", add)
    ticket = r["party_matchmaker_ticket"]["ticket"]
    r = await solo.sock.request("matchmaker_add", {
        "min_count": 3, "max_count": 3, "query": query, "string_properties": {"pool": pool}})
    solo_ticket = r["matchmaker_ticket"]["ticket"]
    pushes = {m: await m.sock.push("matchmaker_matched") for m in (lead, ann, solo)}
    users = pushes[lead]["users"]
    assert sorted(u["presence"]["user_id"] for u in users) == sorted(
        [lead.uid, ann.uid, solo.uid])
    for u in users:
        if u["presence"]["user_id"] == solo.uid:
            assert "party_id" not in u and u["string_properties"] == {"pool": pool}
        else:
            assert u["party_id"] == pid and u["numeric_properties"] == {"rank": 7}
    for m, push in pushes.items():
        assert push["users"] == users and push["token"] == pushes[lead]["token"]
        assert push["ticket"] == (solo_ticket if m is solo else ticket)
        assert push["self"]["presence"]["user_id"] == m.uid
