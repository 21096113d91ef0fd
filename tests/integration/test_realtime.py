"""The realtime socket (/ws) over real WebSockets, against a real `kizuna server` on a fresh database.

Assertions are about what a Nakama client observes: the HTTP answer before the upgrade, envelopes
(exact JSON), close codes, and what other sockets receive. See docs/nakama-contract.md §4 and §11.
Most tests share one server (module scope) and make their own users; tests that need other
settings (keepalive timings, single socket, a stalled reader, shutdown) start their own.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import PG, _admin, start_server
from tests.integration.nakama_http import Api, assert_error, assert_ok, claims, forge

pytestmark = pytest.mark.timeout(120)

TIMEOUT = 30.0  # ceiling for replies and pushes: reached only when one never comes


# -- servers -------------------------------------------------------------------------------------


def _start(tmp_path: Path, *flags: str):
    db = f"kzt_{uuid.uuid4().hex[:16]}"
    srv = start_server(["--migrate", "--database.address", f"{PG}/{db}", "--logger.format",
                        "text", *flags], tmp_path)
    srv.db_address = f"{PG}/{db}"  # type: ignore[attr-defined]
    return srv, db


def _stop(srv, db: str) -> None:
    srv.stop()
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def rt_server(tmp_path_factory):
    srv, db = _start(tmp_path_factory.mktemp("realtime"), "--socket.outgoing_queue_size", "16")
    yield srv
    _stop(srv, db)


@pytest.fixture
def own_server(tmp_path):
    """Start a dedicated server with extra flags: `srv = own_server("--session.single_socket", ...)`."""
    started = []

    def factory(*flags: str):
        srv, db = _start(tmp_path, *flags)
        started.append((srv, db))
        return srv
    yield factory
    for srv, db in started:
        _stop(srv, db)


# -- clients -------------------------------------------------------------------------------------


class Sock:
    """One socket: requests with cid correlation; everything without a cid is kept as a push."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: asyncio.Queue = asyncio.Queue()
        self.pushes: list[dict] = []
        self.replies: dict[str, dict] = {}
        self.closed: aiohttp.WSMessage | None = None
        self._cid = 0
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            msg = await self.ws.receive()
            if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                doc = json.loads(msg.data)
                await self.frames.put(doc)
            else:
                self.closed = msg
                await self.frames.put(None)
                return

    async def _pump(self, timeout: float) -> bool:
        try:
            doc = await asyncio.wait_for(self.frames.get(), timeout)
        except TimeoutError:
            return False
        if doc is None:
            self.frames.put_nowait(None)
            raise ConnectionError(f"socket closed: {self.closed}")
        if "cid" in doc:
            self.replies[doc["cid"]] = doc
        else:
            self.pushes.append(doc)
        return True

    async def send_raw(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(data)

    async def request(self, kind: str, body: dict[str, Any] | None = None, **extra) -> dict:
        """Send `{kind: body}` with a fresh cid; return the whole reply envelope."""
        self._cid += 1
        cid = str(self._cid)
        await self.ws.send_str(json.dumps({kind: body or {}, "cid": cid, **extra}))
        return await self.reply(cid)

    async def reply(self, cid: str, timeout: float = TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        while cid not in self.replies:
            left = deadline - time.monotonic()
            if left <= 0 or not await self._pump(left):
                raise AssertionError(f"no reply for cid {cid}; pushes: {self.pushes}")
        return self.replies.pop(cid)

    async def push(self, kind: str, timeout: float = TIMEOUT, where=None) -> dict:
        """The next push of a kind (optionally matching `where(body)`), consumed."""
        deadline = time.monotonic() + timeout
        while True:
            for i, doc in enumerate(self.pushes):
                if kind in doc and (where is None or where(doc[kind])):
                    del self.pushes[i]
                    return doc[kind]
            left = deadline - time.monotonic()
            if left <= 0 or not await self._pump(left):
                raise AssertionError(f"no {kind} push; pushes: {self.pushes}")

    async def no_push(self, kind: str, wait: float = 0.3) -> None:
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            await self._pump(left)
        assert not [d for d in self.pushes if kind in d], self.pushes

    async def next_raw(self, timeout: float = TIMEOUT) -> dict | None:
        """The next envelope, whatever it is (None when the socket closed)."""
        doc = await asyncio.wait_for(self.frames.get(), timeout)
        if doc is None:
            self.frames.put_nowait(None)
        return doc

    async def wait_closed(self, timeout: float = TIMEOUT) -> aiohttp.WSMessage:
        deadline = time.monotonic() + timeout
        while self.closed is None:
            left = deadline - time.monotonic()
            assert left > 0, "socket still open"
            try:
                await self._pump(left)
            except ConnectionError:
                break
        return self.closed

    async def close(self) -> None:
        await self.ws.close()
        self._task.cancel()


class Player:
    def __init__(self, token: str, uid: str, username: str) -> None:
        self.token, self.uid, self.username = token, uid, username


class World:
    """Users and sockets against one server."""

    def __init__(self, server, http: aiohttp.ClientSession) -> None:
        self.server = server
        self.http = http
        self.api = Api(server.url, http)
        self.socks: list[Sock] = []

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/ws"

    async def player(self, username: str | None = None) -> Player:
        params = {"username": username} if username else None
        s = await self.api.login("device", {"id": f"dev-{uuid.uuid4().hex}"}, params=params)
        c = claims(s["token"])
        return Player(s["token"], c["uid"], c["usn"])

    async def connect(self, player: Player, status: bool = False, **kw) -> Sock:
        ws = await self.http.ws_connect(
            f"{self.ws_url}?lang=en&status={'true' if status else 'false'}&token={player.token}",
            **kw)
        sock = Sock(ws)
        self.socks.append(sock)
        return sock

    async def close(self) -> None:
        for s in self.socks:
            if not s.ws.closed:
                await s.close()


@pytest.fixture
async def world(rt_server):
    async with aiohttp.ClientSession(skip_auto_headers=["Accept-Encoding"]) as http:
        w = World(rt_server, http)
        yield w
        await w.close()


def presence(p: Player, sock_session: str, **extra) -> dict:
    return {"user_id": p.uid, "session_id": sock_session, "username": p.username, **extra}


async def session_id(sock: Sock) -> str:
    """This socket's session id, read from a match it creates alone."""
    r = await sock.request("match_create", {})
    sid = r["match"]["self"]["session_id"]
    await sock.request("match_leave", {"match_id": r["match"]["match_id"]})
    await sock.push("match_presence_event")
    return sid


# -- connection ----------------------------------------------------------------------------------


async def test_upgrade_refusals(world: World):
    async def get(query: str = "", headers: dict | None = None) -> tuple[int, str, Any]:
        async with world.http.get(world.ws_url.replace("ws://", "http://") + query,
                                  headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                           "Sec-WebSocket-Version": "13",
                                           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                           **(headers or {})}) as r:
            return r.status, await r.text(), r.headers

    p = await world.player()
    for query, headers in (("", None), ("?token=garbage", None),
                           (f"?token={p.token}", {"Authorization": f"Basic {p.token}"}),
                           (f"?token={p.token}x", None)):
        status, text, hdrs = await get(query, headers)
        assert (status, text) == (401, "Missing or invalid token\n"), (query, headers)
        assert hdrs["Content-Type"] == "text/plain; charset=utf-8"

    expired = forge({"tid": str(uuid.uuid4()), "uid": p.uid, "usn": p.username,
                     "exp": int(time.time()) - 10, "iat": int(time.time()) - 100})
    assert (await get(f"?token={expired}"))[:2] == (401, "Missing or invalid token\n")

    assert (await get(f"?token={p.token}&format=xml"))[:2] == (400, "Invalid format parameter\n")
    status, text, _ = await get(f"?token={p.token}&format=protobuf")
    assert status == 400 and text.startswith("Invalid format parameter: protobuf is not supported")

    # The header wins over the query parameter, and works alone.
    ws = await world.http.ws_connect(world.ws_url, headers={"Authorization": f"Bearer {p.token}"})
    sock = Sock(ws)
    assert await sock.request("ping") == {"cid": "1", "pong": {}}
    await sock.close()
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await world.http.ws_connect(f"{world.ws_url}?token={p.token}",
                                    headers={"Authorization": "Bearer nope"})
    assert exc.value.status == 401

    # A logged-out token no longer opens a socket.
    r = await world.api.post("/v2/session/logout", p.token, {"token": p.token})
    assert r.status == 200
    assert (await get(f"?token={p.token}"))[:2] == (401, "Missing or invalid token\n")


async def test_envelopes_errors_keep_the_session_open(world: World):
    p = await world.player()
    s = await world.connect(p)

    await s.send_raw('{"ping":{},"cid":"1"')
    assert await s.next_raw() == {"error": {"code": 3, "message": "Malformed JSON payload"}}
    await s.send_raw("[1,2]")
    assert await s.next_raw() == {"error": {"code": 3, "message": "Envelope must be a JSON object"}}
    await s.send_raw('{"cid":"a"}')
    assert await s.next_raw() == {"cid": "a", "error": {"code": 2, "message": "Missing message."}}
    await s.send_raw('{"cid":"b","ping":null}')
    assert await s.next_raw() == {"cid": "b", "error": {"code": 2, "message": "Missing message."}}
    await s.send_raw('{"cid":"c","teleport":{"to":"moon"}}')
    assert await s.next_raw() == {"cid": "c", "error": {"code": 1,
                                                        "message": "Unrecognized message."}}
    await s.send_raw('{"cid":"d","ping":{},"match_create":{}}')
    assert await s.next_raw() == {"cid": "d", "error": {
        "code": 3, "message": "Envelope must hold exactly one message"}}
    await s.send_raw('{"cid":"e","ping":"x"}')
    assert (await s.next_raw())["error"]["code"] == 3
    # A server-to-client kind sent by a client is not understood.
    await s.send_raw('{"cid":"f","channel_message":{}}')
    assert (await s.next_raw())["error"] == {"code": 1, "message": "Unrecognized message."}
    # A message its handler refuses (every kind a client may send has a handler).
    await s.send_raw('{"cid":"g","party_create":{"open":true,"max_size":0}}')
    assert await s.next_raw() == {"cid": "g", "error": {
        "code": 3, "message": "Invalid party max size, must be 1-256"}}
    await s.send_raw('{"cid":"h","rpc":{"id":"nope"}}')
    assert await s.next_raw() == {"cid": "h", "error": {"code": 6,
                                                        "message": "RPC function not found"}}

    # Lenient input: unknown fields, unknown envelope keys beside the message, a numeric cid,
    # camelCase names, binary frames.
    await s.send_raw('{"cid":"i","ping":{"unexpected":1},"trace":"x"}')
    assert await s.next_raw() == {"cid": "i", "pong": {}}
    await s.send_raw('{"cid":7,"ping":{}}')
    assert await s.next_raw() == {"cid": "7", "pong": {}}
    await s.send_raw(b'{"cid":"j","ping":{}}')
    assert await s.next_raw() == {"cid": "j", "pong": {}}
    r = await s.request("channel_join", {"target": "lenient", "type": 1, "extra": [1]})
    assert r["channel"]["id"] == "2...lenient"
    r = await s.request("channel_leave", {"channelId": "2...lenient"})
    assert r == {"cid": "2"}
    # An incoming pong is ignored; a ping without cid is answered without one.
    await s.send_raw('{"pong":{}}')
    await s.send_raw('{"ping":{}}')
    assert await s.next_raw() == {"pong": {}}
    assert not s.ws.closed


async def test_oversized_message_closes_with_1009(world: World):
    p = await world.player()
    s = await world.connect(p)
    assert (await s.request("ping"))["pong"] == {}
    await s.send_raw(json.dumps({"cid": "2", "ping": {"pad": "x" * 5000}}))
    closed = await s.wait_closed()
    assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 1009
    # A message at the limit is fine.
    s2 = await world.connect(p)
    pad = "x" * (4096 - len('{"cid":"1","ping":{"pad":""}}'))
    await s2.send_raw('{"cid":"1","ping":{"pad":"' + pad + '"}}')
    assert await s2.next_raw() == {"cid": "1", "pong": {}}


async def test_websocket_ping_frames_are_answered(world: World):
    p = await world.player()
    ws = await world.http.ws_connect(f"{world.ws_url}?token={p.token}", autoping=False)
    await ws.ping(b"hello")
    msg = await ws.receive(timeout=TIMEOUT)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.PONG, b"hello")
    await ws.close()


