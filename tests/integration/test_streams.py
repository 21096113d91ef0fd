"""Custom streams through `nk.stream_*` (kizuna/core/streams.py), against a real `kizuna server`:
server code puts connected sessions on streams, sends to them, lists, counts, kicks and closes;
the sockets get exactly the `stream_data` and `stream_presence_event` envelopes a Nakama client
expects.

Players join through a socket RPC (`join_me`: the session calling it); everything else is an RPC
called with the HTTP key (`op`: any stream call by name, blocking in a worker thread, or
`op_async`: the same through `nk.aio` on the event loop). One server serves every test; each test
uses streams and users of its own.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from typing import Any

import aiohttp
import pytest

from tests.conftest import ServerProcess, server_on_fresh_database, write_modules
from tests.integration.nakama_http import Api
from tests.integration.test_realtime import Player, Sock, World

pytestmark = pytest.mark.timeout(120)

HTTP_KEY = "streamshttpkey"

MODULE = textwrap.dedent('''
    def join_me(ctx, logger, nk, payload):
        """Socket RPC: put the calling session on the stream in the payload."""
        p = nk.json_decode(payload)
        joined = nk.stream_user_join(ctx.user_id, ctx.session_id, p["stream"],
                                     p.get("hidden", False), p.get("persistence", True),
                                     p.get("status", ""))
        return {"joined": joined, "session_id": ctx.session_id}


    def op(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        return {"result": getattr(nk, p["op"])(*p.get("args", []), **p.get("kwargs", {}))}


    async def op_async(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        return {"result": await getattr(nk.aio, p["op"])(*p.get("args", []),
                                                         **p.get("kwargs", {}))}


    def init_module(ctx, logger, nk, initializer):
        initializer.register_rpc("join_me", join_me)
        initializer.register_rpc("op", op)
        initializer.register_rpc("op_async", op_async)
''')


@pytest.fixture(scope="module")
def streams_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("streams")
    modules = write_modules(tmp, kz_streams_module=MODULE)
    with server_on_fresh_database(tmp, "--runtime.path", str(modules),
                                  "--runtime.http_key", HTTP_KEY) as srv:
        yield srv


@pytest.fixture
async def world(streams_server: ServerProcess):
    async with aiohttp.ClientSession(skip_auto_headers=["Accept-Encoding"]) as http:
        w = World(streams_server, http)
        yield w
        await w.close()


def custom(label: str | None = None, **extra: Any) -> dict[str, Any]:
    """A custom stream (mode 100) of the test's own."""
    return {"mode": 100, "label": label or f"s-{uuid.uuid4().hex[:8]}", **extra}


async def call(api: Api, op: str, *args: Any, aio: bool = False, **kwargs: Any) -> tuple[int, Any]:
    """A stream call by name, in an RPC with the HTTP key: (200, result) or (status, error)."""
    r = await api.call("POST", f"/v2/rpc/{'op_async' if aio else 'op'}",
                       data=json.dumps(json.dumps({"op": op, "args": args, "kwargs": kwargs})),
                       params={"http_key": HTTP_KEY})
    if r.status == 200:
        return 200, json.loads(r.json["payload"])["result"]
    return r.status, r.json


async def ok(api: Api, op: str, *args: Any, **kwargs: Any) -> Any:
    status, out = await call(api, op, *args, **kwargs)
    assert status == 200, out
    return out


async def refused(api: Api, status: int, code: int, message: str, op: str, *args: Any,
                  **kwargs: Any) -> None:
    assert await call(api, op, *args, **kwargs) == (
        status, {"error": message, "message": message, "code": code})


async def join(sock: Sock, stream: dict[str, Any], **options: Any) -> tuple[bool, str]:
    """Put this socket's session on the stream (socket RPC): (joined, session id)."""
    r = await sock.request("rpc", {"id": "join_me",
                                   "payload": json.dumps({"stream": stream, **options})})
    out = json.loads(r["rpc"]["payload"])
    return out["joined"], out["session_id"]


