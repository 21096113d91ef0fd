"""The matchmaker over real sockets: matchmaker_add / matchmaker_remove, the matchmaker_matched push
(a relayed-match token, or the match id a `register_matchmaker_matched` function chose), joins by
token, the errors, and what a closing socket takes with it. One server, on a fresh database, loads
the tic-tac-toe example and a module whose matched function is steered by the players' properties.

Every test queues with properties of its own (a fresh `pool` value its queries require), so tests
sharing the server never match each other's players. The server runs with
`--matchmaker.interval_sec 1`, so that groups smaller than max_count (allowed on a ticket's last
interval, Nakama's rule) form within about two seconds instead of thirty.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from typing import Any

import aiohttp
import pytest

from tests.conftest import ROOT, server_on_fresh_database
from tests.integration.nakama_http import ENCRYPTION_KEY, forge, verify
from tests.integration.test_authoritative_matches import TICTACTOE, b64, op
from tests.integration.test_realtime import Player, Sock, World, presence, session_id

pytestmark = pytest.mark.timeout(180)

# What the matched function does is chosen by the group's `hook` property.
MATCHED = '''
def matchmaker_matched(ctx, logger, nk, entries):
    hooks = {e["properties"].get("hook") for e in entries}
    if hooks == {"tictactoe"}:
        return nk.match_create("tictactoe", {})
    if hooks == {"crash"}:
        raise RuntimeError("the matched function crashed")
    if hooks == {"number"}:
        return 42
    if hooks == {"echo"}:  # the entries, for the test to read back (as an id nobody can join)
        return nk.json_encode({"mode": ctx.execution_mode, "entries": entries})
    return None


def init_module(ctx, logger, nk, initializer):
    initializer.register_matchmaker_matched(matchmaker_matched)
'''

START, MOVE, UPDATE, DONE = 1, 2, 3, 4


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("matchmaker")
    mods = tmp / "modules"
    mods.mkdir()
    (mods / "tictactoe.py").write_text(TICTACTOE.read_text())
    (mods / "matched.py").write_text(MATCHED)
    with server_on_fresh_database(tmp, "--runtime.path", str(mods),
                                  "--matchmaker.interval_sec", "1") as s:
        yield s


@pytest.fixture
async def world(srv):
    async with aiohttp.ClientSession(skip_auto_headers=["Accept-Encoding"]) as http:
        w = World(srv, http)
        yield w
        await w.close()


async def players(w: World, n: int) -> list[tuple[Player, Sock]]:
    out = []
    for _ in range(n):
        p = await w.player()
        out.append((p, await w.connect(p)))
    return out


def pool() -> str:
    return uuid.uuid4().hex[:12]


def add_body(pool_id: str, *, min_count: int = 2, max_count: int = 2, query: str | None = None,
             **props: Any) -> dict[str, Any]:
    """A matchmaker_add in `pool_id` (its query requires the pool, its properties give it)."""
    strings = {k: v for k, v in props.items() if isinstance(v, str)}
    numbers = {k: v for k, v in props.items() if not isinstance(v, str)}
    body: dict[str, Any] = {
        "min_count": min_count, "max_count": max_count,
        "query": query if query is not None else f"+properties.pool:{pool_id}",
        "string_properties": {"pool": pool_id, **strings}}
    if numbers:
        body["numeric_properties"] = numbers
    return body


async def add(sock: Sock, body: dict[str, Any]) -> str:
    r = await sock.request("matchmaker_add", body)
    assert set(r) == {"cid", "matchmaker_ticket"}, r
    ticket = r["matchmaker_ticket"]["ticket"]
    assert uuid.UUID(ticket)
    return ticket


def user(p: Player, sid: str, pool_id: str, **extra: Any) -> dict[str, Any]:
    """A MatchmakerUser as the push carries it."""
    out: dict[str, Any] = {"presence": presence(p, sid)}
    strings = {"pool": pool_id, **{k: v for k, v in extra.items() if isinstance(v, str)}}
    out["string_properties"] = strings
    numbers = {k: v for k, v in extra.items() if not isinstance(v, str)}
    if numbers:
        out["numeric_properties"] = numbers
    return out


# -- matching ------------------------------------------------------------------------------------


async def test_two_compatible_tickets_get_one_token_and_meet_in_its_match(world: World):
    (alice, a), (bob, b) = await players(world, 2)
    a_sid, b_sid = await session_id(a), await session_id(b)
    mine = pool()
    t_a = await add(a, add_body(mine, region="eu", rank=7))
    await a.no_push("matchmaker_matched", wait=0.4)  # alone: nothing forms
    t_b = await add(b, add_body(mine, region="eu", rank=7.5))
    pa = await a.push("matchmaker_matched", timeout=5)
    pb = await b.push("matchmaker_matched", timeout=5)
    users = [user(alice, a_sid, mine, region="eu", rank=7),
             user(bob, b_sid, mine, region="eu", rank=7.5)]
    assert pa == {"ticket": t_a, "token": pa["token"], "users": users, "self": users[0]}
    assert pb == {"ticket": t_b, "token": pa["token"], "users": users, "self": users[1]}
    claims = verify(pa["token"])  # HS256 with session.encryption_key
    assert set(claims) == {"mid", "exp"}
    assert claims["mid"].endswith(".") and uuid.UUID(claims["mid"][:-1])
    assert time.time() + 25 < claims["exp"] <= time.time() + 31

    # The token opens the relayed match: the first join creates it, the second finds the first.
    r = await a.request("match_join", {"token": pa["token"]})
    assert r["match"] == {"match_id": claims["mid"], "size": 1, "self": presence(alice, a_sid)}
    r = await b.request("match_join", {"token": pb["token"]})
    assert r["match"] == {"match_id": claims["mid"], "size": 2,
                          "presences": [presence(alice, a_sid)], "self": presence(bob, b_sid)}
    bob_in = await a.push("match_presence_event",
                          where=lambda e: presence(bob, b_sid) in e.get("joins", []))
    assert bob_in == {"match_id": claims["mid"], "joins": [presence(bob, b_sid)]}
    await b.send_raw(json.dumps({"match_data_send": {"match_id": claims["mid"], "op_code": "5",
                                                      "data": b64("hi")}}))
    data = await a.push("match_data")
    assert data["op_code"] == "5" and data["presence"] == presence(bob, b_sid)

    # Matched tickets are gone.
    r = await a.request("matchmaker_remove", {"ticket": t_a})
    assert r["error"] == {"code": 3, "message": "Matchmaker ticket not found"}


async def test_tickets_that_do_not_accept_each_other_never_match(world: World):
    (_, a), (_, b), (_, c) = await players(world, 3)
    mine = pool()
    # a wants eu, b is us: b accepts a, a does not accept b.
    t_a = await add(a, add_body(mine, query=f"+properties.pool:{mine} +properties.region:eu",
                                region="eu"))
    t_b = await add(b, add_body(mine, region="us"))
    # c wants rank >= 10 and has rank 5; nobody matches it either way.
    await add(c, add_body(mine, query=f"+properties.pool:{mine} +properties.rank:>=10",
                          region="eu", rank=5))
    for s in (a, b, c):
        await s.no_push("matchmaker_matched", wait=2.5)  # past their last interval, too
    assert set(await a.request("matchmaker_remove", {"ticket": t_a})) == {"cid"}
    assert set(await b.request("matchmaker_remove", {"ticket": t_b})) == {"cid"}


async def test_a_group_smaller_than_max_count_forms_on_the_last_interval(world: World):
    """min 2, max 4: two tickets wait for more, then (interval_sec 1, max_intervals 2) settle
    for two."""
    (_, a), (_, b) = await players(world, 2)
    mine = pool()
    started = time.monotonic()
    t_a = await add(a, add_body(mine, min_count=2, max_count=4))
    t_b = await add(b, add_body(mine, min_count=2, max_count=4))
    await a.no_push("matchmaker_matched", wait=0.3)
    pa = await a.push("matchmaker_matched", timeout=10)
    pb = await b.push("matchmaker_matched", timeout=10)
    assert 0.3 < time.monotonic() - started < 4
    assert (pa["ticket"], pb["ticket"]) == (t_a, t_b) and pa["token"] == pb["token"]
    assert len(pa["users"]) == 2


async def test_count_multiple_and_numeric_properties(world: World):
    """Four players, groups of 2-4 in multiples of 2, ranks within each other's window."""
    socks = await players(world, 4)
    mine = pool()
    tickets = []
    for i, (_, s) in enumerate(socks):
        rank = 10 + i
        tickets.append(await add(s, {
            **add_body(mine, min_count=2, max_count=4, rank=rank),
            "count_multiple": 2,
            "query": f"+properties.pool:{mine} +properties.rank:>={rank - 5} "
                     f"+properties.rank:<={rank + 5}"}))
    pushes = [await s.push("matchmaker_matched", timeout=5) for _, s in socks]
    assert [p["ticket"] for p in pushes] == tickets
    assert len({p["token"] for p in pushes}) == 1
    assert [u["numeric_properties"] for u in pushes[0]["users"]] == [
        {"rank": 10}, {"rank": 11}, {"rank": 12}, {"rank": 13}]