# -- status ----------------------------------------------------------------------------------------


async def test_status_follow_update_and_presence_events(world: World):
    alice, bob = await world.player(), await world.player()
    a = await world.connect(alice, status=True)
    # Every session follows its own user: a status=true socket sees its own join first.
    own = await a.push("status_presence_event")
    a_sid = own["joins"][0]["session_id"]
    assert own == {"joins": [presence(alice, a_sid, status="")]}

    b = await world.connect(bob)
    r = await b.request("status_follow", {"user_ids": [alice.uid, bob.uid, str(uuid.uuid4())]})
    assert r == {"cid": "1", "status": {"presences": [presence(alice, a_sid, status="")]}}
    # By username too; self and unknown names are dropped; nobody online -> empty status.
    carol = await world.player()
    r = await b.request("status_follow", {"usernames": [carol.username, bob.username, "nobody-x"]})
    assert r == {"cid": "2", "status": {}}
    r = await b.request("status_follow", {"user_ids": ["not-a-uuid"]})
    assert r["error"] == {"code": 3, "message": "Invalid user identifier"}
    r = await b.request("status_follow", {"usernames": [""]})
    assert r["error"] == {"code": 3, "message": "Invalid username"}

    # An update is a leave of the old status and a join of the new one, for followers and self.
    assert await a.request("status_update", {"status": "playing"}) == {"cid": "1"}
    event = await b.push("status_presence_event")
    assert event == {"joins": [presence(alice, a_sid, status="playing")],
                     "leaves": [presence(alice, a_sid, status="")]}
    assert await a.push("status_presence_event") == event

    r = await a.request("status_update", {"status": "x" * 2049})
    assert r["error"] == {"code": 3, "message": "Status must be 2048 characters or less"}

    # No status: appear offline.
    assert await a.request("status_update", {}) == {"cid": "3"}
    assert await b.push("status_presence_event") == {
        "leaves": [presence(alice, a_sid, status="playing")]}

    # Carol connects with status=true: bob follows her by username, so he hears it.
    c = await world.connect(carol, status=True)
    c_join = await b.push("status_presence_event")
    assert c_join["joins"][0]["user_id"] == carol.uid and c_join["joins"][0]["status"] == ""

    # A status update from a socket that connected without status=true shows it online.
    assert await a.request("status_update", {"status": "back"}) == {"cid": "4"}
    assert (await b.push("status_presence_event"))["joins"][0]["status"] == "back"

    # Unfollow: no more events about alice; disconnects of followed users are leaves.
    assert await b.request("status_unfollow", {"user_ids": [alice.uid]}) == {"cid": "5"}
    await c.close()
    assert (await b.push("status_presence_event"))["leaves"][0]["user_id"] == carol.uid
    await a.close()
    await b.no_push("status_presence_event")


