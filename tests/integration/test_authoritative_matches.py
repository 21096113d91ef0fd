"""Authoritative matches end to end: a real `kizuna server` running Python match handlers
(tests/integration/match_modules/probe.py, steered by the tests, and the worked example
docs/examples/modules/tictactoe.py), players on real sockets, on real PostgreSQL.

What is asserted is what players and server code observe: the socket's `match` replies, error
envelopes, presence events and `match_data`; what `nk.match_*` and GET /v2/match answer; and, for
what only the operator sees (a crash, an overrun, the shutdown), the server's log and files the
handler writes. Most tests share one server; the shutdown test starts its own.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kizuna.runtime.errors import RegistrationError
from kizuna.runtime.registry import Initializer, Registry
from tests.conftest import PG, ROOT, _admin, server_on_fresh_database, start_server
from tests.integration.nakama_http import Api, assert_error
from tests.integration.test_realtime import Player, Sock, World, presence

pytestmark = pytest.mark.timeout(180)

HTTP_KEY = "matches-http-key"
PROBE = Path(__file__).resolve().parent / "match_modules" / "probe.py"
TICTACTOE = ROOT / "docs" / "examples" / "modules" / "tictactoe.py"
NODE = "kizuna"
TICK, JOINED, LEFT, BATCH, TERMINATING = 100, 101, 102, 103, 104


def _modules(where: Path) -> Path:
    mods = where / "modules"
    mods.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROBE, mods / "probe.py")
    shutil.copy(TICTACTOE, mods / "tictactoe.py")
    return mods


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("matches")
    with server_on_fresh_database(tmp, "--runtime.path", str(_modules(tmp)),
                                  "--runtime.http_key", HTTP_KEY,
                                  "--match.input_queue_size", "5") as s:
        yield s


@pytest.fixture
async def world(srv):
    async with aiohttp.ClientSession(skip_auto_headers=["Accept-Encoding"]) as http:
        w = World(srv, http)
        yield w
        await w.close()


# -- helpers -------------------------------------------------------------------------------------


async def call_rpc(api: Api, name: str, payload: Any) -> Any:
    """An RPC with the HTTP key (no user): (status, body)."""
    r = await api.call("POST", f"/v2/rpc/{name}", data=json.dumps(json.dumps(payload)),
                       params={"http_key": HTTP_KEY})
    return r.status, r.json


async def rpc(w: World, name: str, payload: Any) -> str:
    status, body = await call_rpc(w.api, name, payload)
    assert status == 200, (name, payload, status, body)
    return body["payload"]


async def create(w: World, **params: Any) -> str:
    return json.loads(await rpc(w, "probe_create", params))["match_id"]


async def signal(w: World, match_id: str, **command: Any) -> str:
    return await rpc(w, "probe_signal", {"match_id": match_id, "command": command})


async def stats(w: World, match_id: str) -> dict:
    return json.loads(await signal(w, match_id, do="stats"))


async def get(w: World, match_id: str) -> dict | None:
    return json.loads(await rpc(w, "probe_get", {"match_id": match_id}))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def decoded(push: dict) -> Any:
    return json.loads(base64.b64decode(push.get("data", "")) or b"null")


async def op(sock: Sock, code: int, where=None, timeout: float = 15.0) -> Any:
    """The next `match_data` with this op code (optionally matching `where(decoded data)`)."""
    push = await sock.push("match_data", timeout=timeout, where=lambda b: b.get("op_code") == str(
        code) and (where is None or where(decoded(b))))
    return decoded(push)


async def join(sock: Sock, match_id: str, **metadata: str) -> dict:
    r = await sock.request("match_join", {"match_id": match_id, "metadata": metadata})
    assert "match" in r, r
    return r["match"]


async def player_in(w: World, match_id: str, **metadata: str) -> tuple[Player, Sock, str]:
    p = await w.player()
    s = await w.connect(p)
    m = await join(s, match_id, **metadata)
    return p, s, m["self"]["session_id"]


async def log_has(server, text: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in server.log():
        assert time.monotonic() < deadline, f"{text!r} not in the server log"
        await asyncio.sleep(0.05)


async def fresh_tick(w: World, sock: Sock, match_id: str) -> None:
    """Wait for a tick that ran after now (the TICK the probe defers when announcing)."""
    now = (await stats(w, match_id))["tick"]
    await op(sock, TICK, where=lambda d: d["tick"] >= now)


def send(match_id: str, op_code: Any, data: str = "", **extra: Any) -> str:
    body = {"match_id": match_id, "op_code": str(op_code), "data": b64(data), **extra}
    return json.dumps({"match_data_send": body})


# -- registration --------------------------------------------------------------------------------


def _f7(ctx, logger, nk, dispatcher, tick, state, x):
    return state


class _Handler:
    def match_init(self, ctx, logger, nk, params):
        return {}, 1, ""

    def match_join_attempt(self, ctx, logger, nk, dispatcher, tick, state, presence, metadata):
        return state, True, None

    match_join = match_leave = match_loop = match_terminate = match_signal = staticmethod(_f7)


def test_register_match_checks_the_handler():
    reg = Registry()
    init = Initializer("mod", reg)
    init.register_match("game", _Handler())
    init.register_match("as_dict", {name: getattr(_Handler(), name) for name in (
        "match_init", "match_join_attempt", "match_join", "match_leave", "match_loop",
        "match_terminate", "match_signal")})
    assert sorted(reg.matches) == ["as_dict", "game"]
    assert reg.matches["game"].loop.label == "match game match_loop"
    assert "match: as_dict, game" in reg.summary()

    class NoLoop(_Handler):
        match_loop = None  # type: ignore[assignment]

    class BadJoin(_Handler):
        def match_join(self, ctx, logger, nk, presences):
            return None

    cases = [
        (lambda: init.register_match("game", _Handler()),
         "A match handler named 'game' is already registered (by module mod)"),
        (lambda: init.register_match("", _Handler()), "the name must be a non-empty string"),
        (lambda: init.register_match("x", _Handler), "got the class _Handler: pass an instance"),
        (lambda: init.register_match("x", NoLoop()), "the handler has no match_loop"),
        (lambda: init.register_match("x", object()),
         "the handler has no match_init, match_join_attempt, match_join"),
        (lambda: init.register_match("x", BadJoin()),
         "register_match 'x': match_join: match_join(ctx, logger, nk, presences) must accept 7 "
         "arguments (ctx, logger, nk, dispatcher, tick, state, presences)"),
    ]
    for make, message in cases:
        with pytest.raises(RegistrationError) as info:
            make()
        assert message in str(info.value)


def test_the_worked_example_in_the_docs_is_the_file_the_tests_play():
    example = TICTACTOE.read_text()
    assert "```python\n" + example + "```" in (ROOT / "docs" / "runtime.md").read_text()


# -- ticks ---------------------------------------------------------------------------------------


async def _rate(w: World, match_id: str) -> float:
    first, started = await stats(w, match_id), time.monotonic()
    await asyncio.sleep(1.5)
    last, ended = await stats(w, match_id), time.monotonic()
    return (last["ticks"] - first["ticks"]) / (ended - started)


async def test_each_match_ticks_at_its_rate(world: World):
    fast = await create(world, tick_rate=20)
    slow = await create(world, handler="probe_async", tick_rate=4)  # coroutines
    assert fast.endswith(f".{NODE}") and uuid.UUID(fast.split(".")[0])
    fast_rate, slow_rate = await asyncio.gather(_rate(world, fast), _rate(world, slow))
    assert 14 <= fast_rate <= 24, fast_rate
    assert 2.5 <= slow_rate <= 5, slow_rate
    s = await stats(world, fast)
    assert s["ctx"] == {"match_id": fast, "node": NODE, "mode": "match"}
    assert s["tick"] == s["ticks"]  # tick counts the loops run: 0 in the first
    assert await get(world, slow) == {"match_id": slow, "authoritative": True, "label": "",
                                      "size": 0, "tick_rate": 4, "handler_name": "probe_async"}


# -- joins -----------------------------------------------------------------------------------------


async def test_join_attempts_accept_and_reject(world: World):
    match_id = await create(world, label="lobby")
    alice = await world.player()
    a = await world.connect(alice)
    m = await join(a, match_id, team="red")
    a_sid = m["self"]["session_id"]
    assert m == {"match_id": match_id, "authoritative": True, "label": "lobby", "size": 1,
                 "self": presence(alice, a_sid)}
    assert await a.push("match_presence_event") == {"match_id": match_id,
                                                    "joins": [presence(alice, a_sid)]}
    # The handler's match_join got the presence, with the node, after the join attempt with the
    # join's metadata.
    assert await op(a, JOINED) == {"users": [alice.uid], "metadata": [{"team": "red"}],
                                   "nodes": [NODE]}

    # Refused, with the handler's reason, and nobody hears of it.
    bob = await world.player()
    b = await world.connect(bob)
    r = await b.request("match_join", {"match_id": match_id, "metadata": {"deny": "Invite only."}})
    assert r["error"] == {"code": 5, "message": "Invite only."}
    await a.no_push("match_presence_event")
    # Accepted: Bob sees Alice; Alice sees Bob come in.
    m = await join(b, match_id)
    b_sid = m["self"]["session_id"]
    assert m == {"match_id": match_id, "authoritative": True, "label": "lobby", "size": 2,
                 "presences": [presence(alice, a_sid)], "self": presence(bob, b_sid)}
    assert await a.push("match_presence_event") == {"match_id": match_id,
                                                    "joins": [presence(bob, b_sid)]}
    # Joining again changes nothing (no new attempt): the reply lists everyone.
    again = await join(b, match_id)
    assert again["size"] == 2 and len(again["presences"]) == 2
    assert (await stats(world, match_id))["joined"] == [alice.uid, bob.uid]

    # Unknown matches, other nodes, bad input.
    for unknown in (f"{uuid.uuid4()}.{NODE}", match_id.split(".")[0] + ".othernode"):
        r = await b.request("match_join", {"match_id": unknown})
        assert r["error"] == {"code": 4, "message": "Match not found"}
    r = await b.request("match_join", {"match_id": match_id, "metadata": {"n": 1}})
    assert r["error"]["code"] == 3


@contextlib.asynccontextmanager
async def own_server(tmp_path: Path, *flags: str):
    """A server of its own (other flags), on a database of its own."""
    db = f"kzt_{uuid.uuid4().hex[:16]}"
    own = start_server(["--migrate", "--database.address", f"{PG}/{db}", "--logger.format", "text",
                        "--runtime.path", str(_modules(tmp_path)), "--runtime.http_key", HTTP_KEY,
                        *flags], tmp_path)
    try:
        yield own
    finally:
        await asyncio.to_thread(own.stop)
        await _admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


async def test_a_socket_may_be_in_a_bounded_number_of_matches(tmp_path):
    async with own_server(tmp_path, "--socket.max_matches_per_socket", "1") as own, \
            aiohttp.ClientSession() as http:
        w = World(own, http)
        first, second = await create(w), await create(w)
        p = await w.player()
        s = await w.connect(p)
        await join(s, first)
        r = await s.request("match_join", {"match_id": second})
        assert r["error"] == {"code": 3, "message": "Match limit reached - a socket may be in "
                                                     "at most 1 matches."}
        assert (await stats(w, second))["joined"] == []  # no join attempt was made
        await w.close()


async def test_single_match_leaves_the_previous_match(tmp_path):
    async with own_server(tmp_path, "--session.single_socket", "true",
                          "--session.single_match", "true") as own, \
            aiohttp.ClientSession() as http:
        w = World(own, http)
        first, second = await create(w), await create(w)
        p = await w.player()
        s = await w.connect(p)
        await join(s, first)
        await join(s, second)
        await poll_stats(w, first, lambda st: st["left"] == [p.uid])  # its match_leave ran
        assert (await get(w, first))["size"] == 0 and (await get(w, second))["size"] == 1
        await w.close()


# -- inputs ------------------------------------------------------------------------------------------


async def test_inputs_are_batched_into_the_next_loop_and_bounded(world: World):
    match_id = await create(world, tick_rate=2, announce=True)
    alice, a, _ = await player_in(world, match_id)
    _, b, _ = await player_in(world, match_id)
    await fresh_tick(world, a, match_id)  # a tick just ran: the next one is ~500 ms away
    await a.send_raw(send(match_id, 10, "m0", reliable=True))
    await a.send_raw(send(match_id, 11, "m1"))
    await a.send_raw(send(match_id, 12, "m2"))
    batch = await op(b, BATCH)
    assert batch["inputs"] == [[10, "m0", alice.uid, True, True], [11, "m1", alice.uid, False, True],
                               [12, "m2", alice.uid, False, True]]
    # The deferred TICK of that tick comes after what the loop sent at once (not read yet).
    assert not [p for p in b.pushes if "match_data" in p and p["match_data"].get("op_code") == "100"
                and decoded(p["match_data"])["tick"] == batch["tick"]]
    await op(b, TICK, where=lambda d: d["tick"] == batch["tick"])
    # Inputs reach the loop: they are not relayed to the other players.
    assert not [p for p in b.pushes if "match_data" in p and p["match_data"].get("op_code") in
                ("10", "11", "12")]

    # At most match.input_queue_size (5 here) per tick; the rest are dropped.
    await fresh_tick(world, a, match_id)
    for i in range(8):
        await a.send_raw(send(match_id, 20 + i, f"x{i}"))
    batch = await op(b, BATCH)
    assert [i[0] for i in batch["inputs"]] == [20, 21, 22, 23, 24]
    await log_has(world.server, "Match input queue full")

    # Someone not in the match is ignored; bad input gets an error envelope (no cid).
    outsider = await world.connect(await world.player())
    await outsider.send_raw(send(match_id, 30, "nope"))
    await fresh_tick(world, a, match_id)
    await a.send_raw(send(match_id, 31, "yes"))
    assert [i[0] for i in (await op(b, BATCH))["inputs"]] == [31]
    await a.send_raw(json.dumps({"match_data_send": {"match_id": match_id,
                                                     "op_code": str(2**63)}}))
    assert await a.push("error") == {"code": 3, "message": "op_code: out of range for int64"}
    await a.send_raw(json.dumps({"match_data_send": {"match_id": match_id, "op_code": "1",
                                                     "data": "***"}}))
    assert await a.push("error") == {"code": 3, "message": "Invalid match data"}


# -- leaving -----------------------------------------------------------------------------------------


async def test_leaves_disconnects_and_kicks(world: World):
    match_id = await create(world)
    alice, a, a_sid = await player_in(world, match_id)
    bob, b, b_sid = await player_in(world, match_id)
    carol, c, c_sid = await player_in(world, match_id)
    await op(b, JOINED, where=lambda d: d["users"] == [carol.uid])

    def leaving(who: Player, sid: str):
        return {"match_id": match_id, "leaves": [presence(who, sid)]}

    # match_leave: the others hear it, and so does the handler (match_leave).
    assert await a.request("match_leave", {"match_id": match_id}) == {"cid": "2"}
    assert await b.push("match_presence_event", where=lambda e: "leaves" in e) == leaving(alice,
                                                                                          a_sid)
    assert await op(b, LEFT) == {"users": [alice.uid]}
    # A socket that closes leaves too.
    await c.close()
    assert await b.push("match_presence_event", where=lambda e: "leaves" in e) == leaving(carol,
                                                                                          c_sid)
    assert await op(b, LEFT) == {"users": [carol.uid]}
    # A kick: the kicked player is told, match_leave follows, its inputs are ignored.
    assert await signal(world, match_id, do="kick",
                        presences=[{"user_id": bob.uid, "session_id": b_sid}]) == "kicked"
    assert await b.push("match_presence_event", where=lambda e: "leaves" in e) == leaving(bob,
                                                                                          b_sid)
    assert await poll_stats(world, match_id, lambda s: s["left"] == [alice.uid, carol.uid, bob.uid])
    assert (await get(world, match_id))["size"] == 0


async def poll_stats(w: World, match_id: str, check, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check(await stats(w, match_id)):
            return True
        await asyncio.sleep(0.05)
    raise AssertionError(f"stats never matched: {await stats(w, match_id)}")


# -- labels and listings -----------------------------------------------------------------------------


async def test_labels_are_listed_and_searchable(world: World):
    tag = uuid.uuid4().hex[:8]
    duel = await create(world, label=json.dumps({"mode": "duel", "level": 7, "ranked": True,
                                                 "tag": tag, "map": {"name": "dunes"}}))
    ffa = await create(world, label=json.dumps({"mode": "ffa", "level": 2, "tag": tag}))
    plain = await create(world, label=f"plain-{tag}")
    host = await world.player()
    hs = await world.connect(host)
    relayed = (await hs.request("match_create", {}))["match"]["match_id"]

    async def listed(**args: Any) -> list[dict]:
        return json.loads(await rpc(world, "probe_list", {"limit": 100, **args}))

    def ids(items: list[dict]) -> list[str]:
        return [m["match_id"] for m in items]

    q = f"+label.tag:{tag}"
    assert ids(await listed(authoritative=True, query=f"{q} +label.level:>=5")) == [duel]
    assert ids(await listed(query=f"{q} +label.ranked:true +label.map.name:dunes")) == [duel]
    assert ids(await listed(query=f"{q} -label.mode:duel")) == [ffa]
    # Without a required clause, optional ones rank: the best match first.
    assert ids(await listed(query=f"label.tag:{tag} label.mode:ffa^5"))[:2] == [ffa, duel]
    assert ids(await listed(label=f"plain-{tag}")) == [plain]
    [found] = await listed(label=f"plain-{tag}")
    assert found == {"match_id": plain, "authoritative": True, "label": f"plain-{tag}",
                     "size": 0, "tick_rate": 10, "handler_name": "probe"}
    # Relayed matches come too unless authoritative is True (and never with a label or query).
    assert relayed in ids(await listed())
    assert relayed in ids(await listed(authoritative=False))
    assert duel not in ids(await listed(authoritative=False))
    assert relayed not in ids(await listed(authoritative=True))
    # Sizes.
    await join(hs, duel)
    assert ids(await listed(query=q, min_size=1)) == [duel]
    assert ids(await listed(query=q, max_size=0, limit=1)) in ([ffa], [plain])

    # The label changes: listings, queries and the handler's ctx see it.
    new_label = json.dumps({"mode": "duel", "level": 1, "tag": tag})
    assert await signal(world, duel, do="label", label=new_label) == "labelled"
    assert ids(await listed(query=f"{q} +label.level:>=5")) == []
    assert (await get(world, duel))["label"] == new_label
    await poll_stats(world, duel, lambda s: s["label_seen"] == new_label)

    # The same over REST (GET /v2/match), with Nakama's rules.
    token = (await world.api.login("device", {"id": f"dev-{uuid.uuid4().hex}"}))["token"]
    r = await world.api.get("/v2/match", token, params={
        "limit": "10", "authoritative": "true", "query": f"{q} +label.mode:ffa"})
    assert r.status == 200, r
    assert r.json == {"matches": [{"match_id": ffa, "authoritative": True,
                                   "label": json.dumps({"mode": "ffa", "level": 2, "tag": tag}),
                                   "tick_rate": 10, "handler_name": "probe"}]}
    r = await world.api.get("/v2/match", token, params={"limit": "100"})
    listed_rest = {m["match_id"]: m for m in r.json["matches"]}
    assert listed_rest[relayed] == {"match_id": relayed, "size": 1}
    r = await world.api.get("/v2/match", token, params={"authoritative": "true",
                                                        "label": f"none-{tag}"})
    assert (r.status, r.json) == (200, {})
    r = await world.api.get("/v2/match", token)  # limit 1 by default
    assert len(r.json["matches"]) == 1
    for params, message in (
            ({"label": "x"}, "Label filtering is not supported for non-authoritative matches."),
            ({"query": "x", "authoritative": "false"},
             "Query filtering is not supported for non-authoritative matches."),
            ({"limit": "0"}, "Invalid limit - limit must be between 1 and 100."),
            ({"min_size": "-1"}, "Invalid minimum size - min size must be >= 0."),
            ({"min_size": "3", "max_size": "2"},
             "Invalid maximum size - max size must be >= min size.")):
        assert_error(await world.api.get("/v2/match", token, params=params), 400, 3, message)
    r = await world.api.get("/v2/match", token, params={"authoritative": "true",
                                                        "query": "label.a:[1 TO"})
    assert (r.status, r.json["code"]) == (400, 3)
    assert r.json["message"].startswith("Invalid match query: ")


# -- signals and the dispatcher ----------------------------------------------------------------------


async def test_signals_and_dispatcher_checks(world: World):
    match_id = await create(world)
    alice, a, a_sid = await player_in(world, match_id)
    # A broadcast from server code, with a sender and to chosen presences.
    assert await signal(world, match_id, do="send", op_code=-9, data="ping",
                        presences=[{"session_id": a_sid}],
                        sender={"user_id": alice.uid, "session_id": a_sid,
                                "username": alice.username}) == "sent"
    push = await a.push("match_data", where=lambda b: b.get("op_code") == "-9")
    assert push == {"match_id": match_id, "presence": presence(alice, a_sid), "op_code": "-9",
                    "data": b64("ping"), "reliable": True}
    # What the dispatcher refuses raises Error (code 3) to the handler: the match goes on.
    errors = json.loads(await signal(world, match_id, do="bad_op_code"))
    assert errors == [
        ["Error", 3, "op_code: expected an integer in the int64 range, got 9223372036854775808."],
        ["Error", 3, "op_code: expected an integer in the int64 range, got "
                     "-9223372036854775809."],
        ["Error", 3, "op_code: expected an integer in the int64 range, got '7'."],
        ["Error", 3, "op_code: expected an integer in the int64 range, got True."],
        ["Error", 3, "match label: at most 2048 bytes"]]
    assert (await get(world, match_id)) is not None

    # Signals to matches that do not run, and a signal that ends its match.
    status, body = await call_rpc(world.api, "probe_signal", {
        "match_id": f"{uuid.uuid4()}.{NODE}", "command": {"do": "stats"}})
    assert (status, body["code"], body["message"]) == (404, 5, "Match not found")
    assert await signal(world, match_id, do="end") == "ending"
    assert await a.push("match_presence_event", where=lambda e: "leaves" in e) == {
        "match_id": match_id, "leaves": [presence(alice, a_sid)]}
    assert await get(world, match_id) is None
    status, body = await call_rpc(world.api, "probe_get", {"match_id": "not-a-match"})
    assert (status, body["code"], body["message"]) == (400, 3, "Invalid match ID")


# -- failures and ends -------------------------------------------------------------------------------


async def test_a_crashing_handler_ends_only_its_match(world: World, srv):
    victim = await create(world, crash_at=5, tick_rate=10)
    survivor = await create(world, tick_rate=10)
    alice, a, a_sid = await player_in(world, victim)
    _, b, _ = await player_in(world, survivor)
    # The victim's players are told it is over; it is gone.
    assert await a.push("match_presence_event", where=lambda e: "leaves" in e) == {
        "match_id": victim, "leaves": [presence(alice, a_sid)]}
    assert await get(world, victim) is None
    r = await a.request("match_join", {"match_id": victim})
    assert r["error"] == {"code": 4, "message": "Match not found"}
    await log_has(srv, "RuntimeError: boom at tick 5")
    log = srv.log()
    assert "Match handler match_loop failed: the match ends" in log and victim in log
    assert 'probe.py", line' in log  # the traceback points at the module
    # The other match, its player and the server go on.
    ticks = (await stats(world, survivor))["ticks"]
    await poll_stats(world, survivor, lambda s: s["ticks"] > ticks + 3)
    await b.no_push("error", wait=0.2)
    assert not [e for e in b.pushes if "leaves" in e.get("match_presence_event", {})]
    assert (await get(world, survivor))["size"] == 1

    # A join attempt that raises: that match ends, the joiner is told it is not found.
    doomed = await create(world)
    r = await b.request("match_join", {"match_id": doomed, "metadata": {"crash": "1"}})
    assert r["error"] == {"code": 4, "message": "Match not found"}
    assert await get(world, doomed) is None
    # A signal that raises ends its match; the caller gets an error.
    doomed = await create(world)
    status, body = await call_rpc(world.api, "probe_signal",
                                  {"match_id": doomed, "command": {"do": "crash"}})
    assert (status, body["code"]) == (500, 13)
    assert body["message"] == "match_signal failed: the match ended."
    assert await get(world, doomed) is None
    await log_has(srv, "ValueError: signal exploded")

    # Creation failures reach the caller.
    for params, status, code, message in (
            ({"handler": "nope"}, 404, 5, "No match handler is registered as 'nope'."),
            ({"fail_init": True}, 500, 13,
             "Match not created: match_init of 'probe' failed (see the server log)."),
            ({"tick_rate": 61}, 500, 13, "Match not created: match_init of 'probe' returned the "
                                         "tick rate 61: expected an integer from 1 to 60."),
            ({"label": "x" * 2049}, 500, 13, "Match not created: match_init of 'probe' returned "
                                             "a bad label: match label: at most 2048 bytes.")):
        got_status, body = await call_rpc(world.api, "probe_create", params)
        assert (got_status, body["code"], body["message"]) == (status, code, message), params


async def test_a_loop_returning_none_ends_the_match_and_overruns_are_logged(world: World, srv):
    ending = await create(world, end_at=3, tick_rate=10)
    alice, a, a_sid = await player_in(world, ending)
    assert await a.push("match_presence_event", where=lambda e: "leaves" in e) == {
        "match_id": ending, "leaves": [presence(alice, a_sid)]}
    assert await get(world, ending) is None
    await log_has(srv, "match_loop returned no state")

    slow = await create(world, tick_rate=10, sleep_ms=250)  # 250 ms loops, 100 ms ticks
    await log_has(srv, "Match loop overran its tick")
    rate = await _rate(world, slow)
    assert 2 <= rate <= 4.5, rate  # as fast as the loop allows: ~4 a second
    assert (await get(world, slow)) is not None
    await signal(world, slow, do="end")

    # A plain match_loop busy with CPU work runs in a worker thread: the sockets keep answering.
    busy = await create(world, tick_rate=5, busy_ms=400)
    sock = await world.connect(await world.player())
    await stats(world, busy)
    slowest = 0.0
    for _ in range(10):
        started = time.monotonic()
        assert "pong" in await sock.request("ping", {})
        slowest = max(slowest, time.monotonic() - started)
        await asyncio.sleep(0.05)
    assert slowest < 0.25, slowest
    await signal(world, busy, do="end")


# -- the worked example --------------------------------------------------------------------------


async def test_tictactoe(world: World):
    match_id = json.loads(await rpc(world, "tictactoe_create", {}))["match_id"]
    token = (await world.api.login("device", {"id": f"dev-{uuid.uuid4().hex}"}))["token"]

    async def open_games() -> list[str]:
        r = await world.api.get("/v2/match", token, params={
            "limit": "100", "authoritative": "true",
            "query": "+label.game:tictactoe +label.seats:>=1"})
        return [m["match_id"] for m in r.json.get("matches", [])]

    assert match_id in await open_games()
    p1, s1, _ = await player_in(world, match_id)
    p2, s2, _ = await player_in(world, match_id)
    start = await op(s1, 1)
    assert start == await op(s2, 1)
    assert start["marks"] == {p1.uid: "X", p2.uid: "O"} and start["turn"] == p1.uid
    assert match_id not in await open_games()
    third = await world.connect(await world.player())
    r = await third.request("match_join", {"match_id": match_id})
    assert r["error"] == {"code": 5, "message": "This game is full."}

    # O moves out of turn: told alone.
    await s2.send_raw(send(match_id, 2, json.dumps({"cell": 4})))
    assert await op(s2, 5) == {"error": "It is not your turn."}
    for sock, cell in ((s1, 0), (s2, 3), (s1, 1), (s2, 4)):
        await sock.send_raw(send(match_id, 2, json.dumps({"cell": cell})))
        await op(s1, 3, where=lambda v, c=cell: v["board"][c])
    await s2.send_raw(send(match_id, 2, json.dumps({"cell": 0})))  # not O's turn either
    assert await op(s2, 5) == {"error": "It is not your turn."}
    view = json.loads(await rpc(world, "tictactoe_view", {"match_id": match_id}))
    assert view["board"] == ["X", "X", "", "O", "O", "", "", "", ""]
    await s1.send_raw(send(match_id, 2, json.dumps({"cell": 2})))
    for sock in (s1, s2):
        done = await op(sock, 4)
        assert done["winner"] == p1.uid and done["board"][:3] == ["X", "X", "X"]
        assert (await sock.push("match_presence_event", where=lambda e: "leaves" in e))[
            "match_id"] == match_id
    status, body = await call_rpc(world.api, "tictactoe_view", {"match_id": match_id})
    assert (status, body["message"]) == (404, "No such game.")


# -- shutdown ------------------------------------------------------------------------------------


async def test_matches_get_match_terminate_with_the_grace_period_on_shutdown(tmp_path):
    marker = tmp_path / "terminated.jsonl"
    async with own_server(tmp_path, "--runtime.env", f"TERMINATE_MARKER={marker}",
                          "--shutdown_grace_sec", "4", "--match.max_matches", "2") as own, \
            aiohttp.ClientSession() as http:
        w = World(own, http)
        quick = await create(w, tick_rate=5)
        lingering = await create(w, tick_rate=5, linger=True)
        status, body = await call_rpc(w.api, "probe_create", {})
        assert (status, body["code"], body["message"]) == (
            429, 8, "Match limit reached - this node runs at most 2 matches (match.max_matches).")
        p = await w.player()
        s = await w.connect(p)
        await join(s, quick)
        await join(s, lingering)
        stopping = asyncio.create_task(asyncio.to_thread(own.stop))
        told = {}
        for _ in range(2):
            push = await s.push("match_data", where=lambda b: b.get("op_code") == "104")
            told[push["match_id"]] = (decoded(push), time.monotonic())
        assert {k: v[0] for k, v in told.items()} == {quick: {"grace": 4}, lingering: {"grace": 4}}
        ends = {}
        for _ in range(2):
            e = await s.push("match_presence_event", where=lambda e: "leaves" in e)
            ends[e["match_id"]] = time.monotonic()
        # The one whose match_terminate returned None ended at once; the other ran on into the
        # grace period.
        assert ends[quick] - told[quick][1] < 1.0
        assert ends[lingering] - told[lingering][1] > 1.0
        assert await stopping == 0
    lines = [json.loads(line) for line in marker.read_text().splitlines()]
    assert sorted(lines, key=lambda x: x["match_id"]) == sorted(
        [{"match_id": quick, "grace": 4}, {"match_id": lingering, "grace": 4}],
        key=lambda x: x["match_id"])
    log = own.log()
    assert "Stopped matches" in log and "Shutdown complete" in log
    assert "Matches stopped at the shutdown deadline" not in log