def wire(p: Player, sid: str, **extra: Any) -> dict[str, Any]:
    """A presence as a stream_presence_event carries it (persistence: Lua's default, true)."""
    return {"user_id": p.uid, "session_id": sid, "username": p.username, "persistence": True,
            **extra}


def listed(p: Player, sid: str, **extra: Any) -> dict[str, Any]:
    """A presence as nk.stream_user_list returns it."""
    return {"user_id": p.uid, "session_id": sid, "node": "kizuna", "hidden": False,
            "persistence": True, "username": p.username, "status": "", **extra}


async def test_join_send_list_count_kick_close(world: World):
    a, b, c = await world.player(), await world.player(), await world.player()
    sa, sb, sc = await world.connect(a), await world.connect(b), await world.connect(c)
    stream = custom("lobby-" + uuid.uuid4().hex[:6])
    sid_stream = {"mode": 100, "label": stream["label"]}

    # A joins: its own socket gets the join (everyone on the stream does, the joiner too).
    assert (await join(sa, stream))[0] is True
    ida = (await join(sa, stream))[1]
    assert (await join(sa, stream))[0] is False  # already on it: left as it is
    assert await sa.push("stream_presence_event") == {"stream": sid_stream,
                                                      "joins": [wire(a, ida)]}
    await sa.no_push("stream_presence_event")  # the rejoins changed nothing

    joined, idb = await join(sb, stream)
    assert joined
    event = {"stream": sid_stream, "joins": [wire(b, idb)]}
    assert await sa.push("stream_presence_event") == event
    assert await sb.push("stream_presence_event") == event

    # A hidden presence: on the stream (it receives data and events), announced to nobody.
    joined, idc = await join(sc, stream, hidden=True, persistence=False, status="lurking")
    assert joined
    await sa.no_push("stream_presence_event")

    assert await ok(world.api, "stream_count", stream) == 3
    everyone = await ok(world.api, "stream_user_list", stream)
    assert sorted(everyone, key=lambda p: p["session_id"]) == sorted(
        [listed(a, ida), listed(b, idb),
         listed(c, idc, hidden=True, persistence=False, status="lurking")],
        key=lambda p: p["session_id"])
    shown = await ok(world.api, "stream_user_list", stream, False, True)
    assert sorted(p["session_id"] for p in shown) == sorted([ida, idb])
    assert [p["session_id"] for p in
            await ok(world.api, "stream_user_list", stream, include_not_hidden=False)] == [idc]
    assert await ok(world.api, "stream_user_get", c.uid, idc, stream) == {
        "hidden": True, "persistence": False, "username": c.username, "status": "lurking"}
    assert await ok(world.api, "stream_user_get", a.uid, idc, stream) is None  # not A's session

    # Data to the whole stream (hidden presences too), then to one session only.
    assert await ok(world.api, "stream_send", stream, "hello") is None
    data = {"stream": sid_stream, "data": "hello", "reliable": True}
    for s in (sa, sb, sc):
        assert await s.push("stream_data") == data
    await ok(world.api, "stream_send", stream, "psst", [{"session_id": idb}], False, aio=True)
    assert await sb.push("stream_data") == {"stream": sid_stream, "data": "psst"}
    await sa.no_push("stream_data")
    await sc.no_push("stream_data")

    # An update is a leave of the old presence and a join of the new one.
    await ok(world.api, "stream_user_update", a.uid, ida, stream, status="busy")
    event = {"stream": sid_stream, "joins": [wire(a, ida)], "leaves": [wire(a, ida)]}
    for s in (sa, sb, sc):  # the hidden presence hears it too
        assert await s.push("stream_presence_event") == event
    assert (await ok(world.api, "stream_user_get", a.uid, ida, stream))["status"] == "busy"

    # Kick B (a presence as listed): the others hear it leave; B is off the stream.
    await ok(world.api, "stream_user_kick", listed(b, idb), stream)
    event = {"stream": sid_stream, "leaves": [wire(b, idb)]}
    assert await sa.push("stream_presence_event") == event
    assert await sc.push("stream_presence_event") == event
    await sb.no_push("stream_presence_event")  # no longer on it
    await ok(world.api, "stream_send", stream, "after the kick")
    assert (await sa.push("stream_data"))["data"] == "after the kick"
    await sb.no_push("stream_data")
    assert await ok(world.api, "stream_count", stream) == 2

    # A leaves by user and session; leaving twice, or with another user's id, does nothing.
    await ok(world.api, "stream_user_leave", b.uid, ida, stream)
    assert await ok(world.api, "stream_count", stream) == 2
    await ok(world.api, "stream_user_leave", a.uid, ida, stream, aio=True)
    await ok(world.api, "stream_user_leave", a.uid, ida, stream)
    assert await ok(world.api, "stream_count", stream) == 1
    assert await sc.push("stream_presence_event") == {"stream": sid_stream,
                                                      "leaves": [wire(a, ida)]}
    assert [p["session_id"] for p in await ok(world.api, "stream_user_list", stream)] == [idc]

    # Close: nobody is left.
    await join(sa, stream)
    assert await ok(world.api, "stream_count", stream) == 2
    await ok(world.api, "stream_close", stream)
    assert await ok(world.api, "stream_count", stream) == 0
    assert await ok(world.api, "stream_user_list", stream) == []
    await ok(world.api, "stream_send", stream, "into the void")
    await sa.no_push("stream_data")