# -- chat ------------------------------------------------------------------------------------------


async def test_room_chat_round_trip(world: World):
    alice, bob = await world.player(), await world.player()
    a, b = await world.connect(alice), await world.connect(bob)
    room = f"room-{uuid.uuid4().hex[:8]}"
    channel_id = f"2...{room}"

    r = await a.request("channel_join", {"target": room, "type": 1, "persistence": True,
                                         "hidden": False})
    a_sid = r["channel"]["self"]["session_id"]
    assert r == {"cid": "1", "channel": {"id": channel_id,
                                         "self": presence(alice, a_sid, persistence=True),
                                         "room_name": room}}
    # The joiner hears its own join after the reply (as Nakama).
    assert await a.push("channel_presence_event") == {
        "channel_id": channel_id, "joins": [presence(alice, a_sid, persistence=True)],
        "room_name": room}

    r = await b.request("channel_join", {"target": room})  # type 0 means room
    b_sid = r["channel"]["self"]["session_id"]
    assert r["channel"]["presences"] == [presence(alice, a_sid, persistence=True)]
    join = await a.push("channel_presence_event")
    assert join == {"channel_id": channel_id, "joins": [presence(bob, b_sid, persistence=True)],
                    "room_name": room}

    content = json.dumps({"message": "hello from alice"})
    r = await a.request("channel_message_send", {"channel_id": channel_id, "content": content})
    ack = r["channel_message_ack"]
    assert set(ack) == {"channel_id", "message_id", "code", "username", "create_time",
                        "update_time", "persistent", "room_name"}
    assert (ack["channel_id"], ack["code"], ack["username"], ack["persistent"], ack["room_name"]) \
        == (channel_id, 0, alice.username, True, room)
    expected = {"channel_id": channel_id, "message_id": ack["message_id"], "code": 0,
                "sender_id": alice.uid, "username": alice.username, "content": content,
                "create_time": ack["create_time"], "update_time": ack["update_time"],
                "persistent": True, "room_name": room}
    assert await b.push("channel_message") == expected
    assert await a.push("channel_message") == expected  # the sender gets it too
    assert ack["create_time"].endswith("Z")

    # Update and remove: only by the sender, and broadcast with codes 1 and 2.
    new = json.dumps({"message": "edited"})
    r = await a.request("channel_message_update", {"channel_id": channel_id,
                                                   "message_id": ack["message_id"],
                                                   "content": new})
    assert r["channel_message_ack"]["code"] == 1
    up = await b.push("channel_message")
    assert (up["code"], up["content"], up["message_id"], up["create_time"]) == \
        (1, new, ack["message_id"], ack["create_time"])
    r = await b.request("channel_message_update", {"channel_id": channel_id,
                                                   "message_id": ack["message_id"],
                                                   "content": new})
    assert r["error"] == {"code": 3, "message": "Could not find message to update in channel history"}
    r = await b.request("channel_message_remove", {"channel_id": channel_id,
                                                   "message_id": ack["message_id"]})
    assert r["error"] == {"code": 3, "message": "Could not find message to remove in channel history"}
    r = await a.request("channel_message_update", {"channel_id": channel_id, "message_id": "x",
                                                   "content": new})
    assert r["error"] == {"code": 3, "message": "Invalid message identifier"}

    # Bad content, bad channel ids, not a member.
    for bad in ("not json", "[1,2]", "3", None):
        r = await a.request("channel_message_send", {"channel_id": channel_id, "content": bad})
        assert r["error"] == {"code": 3, "message": "Message content must be a valid JSON object"}
    for bad in ("", "2..", "nope", "9...x", f"4.{alice.uid}..", "2.x..room"):
        r = await a.request("channel_message_send", {"channel_id": bad, "content": "{}"})
        assert r["error"] == {"code": 3, "message": "Invalid channel identifier"}, bad
    r = await a.request("channel_message_send", {"channel_id": "2...elsewhere", "content": "{}"})
    assert r["error"] == {"code": 3, "message": "Must join channel before sending messages"}

    r = await a.request("channel_message_remove", {"channel_id": channel_id,
                                                   "message_id": ack["message_id"]})
    removed = r["channel_message_ack"]
    assert removed["code"] == 2
    gone = await b.push("channel_message", where=lambda m: m["code"] == 2)
    assert (gone["content"], gone["message_id"]) == ("{}", ack["message_id"])

    # Leaving: an empty reply, a leave event for the others, no more messages.
    assert await b.request("channel_leave", {"channel_id": channel_id}) == {"cid": "4"}
    assert await a.push("channel_presence_event") == {
        "channel_id": channel_id, "leaves": [presence(bob, b_sid, persistence=True)],
        "room_name": room}
    await a.request("channel_message_send", {"channel_id": channel_id, "content": "{}"})
    await b.no_push("channel_message")
    r = await b.request("channel_leave", {"channel_id": "garbage"})
    assert r["error"] == {"code": 3, "message": "Invalid channel identifier"}


async def test_channel_join_rules(world: World):
    alice, bob = await world.player(), await world.player()
    a, b = await world.connect(alice), await world.connect(bob)

    async def err(body: dict) -> dict:
        return (await a.request("channel_join", body))["error"]

    assert await err({"target": "", "type": 1}) == {"code": 3, "message": "Invalid channel target"}
    assert await err({"target": "x" * 65, "type": 1}) == {
        "code": 3, "message": "Channel name is required and must be 1-64 chars"}
    assert await err({"target": "bad\nname", "type": 1}) == {
        "code": 3, "message": "Channel name must not contain control chars"}
    assert await err({"target": str(uuid.uuid4()), "type": 3}) == {
        "code": 3, "message": "Group not found"}
    assert await err({"target": "not-a-uuid", "type": 3}) == {
        "code": 3, "message": "Invalid group ID in group channel join"}
    assert await err({"target": "x", "type": 9}) == {"code": 3, "message": "Unrecognized channel type"}
    assert await err({"target": "not-a-uuid", "type": 2}) == {
        "code": 3, "message": "Invalid user ID in direct message join"}
    assert await err({"target": "00000000-0000-0000-0000-000000000000", "type": 2}) == {
        "code": 3, "message": "Invalid user ID in direct message join"}
    assert await err({"target": alice.uid, "type": 2}) == {
        "code": 3, "message": "Cannot open direct message channel with self"}
    assert await err({"target": str(uuid.uuid4()), "type": 2}) == {"code": 3,
                                                                   "message": "User ID not found"}
    assert await err({"target": "x", "type": 1, "persistence": "maybe"}) == {
        "code": 3, "message": "persistence: expected a boolean"}

    # 64 characters is fine. A hidden member is in no listing and triggers no event.
    room = "r" * 64
    r = await a.request("channel_join", {"target": room, "type": 1, "persistence": False})
    a_sid = r["channel"]["self"]["session_id"]
    assert r["channel"]["self"] == presence(alice, a_sid)  # persistence false: omitted
    await a.push("channel_presence_event")
    r = await b.request("channel_join", {"target": room, "type": 1, "hidden": True})
    assert r["channel"]["presences"] == [presence(alice, a_sid)]
    await a.no_push("channel_presence_event")
    # ...but receives the channel's messages; non-persistent messages say so.
    r = await a.request("channel_message_send", {"channel_id": f"2...{room}", "content": '{"a":1}'})
    assert r["channel_message_ack"]["persistent"] is False
    assert (await b.push("channel_message"))["persistent"] is False
    # Joining again is not a new join: the reply lists the session itself.
    r = await a.request("channel_join", {"target": room, "type": 1})
    assert r["channel"]["presences"] == [presence(alice, a_sid)]
    await b.no_push("channel_presence_event")