async def test_latency_from_the_completing_add_to_the_push(world: World):
    """The figure the issue asks for: under a second (p99) by default; asserted generously."""
    took = []
    for _ in range(12):
        (_, a), (_, b) = await players(world, 2)
        mine = pool()
        await add(a, add_body(mine))
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        await add(b, add_body(mine))
        await b.push("matchmaker_matched", timeout=10)
        took.append(time.perf_counter() - started)
        await a.push("matchmaker_matched", timeout=10)
    took.sort()
    print(f"\nmatchmaker: add -> matchmaker_matched over {len(took)} pairs: "
          f"p50 {statistics.median(took) * 1000:.0f} ms, max {took[-1] * 1000:.0f} ms")
    assert took[-1] < 3


# -- server code chooses the match -----------------------------------------------------------------


async def test_the_matched_function_starts_an_authoritative_match(world: World):
    (alice, a), (bob, b) = await players(world, 2)
    mine = pool()
    t_a = await add(a, add_body(mine, hook="tictactoe"))
    t_b = await add(b, add_body(mine, hook="tictactoe"))
    pa = await a.push("matchmaker_matched", timeout=10)
    pb = await b.push("matchmaker_matched", timeout=10)
    match_id = pa["match_id"]
    assert "token" not in pa and match_id.endswith(".kizuna")
    assert (pa["ticket"], pb["ticket"], pb["match_id"]) == (t_a, t_b, match_id)

    # Both join it by its id and play: X wins along the top row.
    for s in (a, b):
        r = await s.request("match_join", {"match_id": match_id})
        assert r["match"]["authoritative"] is True, r
    start = await op(a, START)
    await op(b, START)
    x, o = (a, b) if start["turn"] == alice.uid else (b, a)
    for mover, cell in ((x, 0), (o, 3), (x, 1), (o, 4), (x, 2)):
        await mover.send_raw(json.dumps({"match_data_send": {
            "match_id": match_id, "op_code": str(MOVE), "data": b64(json.dumps({"cell": cell}))}}))
        await op(a, UPDATE, where=lambda d, cell=cell: d["board"][cell] != "")
    done = await op(b, DONE)
    assert done["winner"] == (alice.uid if x is a else bob.uid)