async def test_hidden_presences_receive_events_and_leaving_sockets_leave(world: World):
    a, b = await world.player(), await world.player()
    sa, sb = await world.connect(a), await world.connect(b)
    stream = custom(subject=str(uuid.uuid4()), subcontext=str(uuid.uuid4()))
    _, ida = await join(sa, stream, hidden=True)
    _, idb = await join(sb, stream, persistence=False)
    # The hidden watcher hears B join; B hears itself (nobody hears A).
    event = {"stream": stream, "joins": [{"user_id": b.uid, "session_id": idb,
                                          "username": b.username}]}
    assert await sa.push("stream_presence_event") == event
    assert await sb.push("stream_presence_event") == event

    # B's socket closes: it leaves the stream, and A hears it.
    await sb.close()
    assert await sa.push("stream_presence_event") == {"stream": stream,
                                                      "leaves": event["joins"]}
    assert await ok(world.api, "stream_count", stream) == 1
    assert await ok(world.api, "stream_user_get", b.uid, idb, stream) is None
    assert (await ok(world.api, "stream_user_get", a.uid, ida, stream))["hidden"] is True

    # A's session ends too: the stream is gone.
    await sa.close()
    for _ in range(100):
        if await ok(world.api, "stream_count", stream) == 0:
            break
    assert await ok(world.api, "stream_count", stream) == 0