async def test_history_pages_like_nakama(world: World):
    alice, bob = await world.player(), await world.player()
    a = await world.connect(alice)
    room = f"hist-{uuid.uuid4().hex[:8]}"
    channel_id = f"2...{room}"
    await a.request("channel_join", {"target": room, "type": 1})
    ids = []
    for i in range(7):
        r = await a.request("channel_message_send", {"channel_id": channel_id,
                                                     "content": json.dumps({"n": i})})
        ids.append(r["channel_message_ack"]["message_id"])

    async def page(token: str = alice.token, **params) -> tuple[int, dict]:
        r = await world.api.get(f"/v2/channel/{channel_id}", token,
                                params={k: str(v).lower() if isinstance(v, bool) else str(v)
                                        for k, v in params.items()})
        return r.status, r.json

    # Default: one message, forward from the oldest.
    status, body = await page(bob.token if False else alice.token)
    assert status == 200 and [m["message_id"] for m in body["messages"]] == ids[:1]
    m0 = body["messages"][0]
    assert m0 == {"channel_id": channel_id, "message_id": ids[0], "code": 0,
                  "sender_id": alice.uid, "username": alice.username, "content": '{"n": 0}',
                  "create_time": m0["create_time"], "update_time": m0["update_time"],
                  "persistent": True, "room_name": room}

    # Forward pages of 3 with next cursors; then back with the prev cursor.
    status, p1 = await page(limit=3, forward=True)
    assert [m["message_id"] for m in p1["messages"]] == ids[0:3]
    assert "prev_cursor" not in p1 and p1["next_cursor"]
    _, p2 = await page(limit=3, forward=True, cursor=p1["next_cursor"])
    assert [m["message_id"] for m in p2["messages"]] == ids[3:6]
    _, p3 = await page(limit=3, forward=True, cursor=p2["next_cursor"])
    assert [m["message_id"] for m in p3["messages"]] == ids[6:]
    assert "next_cursor" not in p3
    _, back = await page(limit=3, forward=True, cursor=p2["prev_cursor"])
    assert [m["message_id"] for m in back["messages"]] == ids[0:3]
    assert "prev_cursor" not in back
    _, again = await page(limit=3, forward=True, cursor=back["next_cursor"])
    assert [m["message_id"] for m in again["messages"]] == ids[3:6]

    # Backward: newest first.
    _, b1 = await page(limit=4, forward=False)
    assert [m["message_id"] for m in b1["messages"]] == ids[::-1][:4]
    _, b2 = await page(limit=4, forward=False, cursor=b1["next_cursor"])
    assert [m["message_id"] for m in b2["messages"]] == ids[::-1][4:]

    # The cacheable cursor of the last forward page fetches only what is new.
    _, latest = await page(limit=100, forward=True)
    assert len(latest["messages"]) == 7
    _, nothing = await page(limit=100, forward=True, cursor=latest["cacheable_cursor"])
    assert "messages" not in nothing and nothing["cacheable_cursor"] == latest["cacheable_cursor"]
    r = await a.request("channel_message_send", {"channel_id": channel_id, "content": "{}"})
    _, new = await page(limit=100, forward=True, cursor=latest["cacheable_cursor"])
    assert [m["message_id"] for m in new["messages"]] == [r["channel_message_ack"]["message_id"]]

    # Anyone may read a room; errors as Nakama words them.
    assert (await page(bob.token, limit=1))[0] == 200
    for params, msg in (({"limit": 0}, "Invalid limit - limit must be between 1 and 100."),
                        ({"limit": 101}, "Invalid limit - limit must be between 1 and 100."),
                        ({"cursor": "garbage"}, "Cursor is invalid or expired."),
                        ({"cursor": p1["next_cursor"], "forward": False},
                         "Cursor is invalid or expired.")):
        r = await world.api.get(f"/v2/channel/{channel_id}", alice.token,
                                params={k: str(v).lower() if isinstance(v, bool) else str(v)
                                        for k, v in params.items()})
        assert_error(r, 400, 3, msg)
    r = await world.api.get("/v2/channel/2...other", alice.token, params={"cursor": p1["next_cursor"]})
    assert_error(r, 400, 3, "Cursor is invalid or expired.")
    assert_error(await world.api.get("/v2/channel/nonsense", alice.token), 400, 3, "Invalid channel ID.")
    assert (await world.api.call("GET", f"/v2/channel/{channel_id}")).status == 401


async def test_direct_messages_and_notifications(world: World):
    alice, bob, eve = await world.player(), await world.player(), await world.player()
    a = await world.connect(alice)
    one, two = sorted((alice.uid, bob.uid))
    dm = f"4.{one}.{two}."

    # Bob is offline: alice's join leaves him a persistent -1 notification.
    r = await a.request("channel_join", {"target": bob.uid, "type": 2})
    assert r["channel"]["id"] == dm
    assert (r["channel"]["user_id_one"], r["channel"]["user_id_two"]) == (one, two)
    r = await a.request("channel_message_send", {"channel_id": dm, "content": '{"hi":"bob"}'})
    ack = r["channel_message_ack"]
    assert (ack["user_id_one"], ack["user_id_two"]) == (one, two) and "room_name" not in ack

    body = assert_ok(await world.api.get("/v2/notification", bob.token, params={"limit": "10"}))
    [n] = body["notifications"]
    assert n == {"id": n["id"], "subject": f"{alice.username} wants to chat",
                 "content": json.dumps({"username": alice.username}, separators=(", ", ": ")),
                 "code": -1, "sender_id": alice.uid, "create_time": n["create_time"],
                 "persistent": True}
    assert body["cacheable_cursor"]

    # History: only the two users may read a DM.
    r = await world.api.get(f"/v2/channel/{dm}", bob.token, params={"limit": "10"})
    assert [m["content"] for m in assert_ok(r)["messages"]] == ['{"hi": "bob"}']
    assert_error(await world.api.get(f"/v2/channel/{dm}", eve.token), 400, 3, "Channel not found.")

    # Bob comes online (not in the DM): a second DM join (a new session of alice) is pushed live.
    b = await world.connect(bob)
    a2 = await world.connect(alice)
    await a2.request("channel_join", {"target": bob.uid, "type": 2})
    live = await b.push("notifications")
    [n2] = live["notifications"]
    assert (n2["code"], n2["sender_id"], n2["persistent"]) == (-1, alice.uid, True)
    # Once bob is in the DM, joins no longer notify him.
    r = await b.request("channel_join", {"target": alice.uid, "type": 2})
    assert r["channel"]["id"] == dm
    assert {p["user_id"] for p in r["channel"]["presences"]} == {alice.uid}
    a3 = await world.connect(alice)
    await a3.request("channel_join", {"target": bob.uid, "type": 2})
    await b.no_push("notifications")

    # Listing with the cacheable cursor returns only newer notifications; delete removes them.
    _, cursor = body["notifications"], body["cacheable_cursor"]
    nxt = assert_ok(await world.api.get("/v2/notification", bob.token,
                                        params={"limit": "10", "cacheable_cursor": cursor}))
    assert [x["id"] for x in nxt["notifications"]] == [n2["id"]]
    empty = assert_ok(await world.api.get("/v2/notification", bob.token,
                                          params={"cacheable_cursor": nxt["cacheable_cursor"]}))
    assert empty == {"cacheable_cursor": nxt["cacheable_cursor"]}
    r = await world.api.delete("/v2/notification", bob.token,
                               params=[("ids", n["id"]), ("ids", "not-a-uuid")])
    assert_ok(r, {})
    left = assert_ok(await world.api.get("/v2/notification", bob.token, params={"limit": "100"}))
    assert [x["id"] for x in left["notifications"]] == [n2["id"]]
    # Eve cannot delete bob's notifications.
    await world.api.delete("/v2/notification", eve.token, params={"ids": n2["id"]})
    assert len(assert_ok(await world.api.get("/v2/notification", bob.token,
                                             params={"limit": "100"}))["notifications"]) == 1
    fresh = assert_ok(await world.api.get("/v2/notification", eve.token))
    assert set(fresh) == {"cacheable_cursor"}
    assert_error(await world.api.get("/v2/notification", bob.token, params={"limit": "0"}),
                 400, 3, "Invalid limit - limit must be between 1 and 100.")
    assert_error(await world.api.get("/v2/notification", bob.token,
                                     params={"cacheable_cursor": "@@"}),
                 400, 3, "Malformed cursor was used.")