async def test_the_entries_the_matched_function_gets(world: World):
    (alice, a), (bob, b) = await players(world, 2)
    a_sid, b_sid = await session_id(a), await session_id(b)
    mine = pool()
    t_a = await add(a, add_body(mine, hook="echo", rank=3))
    t_b = await add(b, add_body(mine, hook="echo", mode="x"))
    echoed = json.loads((await a.push("matchmaker_matched", timeout=10))["match_id"])
    await b.push("matchmaker_matched", timeout=10)
    assert echoed == {"mode": "matchmaker", "entries": [
        {"presence": {"user_id": alice.uid, "session_id": a_sid, "username": alice.username,
                      "node": "kizuna"},
         "properties": {"pool": mine, "hook": "echo", "rank": 3.0}, "party_id": "",
         "ticket": t_a},
        {"presence": {"user_id": bob.uid, "session_id": b_sid, "username": bob.username,
                      "node": "kizuna"},
         "properties": {"pool": mine, "hook": "echo", "mode": "x"}, "party_id": "",
         "ticket": t_b}]}


@pytest.mark.parametrize("hook", ["crash", "number"])
async def test_a_failing_matched_function_falls_back_to_a_token(world: World, srv, hook: str):
    (_, a), (_, b) = await players(world, 2)
    mine = pool()
    await add(a, add_body(mine, hook=hook))
    await add(b, add_body(mine, hook=hook))
    pa = await a.push("matchmaker_matched", timeout=10)
    pb = await b.push("matchmaker_matched", timeout=10)
    assert "match_id" not in pa and pa["token"] == pb["token"]
    assert verify(pa["token"])["mid"].endswith(".")
    expected = ("Error running the matchmaker matched function" if hook == "crash"
                else "returned a value that is not a match id string")
    deadline = time.monotonic() + 10
    while expected not in srv.log():
        assert time.monotonic() < deadline, srv.log()[-3000:]
        await asyncio.sleep(0.05)