async def test_send_raw_and_built_in_streams(world: World):
    a, b = await world.player(), await world.player()
    sa, sb = await world.connect(a), await world.connect(b)
    stream = custom()
    _, ida = await join(sa, stream, hidden=True)

    envelope = {"notifications": {"notifications": [{"id": "n1", "subject": "hi",
                                                     "content": "{}", "code": 101}]}}
    await ok(world.api, "stream_send_raw", stream, envelope)
    assert await sa.push("notifications") == envelope["notifications"]

    # A chat room is a stream (mode 2, the room name as label): server code may put a session
    # in it, and the room's members get the channel's own presence event.
    room = f"room-{uuid.uuid4().hex[:6]}"
    r = await sb.request("channel_join", {"target": room, "type": 1})
    channel_id = r["channel"]["id"]
    await ok(world.api, "stream_user_join", a.uid, ida, {"mode": 2, "label": room})
    assert await sb.push("channel_presence_event",
                         where=lambda e: e["joins"][0]["user_id"] == a.uid) == {
        "channel_id": channel_id, "room_name": room,
        "joins": [{"user_id": a.uid, "session_id": ida, "username": a.username,
                   "persistence": True}]}
    assert await ok(world.api, "stream_count", {"mode": 2, "label": room}) == 2

    # Data can be sent to any stream, built-in ones too; and to sessions named explicitly.
    await ok(world.api, "stream_send", {"mode": 2, "label": room}, "to the room")
    for s in (sa, sb):
        assert await s.push("stream_data") == {"stream": {"mode": 2, "label": room},
                                               "data": "to the room", "reliable": True}

    # A user's notification stream can be read (who is connected) but not changed.
    mine = await ok(world.api, "stream_user_list", {"mode": 0, "subject": a.uid})
    assert [(p["session_id"], p["hidden"]) for p in mine] == [(ida, True)]
    message = ("stream mode 0 is reserved: server code cannot change who is on its streams "
               "(use a custom mode, 8-255)")
    await refused(world.api, 400, 3, message, "stream_user_join", b.uid, ida,
                  {"mode": 0, "subject": a.uid})
    await refused(world.api, 400, 3, message, "stream_close", {"mode": 0, "subject": a.uid})


async def test_argument_errors(world: World):
    a = await world.player()
    sa = await world.connect(a)
    stream = custom()
    _, ida = await join(sa, stream)
    gone = str(uuid.uuid4())
    await refused(world.api, 404, 5, f"session {gone} of user {a.uid} is not connected",
                  "stream_user_join", a.uid, gone, stream)
    other = await world.player()
    await refused(world.api, 404, 5, f"session {ida} of user {other.uid} is not connected",
                  "stream_user_update", other.uid, ida, stream)
    for bad, message in [
        ({"label": "x"}, "stream mode is required"),
        ({"mode": 256}, "stream mode must be 0-255"),
        ({"mode": "100"}, "stream mode must be a number"),
        ({"mode": 100, "subject": "not-a-uuid"}, "stream subject must be a valid identifier"),
        ({"mode": 100, "subcontext": 7}, "stream subcontext must be a string"),
        ({"mode": 100, "label": 7}, "stream label must be a string"),
        ({"mode": 100, "descriptor": str(uuid.uuid4())},
         "stream: unknown key 'descriptor' (expected mode, subject, subcontext, label)"),
        ("lobby", "stream: expected a dict {mode, subject, subcontext, label}"),
    ]:
        await refused(world.api, 400, 3, message, "stream_count", bad)
    await refused(world.api, 400, 3, "Invalid session_id 'nope': expected a UUID.",
                  "stream_user_leave", a.uid, "nope", stream)
    await refused(world.api, 400, 3, "Invalid user ID 'nope': expected a UUID.",
                  "stream_user_get", "nope", ida, stream)
    await refused(world.api, 400, 3, "Invalid presence session_id None: expected a UUID.",
                  "stream_send", stream, "x", [{"node": "kizuna"}])
    await refused(world.api, 400, 3, "envelope: unknown message 'shout'.",
                  "stream_send_raw", stream, {"shout": {}})
    await refused(world.api, 400, 3, "envelope: expected a dict with exactly one message key.",
                  "stream_send_raw", stream, {"notifications": {}, "status": {}})
    await refused(world.api, 400, 3, "stream mode 6 is reserved: server code cannot change who "
                  "is on its streams (use a custom mode, 8-255)", "stream_user_join", a.uid, ida,
                  {"mode": 6, "subject": str(uuid.uuid4()), "label": "kizuna"})
    # The nil UUID is the empty subject: the same stream.
    nil = "00000000-0000-0000-0000-000000000000"
    assert await ok(world.api, "stream_count", {**stream, "subject": nil, "subcontext": ""}) == 1