# -- matches ---------------------------------------------------------------------------------------


async def test_relayed_match(world: World):
    alice, bob, carol = await world.player(), await world.player(), await world.player()
    a, b, c = await world.connect(alice), await world.connect(bob), await world.connect(carol)

    r = await a.request("match_create", {})
    match = r["match"]
    match_id = match["match_id"]
    a_sid = match["self"]["session_id"]
    assert match_id.endswith(".") and uuid.UUID(match_id[:-1])
    assert match == {"match_id": match_id, "size": 1, "self": presence(alice, a_sid)}
    assert await a.push("match_presence_event") == {"match_id": match_id,
                                                    "joins": [presence(alice, a_sid)]}

    r = await b.request("match_join", {"match_id": match_id, "metadata": {"k": "v"}})
    b_sid = r["match"]["self"]["session_id"]
    assert r["match"] == {"match_id": match_id, "size": 2, "presences": [presence(alice, a_sid)],
                          "self": presence(bob, b_sid)}
    assert await a.push("match_presence_event") == {"match_id": match_id,
                                                    "joins": [presence(bob, b_sid)]}
    r = await c.request("match_join", {"match_id": match_id})
    c_sid = r["match"]["self"]["session_id"]
    await a.push("match_presence_event")
    await b.push("match_presence_event", where=lambda e: e["joins"][0]["user_id"] == carol.uid)

    # Data: no reply, not echoed to the sender, to everyone else.
    payload = base64.b64encode(b"\x00\x01state").decode()
    await a.send_raw(json.dumps({"match_data_send": {"match_id": match_id, "op_code": "7",
                                                     "data": payload, "reliable": True}}))
    expected = {"match_id": match_id, "presence": presence(alice, a_sid), "op_code": "7",
                "data": payload, "reliable": True}
    assert await b.push("match_data") == expected
    assert await c.push("match_data") == expected
    await a.no_push("match_data")
    assert not a.replies

    # Only to the listed presences; op_code as a number; unpadded URL-safe data is normalised.
    unpadded = base64.urlsafe_b64encode(b"\xfb\xff").decode().rstrip("=")
    await a.send_raw(json.dumps({"match_data_send": {
        "match_id": match_id, "op_code": 3, "data": unpadded,
        "presences": [presence(carol, c_sid)]}}))
    assert await c.push("match_data") == {"match_id": match_id, "presence": presence(alice, a_sid),
                                          "op_code": "3", "data": "+/8="}
    await b.no_push("match_data")

    # Errors: sent without a cid; data from a non-member is dropped.
    await a.send_raw(json.dumps({"cid": "x", "match_data_send": {"match_id": "nope", "op_code": 1}}))
    assert await a.next_raw() == {"error": {"code": 3, "message": "Invalid match ID"}}
    await a.send_raw(json.dumps({"match_data_send": {"match_id": match_id, "data": "***"}}))
    assert await a.next_raw() == {"error": {"code": 3, "message": "Invalid match data"}}
    outsider = await world.connect(await world.player())
    await outsider.send_raw(json.dumps({"match_data_send": {"match_id": match_id, "op_code": 1}}))
    await b.no_push("match_data")

    # Join errors.
    r = await outsider.request("match_join", {"match_id": f"{uuid.uuid4()}."})
    assert r["error"] == {"code": 4, "message": "Match not found"}
    r = await outsider.request("match_join", {"match_id": f"{uuid.uuid4()}.somenode"})
    assert r["error"] == {"code": 4, "message": "Match not found"}
    r = await outsider.request("match_join", {"match_id": "garbage"})
    assert r["error"] == {"code": 3, "message": "Invalid match ID"}
    r = await outsider.request("match_join", {"token": "a.b.c"})
    assert r["error"] == {"code": 3, "message": "Invalid match token"}
    r = await outsider.request("match_join", {})
    assert r["error"] == {"code": 3, "message": "No match ID or token found"}

    # Leave: empty reply, a leave event for the rest.
    assert await c.request("match_leave", {"match_id": match_id}) == {"cid": "2"}
    assert await a.push("match_presence_event", where=lambda e: "leaves" in e) == {
        "match_id": match_id, "leaves": [presence(carol, c_sid)]}
    r = await c.request("match_leave", {"match_id": "bad"})
    assert r["error"] == {"code": 3, "message": "Invalid match ID"}

    # Emptied, the match is gone: once the last member has left, joining it is "Match not found".
    r = await b.request("match_leave", {"match_id": match_id})
    assert set(r) == {"cid"}, r
    r = await outsider.request("match_join", {"match_id": match_id})
    assert r["match"]["size"] == 2  # alice is still in it: it still exists (the outsider joined)
    for sock in (a, outsider):
        r = await sock.request("match_leave", {"match_id": match_id})
        assert set(r) == {"cid"}, r
    r = await c.request("match_join", {"match_id": match_id})
    assert r["error"] == {"code": 4, "message": "Match not found"}
    # The same for a match its only member leaves at once.
    lonely = (await c.request("match_create", {}))["match"]["match_id"]
    assert set(await c.request("match_leave", {"match_id": lonely})) == {"cid"}
    r = await b.request("match_join", {"match_id": lonely})
    assert r["error"] == {"code": 4, "message": "Match not found"}


async def test_named_matches_share_an_id(world: World):
    alice, bob = await world.player(), await world.player()
    a, b = await world.connect(alice), await world.connect(bob)
    name = f"arena-{uuid.uuid4().hex[:6]}"
    r1 = (await a.request("match_create", {"name": name}))["match"]
    r2 = (await b.request("match_create", {"name": name}))["match"]
    assert r1["match_id"] == r2["match_id"] == f"{uuid.uuid5(uuid.NAMESPACE_DNS, name)}."
    assert r2["size"] == 2 and r2["presences"] == [r1["self"]]