# -- joins by token --------------------------------------------------------------------------------


async def test_bad_tokens_are_refused(world: World):
    (alice, a), = await players(world, 1)
    now = int(time.time())
    mid = f"{uuid.uuid4()}."
    for token in (
        "a.b.c",
        forge({"mid": mid, "exp": now - 1}),  # expired
        forge({"mid": mid, "exp": now + 30}, key="not-the-key"),  # forged
        forge({"mid": mid}),  # no expiry
        forge({"exp": now + 30}),  # no match
        forge({"mid": "not-a-match", "exp": now + 30}),
        forge({"mid": mid, "exp": now + 30}, alg="HS512"),
    ):
        r = await a.request("match_join", {"token": token})
        assert r["error"] == {"code": 3, "message": "Invalid match token"}, (token, r)
    r = await a.request("match_join", {"token": 5})
    assert r["error"] == {"code": 3, "message": "Invalid match token"}
    # A session token is signed with the same key, but names no match.
    r = await a.request("match_join", {"token": alice.token})
    assert r["error"] == {"code": 3, "message": "Invalid match token"}


async def test_a_token_for_an_authoritative_match_joins_it(world: World):
    (alice, a), = await players(world, 1)
    r = await world.api.call("POST", "/v2/rpc/tictactoe_create", data=json.dumps("{}"),
                             auth=f"Bearer {alice.token}")
    match_id = json.loads(r.json["payload"])["match_id"]
    token = forge({"mid": match_id, "exp": int(time.time()) + 30}, key=ENCRYPTION_KEY)
    r = await a.request("match_join", {"token": token})
    assert r["match"]["match_id"] == match_id and r["match"]["authoritative"] is True
    gone = forge({"mid": f"{uuid.uuid4()}.kizuna", "exp": int(time.time()) + 30})
    r = await a.request("match_join", {"token": gone})
    assert r["error"] == {"code": 4, "message": "Match not found"}


# -- adding and removing ---------------------------------------------------------------------------


async def test_add_errors(world: World):
    (_, a), = await players(world, 1)
    mine = pool()
    cases = [
        ({"min_count": 1, "max_count": 2}, 3, "Invalid minimum count, must be >= 2"),
        ({"max_count": 2}, 3, "Invalid minimum count, must be >= 2"),
        ({"min_count": 3, "max_count": 2}, 3, "Invalid maximum count, must be >= minimum count"),
        ({"min_count": 2, "max_count": 4, "count_multiple": 0}, 3,
         "Invalid count multiple, must be >= 1"),
        ({"min_count": 2, "max_count": 6, "count_multiple": 3}, 3,
         "Invalid count multiple for minimum count, must divide"),
        ({"min_count": 2, "max_count": 5, "count_multiple": 2}, 3,
         "Invalid count multiple for maximum count, must divide"),
        ({"min_count": "two", "max_count": 2}, 3, "min_count: expected an integer"),
        ({"min_count": 2, "max_count": 2, "string_properties": {"a": 1}}, 3,
         "string_properties: expected an object of string values"),
        ({"min_count": 2, "max_count": 2, "numeric_properties": {"a": "x"}}, 3,
         "numeric_properties: expected an object of number values"),
        ({"min_count": 2, "max_count": 2, "numeric_properties": {"a": True}}, 3,
         "numeric_properties: expected an object of number values"),
    ]
    for body, code, message in cases:
        r = await a.request("matchmaker_add", body)
        assert r["error"] == {"code": code, "message": message}, (body, r)
    # A query the matchmaker cannot read: Nakama's words, the reason in the context.
    r = await a.request("matchmaker_add", {**add_body(mine), "query": "+properties.a:(b"})
    assert r["error"]["code"] == 0 and r["error"]["message"] == "Error adding to matchmaker"
    assert "query" in r["error"]["context"]["reason"].lower(), r
    # Numbers may come as protojson writes them.
    t = await add(a, add_body(mine, query="+properties.pool:nobody") | {
        "numeric_properties": {"a": "1.5", "b": "Infinity", "c": 2}})
    assert set(await a.request("matchmaker_remove", {"ticket": t})) == {"cid"}