async def test_disconnect_leaves_every_stream(world: World):
    alice, bob = await world.player(), await world.player()
    a, b = await world.connect(alice, status=True), await world.connect(bob)
    room = f"bye-{uuid.uuid4().hex[:6]}"
    a_sid = (await a.request("channel_join", {"target": room, "type": 1}))["channel"]["self"]["session_id"]
    await b.request("channel_join", {"target": room, "type": 1})
    match_id = (await a.request("match_create", {}))["match"]["match_id"]
    await b.request("match_join", {"match_id": match_id})
    await b.request("status_follow", {"user_ids": [alice.uid]})
    await a.close()
    assert await b.push("channel_presence_event", where=lambda e: "leaves" in e) == {
        "channel_id": f"2...{room}", "leaves": [presence(alice, a_sid, persistence=True)],
        "room_name": room}
    assert await b.push("match_presence_event", where=lambda e: "leaves" in e) == {
        "match_id": match_id, "leaves": [presence(alice, a_sid)]}
    assert await b.push("status_presence_event") == {"leaves": [presence(alice, a_sid, status="")]}
    # The match is gone with its last member... but bob is still in it, so it still exists.
    carol = await world.player()
    c = await world.connect(carol)
    r = await c.request("match_join", {"match_id": match_id})
    assert r["match"]["size"] == 2 and r["match"]["presences"][0]["user_id"] == bob.uid
    # Once every member has disconnected (no match_leave), the match is gone: joining it by id
    # is Nakama's "Match not found", and a named match's id starts afresh, empty. A watcher in
    # another match with bob and carol hears their leaves: the disconnects have been processed
    # (a session leaves all its streams at once), without anyone joining the match meanwhile.
    name = f"gone-{uuid.uuid4().hex[:6]}"
    named = (await b.request("match_create", {"name": name}))["match"]["match_id"]
    eve = await world.player()
    e = await world.connect(eve)
    watch = (await e.request("match_create", {}))["match"]["match_id"]
    for sock in (b, c):
        assert "match" in await sock.request("match_join", {"match_id": watch})
    await b.close()
    await c.close()
    gone = set()
    while gone != {bob.uid, carol.uid}:
        ev = await e.push("match_presence_event",
                          where=lambda ev: ev["match_id"] == watch and "leaves" in ev)
        gone |= {p["user_id"] for p in ev["leaves"]}
    dave = await world.connect(await world.player())
    for mid in (match_id, named):
        r = await dave.request("match_join", {"match_id": mid})
        assert r["error"] == {"code": 4, "message": "Match not found"}, mid
    r = await dave.request("match_create", {"name": name})
    assert r["match"]["match_id"] == named and r["match"]["size"] == 1
    assert "presences" not in r["match"]


# -- sessions against dedicated servers ------------------------------------------------------------


async def test_single_socket_kicks_older_sockets(own_server):
    srv = own_server("--session.single_socket", "true")
    async with aiohttp.ClientSession() as http:
        w = World(srv, http)
        p = await w.player()
        first = await w.connect(p)
        assert (await first.request("ping"))["pong"] == {}
        second = await w.connect(p)
        kick = await first.push("notifications")
        [n] = kick["notifications"]
        assert (n["subject"], n["content"], n["code"]) == ("single_socket", "{}", -7)
        assert "persistent" not in n and "sender_id" not in n
        closed = await first.wait_closed()
        assert closed.type == aiohttp.WSMsgType.CLOSE
        assert (await second.request("ping"))["pong"] == {}
        await w.close()


async def test_single_match_keeps_a_socket_in_one_match(own_server):
    """`session.single_match` (with single_socket, which it requires): a socket that creates or
    joins a match leaves the one it was in, as Nakama's older matches "receive a leave": its
    other members get the leave event, its match data no longer reaches it, and a match it was
    alone in is gone. The per-socket match limit does not get in the way (one is enough)."""
    srv = own_server("--session.single_socket", "true", "--session.single_match", "true",
                     "--socket.max_matches_per_socket", "1")
    async with aiohttp.ClientSession() as http:
        w = World(srv, http)
        alice, bob, carol = await w.player(), await w.player(), await w.player()
        a, b, c = await w.connect(alice), await w.connect(bob), await w.connect(carol)
        r = (await a.request("match_create", {}))["match"]
        first, a_sid = r["match_id"], r["self"]["session_id"]
        r = (await b.request("match_join", {"match_id": first}))["match"]
        b_sid = r["self"]["session_id"]
        assert await a.push("match_presence_event", where=lambda e: "joins" in e and
                            e["joins"][0]["user_id"] == bob.uid) == {
            "match_id": first, "joins": [presence(bob, b_sid)]}

        # Alice creates another match: she leaves the first, and bob hears it.
        r = await a.request("match_create", {})
        second = r["match"]["match_id"]
        assert second != first
        assert r["match"] == {"match_id": second, "size": 1, "self": presence(alice, a_sid)}
        assert await b.push("match_presence_event", where=lambda e: "leaves" in e) == {
            "match_id": first, "leaves": [presence(alice, a_sid)]}
        # Bob's data to the first match no longer reaches her; she can send to her new one.
        await b.send_raw(json.dumps({"match_data_send": {"match_id": first, "op_code": 1}}))
        assert "match" in await c.request("match_join", {"match_id": second})
        await a.push("match_presence_event", where=lambda e: "joins" in e and
                     e["joins"][0]["user_id"] == carol.uid)
        await a.send_raw(json.dumps({"match_data_send": {"match_id": second, "op_code": 2}}))
        assert (await c.push("match_data"))["op_code"] == "2"
        assert not [d for d in a.pushes if "match_data" in d], a.pushes
        # ...and her data to the first match is dropped (she is no longer a member).
        await a.send_raw(json.dumps({"match_data_send": {"match_id": first, "op_code": 3}}))
        # Joining the match she is already in is not a new join: nobody leaves anything.
        r = await a.request("match_join", {"match_id": second})
        assert r["match"]["size"] == 2 and r["match"]["self"] == presence(alice, a_sid)
        await c.request("match_leave", {"match_id": second})  # second: alice alone again
        await a.push("match_presence_event", where=lambda e: "leaves" in e)

        # Alice joins bob's match: she leaves the second, where she was alone, so it is gone.
        r = await a.request("match_join", {"match_id": first})
        assert r["match"]["size"] == 2 and r["match"]["presences"] == [presence(bob, b_sid)]
        await b.push("match_presence_event", where=lambda e: "joins" in e)
        r = await c.request("match_join", {"match_id": second})
        assert r["error"] == {"code": 4, "message": "Match not found"}
        # Bob's data reaches her again; the op_code 3 she sent while out never reached bob.
        await b.send_raw(json.dumps({"match_data_send": {"match_id": first, "op_code": 4}}))
        assert (await a.push("match_data"))["op_code"] == "4"
        assert [d["match_data"]["op_code"] for d in a.pushes if "match_data" in d] == []
        assert [d["match_data"]["op_code"] for d in b.pushes if "match_data" in d] == []
        await w.close()