async def test_at_most_max_tickets_per_session_and_remove(world: World):
    (_, a), (_, b) = await players(world, 2)
    mine = pool()
    tickets = [await add(a, add_body(mine, query=f"+properties.pool:{mine} +properties.n:{i}"))
               for i in range(3)]
    r = await a.request("matchmaker_add", add_body(mine))
    assert r["error"] == {"code": 0, "message": "Error adding to matchmaker",
                          "context": {"reason": "matchmaker too many tickets"}}
    # Another session may not remove them; the owner may, once.
    r = await b.request("matchmaker_remove", {"ticket": tickets[0]})
    assert r["error"] == {"code": 3, "message": "Matchmaker ticket not found"}
    r = await a.request("matchmaker_remove", {"ticket": tickets[0]})
    assert set(r) == {"cid"}, r
    r = await a.request("matchmaker_remove", {"ticket": tickets[0]})
    assert r["error"] == {"code": 3, "message": "Matchmaker ticket not found"}
    r = await a.request("matchmaker_remove", {})
    assert r["error"] == {"code": 3, "message": "Invalid matchmaker ticket"}
    await add(a, add_body(mine, query="+properties.pool:nobody"))  # room for one again


async def test_a_removed_or_disconnected_ticket_is_not_matched(world: World):
    (_, a), (_, b), (_, c), (_, d) = await players(world, 4)
    mine = pool()
    t_a = await add(a, add_body(mine))
    assert set(await a.request("matchmaker_remove", {"ticket": t_a})) == {"cid"}
    await add(b, add_body(mine))
    await b.close()  # its ticket goes with its socket
    await asyncio.sleep(0.3)
    t_c = await add(c, add_body(mine))
    await c.no_push("matchmaker_matched", wait=1.0)
    t_d = await add(d, add_body(mine))  # c's ticket is still there: d completes the pair
    pc = await c.push("matchmaker_matched", timeout=5)
    pd = await d.push("matchmaker_matched", timeout=5)
    assert [u["presence"]["session_id"] for u in pc["users"]] == [
        u["presence"]["session_id"] for u in pd["users"]]
    assert (pc["ticket"], pd["ticket"]) == (t_c, t_d)
    await a.no_push("matchmaker_matched", wait=0.1)


def test_the_matchmaking_example_is_documented():
    example = (ROOT / "docs" / "examples" / "modules" / "matchmaking.py").read_text()
    assert "```python\n" + example + "```" in (ROOT / "docs" / "runtime.md").read_text()



async def test_matchmaker_stats(world: World):
    (alice, a), (_, b) = await players(world, 2)
    mine = pool()
    await add(a, add_body(mine))
    r = await world.api.get("/v2/matchmaker/stats", alice.token)
    assert r.status == 200, r
    assert r.json["ticket_count"] >= 1
    oldest = r.json["oldest_ticket_create_time"]
    assert oldest.endswith("Z") and len(oldest) == len("2026-01-01T00:00:00Z")
    await add(b, add_body(mine))
    await a.push("matchmaker_matched", timeout=5)
    r = await world.api.get("/v2/matchmaker/stats", alice.token)
    assert set(r.json) <= {"ticket_count", "oldest_ticket_create_time", "completions"}
    last = r.json["completions"][-1]
    assert set(last) == {"create_time", "complete_time"}
    assert last["create_time"] <= last["complete_time"]