async def test_keepalive_pings_and_drops_silent_peers(own_server):
    srv = own_server("--socket.ping_period_ms", "200", "--socket.pong_wait_ms", "2000")
    async with aiohttp.ClientSession() as http:
        w = World(srv, http)
        p = await w.player()
        # A peer that answers pings (aiohttp does, while reading) stays, even when it says nothing.
        alive = await w.connect(p)
        # A peer that never answers is pinged, then dropped once silent for pong_wait: never
        # before (the clock starts before the connection exists, so this holds on any machine),
        # and at some point after (the receive's ceiling is far above 2 s).
        started = time.monotonic()
        silent = await http.ws_connect(f"{w.ws_url}?token={p.token}", autoping=False)
        pings = 0
        while True:
            msg = await silent.receive(timeout=TIMEOUT)
            if msg.type == aiohttp.WSMsgType.PING:
                pings += 1
                continue
            break
        elapsed = time.monotonic() - started
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                            aiohttp.WSMsgType.ERROR), msg
        assert pings >= 1 and elapsed >= 1.95, (pings, elapsed)
        await asyncio.sleep(0.5)
        assert not alive.ws.closed
        assert (await alive.request("ping"))["pong"] == {}
        await w.close()


def _raw_ws(port: int, token: str, rcvbuf: int = 4096) -> socket.socket:
    """A WebSocket client by hand, with a tiny receive buffer, that can stop reading."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def _raw_send(s: socket.socket, text: str) -> None:
    data = text.encode()
    assert len(data) < 65536
    header = struct.pack("!BB", 0x81, 0x80 | len(data)) if len(data) < 126 else \
        struct.pack("!BBH", 0x81, 0x80 | 126, len(data))
    s.sendall(header + b"\0\0\0\0" + data)  # an all-zero mask leaves the payload as is


async def test_a_peer_that_stops_reading_is_closed(own_server):
    srv = own_server("--socket.outgoing_queue_size", "8")
    async with aiohttp.ClientSession() as http:
        w = World(srv, http)
        sender, staller = await w.player(), await w.player()
        s = await w.connect(sender)
        match_id = (await s.request("match_create", {}))["match"]["match_id"]
        stalled = _raw_ws(srv.port, staller.token)
        _raw_send(stalled, json.dumps({"cid": "1", "match_join": {"match_id": match_id}}))
        joined = await s.push("match_presence_event", where=lambda e: "joins" in e and
                              e["joins"][0]["user_id"] == staller.uid)
        staller_sid = joined["joins"][0]["session_id"]

        # The stalled peer reads nothing from now on; the sender floods it through the match.
        blob = base64.b64encode(os.urandom(2800)).decode()
        frame = json.dumps({"match_data_send": {"match_id": match_id, "op_code": 1, "data": blob}})
        left = None
        for i in range(6000):
            await s.send_raw(frame)
            if i % 50 == 0:
                try:
                    left = await s.push("match_presence_event", timeout=0.01,
                                        where=lambda e: "leaves" in e)
                    break
                except AssertionError:
                    pass
        if left is None:
            left = await s.push("match_presence_event", where=lambda e: "leaves" in e)
        assert left == {"match_id": match_id, "leaves": [{"user_id": staller.uid,
                                                          "session_id": staller_sid,
                                                          "username": staller.username}]}
        assert "outgoing queue is full" in srv.log() or "stopped reading" in srv.log()
        stalled.close()

        # The server is fine: the sender and new sockets work.
        assert (await s.request("ping"))["pong"] == {}
        fresh = await w.connect(await w.player())
        assert (await fresh.request("ping"))["pong"] == {}
        r = await http.get(srv.url + "/healthcheck")
        assert r.status == 200
        await w.close()


async def test_write_wait_closes_a_peer_that_stops_reading(own_server):
    """`socket.write_wait_ms`: with an outgoing queue far larger than what is sent (so it never
    fills), a peer that stops reading is closed because one frame could not be written within
    the wait: never sooner than the wait after the flood began (nothing can stall before it),
    and within a generous ceiling (a wait read as seconds, or never enforced, would not)."""
    wait_ms = 3000
    srv = own_server("--socket.write_wait_ms", str(wait_ms),
                     "--socket.outgoing_queue_size", "100000")
    async with aiohttp.ClientSession() as http:
        w = World(srv, http)
        sender, staller = await w.player(), await w.player()
        s = await w.connect(sender)
        match_id = (await s.request("match_create", {}))["match"]["match_id"]
        stalled = _raw_ws(srv.port, staller.token)
        _raw_send(stalled, json.dumps({"cid": "1", "match_join": {"match_id": match_id}}))
        joined = await s.push("match_presence_event", where=lambda e: "joins" in e and
                              e["joins"][0]["user_id"] == staller.uid)
        staller_sid = joined["joins"][0]["session_id"]

        # ~15 MB for a peer that reads nothing: far more than the kernel's buffers hold, far
        # fewer frames than the queue does. Then nothing more is sent.
        blob = base64.b64encode(os.urandom(2800)).decode()
        frame = json.dumps({"match_data_send": {"match_id": match_id, "op_code": 1, "data": blob}})
        started = time.monotonic()
        for _ in range(4000):
            await s.send_raw(frame)
        assert (await s.request("ping"))["pong"] == {}  # the server has read the whole flood
        left = await s.push("match_presence_event", where=lambda e: "leaves" in e,
                            timeout=wait_ms / 1000 + TIMEOUT)
        elapsed = time.monotonic() - started
        assert left == {"match_id": match_id, "leaves": [{"user_id": staller.uid,
                                                          "session_id": staller_sid,
                                                          "username": staller.username}]}
        assert elapsed >= wait_ms / 1000, elapsed
        log = srv.log()
        assert "Closing a session that stopped reading" in log
        assert "outgoing queue is full" not in log

        # The peer's connection ends: what was already in the buffers, then end of stream.
        def drain() -> int:
            stalled.settimeout(TIMEOUT)
            got = 0
            try:
                while chunk := stalled.recv(1 << 16):
                    got += len(chunk)
            except ConnectionResetError:
                pass
            return got

        got = await asyncio.get_running_loop().run_in_executor(None, drain)
        assert 0 < got < 4000 * len(blob), got  # some frames, never the whole flood
        stalled.close()
        assert (await s.request("ping"))["pong"] == {}
        await w.close()


async def test_shutdown_closes_sockets_with_a_close_frame(own_server):
    srv = own_server()
    async with aiohttp.ClientSession() as http:
        w = World(srv, http)
        s = await w.connect(await w.player())
        assert (await s.request("ping"))["pong"] == {}
        await asyncio.get_running_loop().run_in_executor(None, srv.stop)
        closed = await s.wait_closed()
        assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 1001
        assert srv.proc.returncode == 0


async def test_online_flag_and_logout_closes_sockets(server) -> None:
    """A user with a status socket shows `online` in GET /v2/user; logging out closes it."""
    import base64
    import json

    import aiohttp

    basic = {"Authorization": "Basic " + base64.b64encode(b"defaultkey:").decode()}
    async with aiohttp.ClientSession() as http:
        async with http.post(server.url + "/v2/account/authenticate/device",
                             json={"id": "online-flag-device-1"}, headers=basic) as r:
            tok = (await r.json())["token"]
        uid = json.loads(base64.urlsafe_b64decode(tok.split(".")[1] + "=="))["uid"]
        bearer = {"Authorization": "Bearer " + tok}
        async with http.get(server.url + f"/v2/user?ids={uid}", headers=bearer) as r:
            assert "online" not in (await r.json())["users"][0]
        ws = await http.ws_connect(server.url.replace("http", "ws") + f"/ws?token={tok}&status=true")
        async with http.get(server.url + f"/v2/user?ids={uid}", headers=bearer) as r:
            assert (await r.json())["users"][0]["online"] is True
        async with http.get(server.url + "/v2/account", headers=bearer) as r:
            assert (await r.json())["user"]["online"] is True
        async with http.post(server.url + "/v2/session/logout", json={}, headers=bearer) as r:
            assert r.status == 200
        msg = await ws.receive(timeout=TIMEOUT)
        while msg.type == aiohttp.WSMsgType.TEXT:  # its own status presence event comes first
            msg = await ws.receive(timeout=TIMEOUT)
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert (msg.data, msg.extra) == (1000, "session revoked")


# -- group chat ----------------------------------------------------------------------------------


async def test_group_channel_membership_and_system_messages(world: World):
    api = world.api
    owner, member, outsider, late = [await world.player() for _ in range(4)]
    g = assert_ok(await api.post("/v2/group", owner.token, {"name": f"chat-{uuid.uuid4().hex[:8]}",
                                                            "open": True}))
    gid = g["id"]
    channel_id = f"3.{gid}.."
    assert_ok(await api.post(f"/v2/group/{gid}/join", member.token))
    o, m, x = [await world.connect(p) for p in (owner, member, outsider)]

    # Members only (a join request is not a member).
    assert (await x.request("channel_join", {"target": gid, "type": 3}))["error"] == {
        "code": 3, "message": "Group not found"}
    r = await o.request("channel_join", {"target": gid, "type": 3})
    o_sid = r["channel"]["self"]["session_id"]
    assert r["channel"] == {"id": channel_id, "self": presence(owner, o_sid, persistence=True),
                            "group_id": gid}
    r = await m.request("channel_join", {"target": gid, "type": 3})
    m_sid = r["channel"]["self"]["session_id"]
    assert r["channel"]["presences"] == [presence(owner, o_sid, persistence=True)]
    await o.push("channel_presence_event")

    # A chat message reaches both; its history is for members.
    ack = await m.request("channel_message_send", {"channel_id": channel_id, "content": '{"hi":1}'})
    assert ack["channel_message_ack"]["group_id"] == gid
    await o.push("channel_message")
    await m.push("channel_message")

    # Membership changes appear in the channel as Nakama's messages.
    assert_ok(await api.post(f"/v2/group/{gid}/join", late.token))
    joined = await o.push("channel_message", where=lambda b: b["code"] == 3)
    assert {k: joined[k] for k in ("channel_id", "code", "sender_id", "username", "content",
                                   "persistent", "group_id")} == {
        "channel_id": channel_id, "code": 3, "sender_id": late.uid, "username": late.username,
        "content": "{}", "persistent": True, "group_id": gid}
    await m.push("channel_message", where=lambda b: b["code"] == 3)
    r = await api.call("POST", f"/v2/group/{gid}/promote", auth=f"Bearer {owner.token}",
                       params={"user_ids": late.uid})
    assert_ok(r)
    promoted = await o.push("channel_message", where=lambda b: b["code"] == 7)
    assert (promoted["sender_id"], promoted["username"]) == (late.uid, late.username)
    r = await api.call("POST", f"/v2/group/{gid}/demote", auth=f"Bearer {owner.token}",
                       params={"user_ids": late.uid})
    assert (await o.push("channel_message", where=lambda b: b["code"] == 9))["sender_id"] == late.uid

    # A kicked member gets the kick message, leaves the channel at once and hears no more.
    r = await api.call("POST", f"/v2/group/{gid}/kick", auth=f"Bearer {owner.token}",
                       params={"user_ids": member.uid})
    assert_ok(r)
    kicked = await m.push("channel_message", where=lambda b: b["code"] == 6)
    assert (kicked["sender_id"], kicked["username"]) == (member.uid, member.username)
    m.pushes.clear()  # what came before the kick
    assert await o.push("channel_presence_event", where=lambda b: "leaves" in b) == {
        "channel_id": channel_id, "leaves": [presence(member, m_sid, persistence=True)],
        "group_id": gid}
    await o.request("channel_message_send", {"channel_id": channel_id, "content": '{"after":1}'})
    await o.push("channel_message", where=lambda b: b["content"] == '{"after":1}')
    await m.no_push("channel_message")
    r = await m.request("channel_message_send", {"channel_id": channel_id, "content": "{}"})
    assert r["error"] == {"code": 3, "message": "Must join channel before sending messages"}
    assert (await m.request("channel_join", {"target": gid, "type": 3}))["error"] == {
        "code": 3, "message": "Group not found"}

    # History: members only; the system messages are in it.
    assert_error(await api.get(f"/v2/channel/{channel_id}", member.token), 400, 3,
                 "Group not found.")
    assert_error(await api.get(f"/v2/channel/{channel_id}", outsider.token), 400, 3,
                 "Group not found.")
    hist = assert_ok(await api.get(f"/v2/channel/{channel_id}", owner.token,
                                   params={"limit": 100, "forward": "true"}))
    assert [(h["code"], h["sender_id"]) for h in hist["messages"]] == [
        (3, member.uid), (0, member.uid), (3, late.uid), (7, late.uid), (9, late.uid),
        (6, member.uid), (0, owner.uid)]
    assert all(h["group_id"] == gid for h in hist["messages"])


async def test_group_ban_and_leave_take_sockets_off_the_channel(world: World):
    api = world.api
    owner, member, quitter = [await world.player() for _ in range(3)]
    g = assert_ok(await api.post("/v2/group", owner.token, {"name": f"ban-{uuid.uuid4().hex[:8]}",
                                                            "open": True}))
    gid = g["id"]
    channel_id = f"3.{gid}.."
    for p in (member, quitter):
        assert_ok(await api.post(f"/v2/group/{gid}/join", p.token))
    o, m, q = [await world.connect(p) for p in (owner, member, quitter)]
    m2 = await world.connect(member)  # every socket of a banned user leaves
    for s in (o, m, q, m2):
        assert "channel" in await s.request("channel_join", {"target": gid, "type": 3})

    assert_ok(await api.call("POST", f"/v2/group/{gid}/ban", auth=f"Bearer {owner.token}",
                             params={"user_ids": member.uid}))
    banned = await o.push("channel_message", where=lambda b: b["code"] == 8)
    assert (banned["sender_id"], banned["username"], banned["content"]) == (
        member.uid, member.username, "{}")
    assert_ok(await api.post(f"/v2/group/{gid}/leave", quitter.token))
    left = await o.push("channel_message", where=lambda b: b["code"] == 5)
    assert (left["sender_id"], left["username"]) == (quitter.uid, quitter.username)
    await o.request("channel_message_send", {"channel_id": channel_id, "content": '{"x":2}'})
    await o.push("channel_message", where=lambda b: b["content"] == '{"x":2}')
    for s, code in ((m, 8), (m2, 8), (q, 5)):  # the last message each got is its own removal
        await s.push("channel_message", where=lambda b, c=code: b["code"] == c)
        s.pushes.clear()
    await o.request("channel_message_send", {"channel_id": channel_id, "content": '{"x":3}'})
    await o.push("channel_message", where=lambda b: b["content"] == '{"x":3}')
    for s in (m, m2, q):
        await s.no_push("channel_message", wait=0.1)
    for s in (m, m2, q):
        r = await s.request("channel_message_send", {"channel_id": channel_id, "content": "{}"})
        assert r["error"]["message"] == "Must join channel before sending messages"
