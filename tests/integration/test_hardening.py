"""Hardening (issue 15): client input never answers 500. Each class of bad input is refused once,
in the wire layer or the area that owns the rule, with the Nakama-shaped 4xx a user sees:
U+0000 in any text, over-long passwords, out-of-range cursors and timestamps, bodies their
Content-Encoding does not describe, over-long request lines and headers, integers outside the
protocol's types, and sockets that join without bound. Runs against one real `kizuna server`.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import socket
import uuid
from typing import Any

import aiohttp
import pytest

from tests.integration.nakama_http import Api, assert_error, assert_ok, basic, bearer
from tests.integration.test_realtime import World, _start, _stop

pytestmark = pytest.mark.timeout(180)

NUL = "\x00"
UID = str(uuid.uuid4())


def encode_cursor(values: list[Any]) -> str:
    """A cursor as the server's codec writes them (kizuna.wire.paging), with any number in it."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).rstrip(b"=").decode()


def nul(field: str) -> str:
    return f"{field}: must not contain the NUL character (U+0000)"


@pytest.fixture(scope="module")
def hard_server(tmp_path_factory):
    srv, db = _start(tmp_path_factory.mktemp("hardening"),
                     "--socket.max_channels_per_socket", "3",
                     "--socket.max_matches_per_socket", "3")
    yield srv
    _stop(srv, db)


@pytest.fixture
async def world(hard_server):
    async with aiohttp.ClientSession(skip_auto_headers=["Accept-Encoding"]) as http:
        w = World(hard_server, http)
        yield w
        await w.close()
    assert "Traceback" not in hard_server.log(), hard_server.log()[-4000:]


async def token(api: Api) -> str:
    return (await api.login("device", {"id": f"dev-{uuid.uuid4().hex}"}))["token"]


# -- 3. U+0000 -----------------------------------------------------------------------------------

# (method, path, body, query, the field named in the error); paths are sent percent-encoded.
SESSION_CASES: list[tuple[str, str, Any, Any, str]] = [
    ("PUT", "/v2/account", {"username": "a\x00b"}, None, "username"),
    ("PUT", "/v2/account", {"display_name": "x\x00"}, None, "display_name"),
    ("PUT", "/v2/account", {"timezone": "\x00"}, None, "timezone"),
    ("POST", "/v2/account/link/device", {"id": "device-\x00-12345"}, None, "id"),
    ("POST", "/v2/account/link/custom", {"id": "custom\x00id"}, None, "id"),
    ("POST", "/v2/account/unlink/custom", {"id": "custom\x00id"}, None, "id"),
    ("POST", "/v2/account/link/email", {"email": "a\x00@example.com", "password": "password1"},
     None, "email"),
    ("GET", "/v2/user", None, {"usernames": "bob\x00"}, "usernames"),
    ("GET", "/v2/user", None, {"ids": f"{UID}\x00"}, "ids"),
    ("PUT", "/v2/storage", {"objects": [{"collection": "c\x00", "key": "k", "value": "{}"}]},
     None, "objects[0].collection"),
    ("PUT", "/v2/storage", {"objects": [{"collection": "c", "key": "k\x00", "value": "{}"}]},
     None, "objects[0].key"),
    ("PUT", "/v2/storage", {"objects": [{"collection": "c", "key": "k", "value": "{}",
                                         "version": "\x00"}]}, None, "objects[0].version"),
    ("POST", "/v2/storage", {"object_ids": [{"collection": "c", "key": "k\x00"}]}, None,
     "object_ids[0].key"),
    ("PUT", "/v2/storage/delete", {"object_ids": [{"collection": "c\x00", "key": "k"}]}, None,
     "object_ids[0].collection"),
    ("GET", "/v2/storage/col%00lection", None, None, "collection"),
    ("GET", f"/v2/storage/c/{UID}%00", None, None, "user_id"),
    ("GET", "/v2/storage/c", None, {"cursor": "ab\x00"}, "cursor"),
    ("GET", "/v2/channel/2...room%00", None, None, "channel_id"),
    ("POST", "/v2/friend", None, {"usernames": "x\x00"}, "usernames"),
    ("GET", "/v2/friend", None, {"cursor": "\x00"}, "cursor"),
    ("POST", "/v2/group", {"name": "g\x00"}, None, "name"),
    ("GET", "/v2/group", None, {"name": "g\x00"}, "name"),
    ("PUT", f"/v2/group/{UID}%00", {"name": "x"}, None, "group_id"),
    ("POST", f"/v2/group/{UID}%00/join", {}, None, "group_id"),
    ("GET", f"/v2/user/{UID}%00/group", None, None, "user_id"),
    ("POST", "/v2/event", {"name": "e\x00"}, None, "name"),
    ("POST", "/v2/event", {"name": "e", "properties": {"k": "v\x00"}}, None, "properties.k"),
    ("POST", "/v2/session/logout", {"token": "t\x00"}, None, "token"),
    ("DELETE", "/v2/notification", None, {"ids": "\x00"}, "ids"),
]


async def test_nul_in_any_text_is_a_400_naming_the_field(world: World):
    api = world.api
    tok = await token(api)
    for method, path, body, query, name in SESSION_CASES:
        r = await api.call(method, path, json_body=body, params=query, auth=bearer(tok))
        assert_error(r, 400, 3, nul(name))
    # Server-key methods: authenticate, refresh.
    r = await api.authenticate("device", {"id": "device-\x00-0123456"})
    assert_error(r, 400, 3, nul("id"))
    r = await api.authenticate("custom", {"id": "custom-id"}, params={"username": "u\x00"})
    assert_error(r, 400, 3, nul("username"))
    r = await api.authenticate("email", {"email": "x@example.com", "password": "pass\x00word"})
    assert_error(r, 400, 3, nul("password"))
    r = await api.authenticate("device", {"id": "device-0123456789", "vars": {"k\x00": "v"}})
    assert_error(r, 400, 3, nul("vars"))
    r = await api.call("POST", "/v2/account/session/refresh", json_body={"token": "\x00"},
                       auth=basic())
    assert_error(r, 400, 3, nul("token"))


async def test_documents_are_checked_on_their_decoded_value(world: World):
    api = world.api
    tok = await token(api)
    # An escaped backslash before "u0000" is legal JSON and holds no NUL: stored and read back.
    value = '{"a":"\\\\u0000"}'
    acks = assert_ok(await api.put("/v2/storage", tok, {"objects": [
        {"collection": "docs", "key": "k", "value": value}]}))
    assert acks["acks"][0]["key"] == "k"
    got = assert_ok(await api.post("/v2/storage", tok, {"object_ids": [
        {"collection": "docs", "key": "k", "user_id": acks["acks"][0]["user_id"]}]}))
    assert json.loads(got["objects"][0]["value"]) == {"a": "\\u0000"}
    # A real NUL, escaped or in a key, is refused (PostgreSQL's jsonb cannot hold it).
    for bad in ('{"a":"\\u0000"}', '{"\\u0000":1}', '{"a":["x\\u0000"]}'):
        r = await api.put("/v2/storage", tok, {"objects": [
            {"collection": "docs", "key": "k2", "value": bad}]})
        assert_error(r, 400, 3, "Value must not contain NUL characters.")
    r = await api.post("/v2/friend", tok, params={"ids": str(uuid.uuid4()),
                                                  "metadata": '{"a":"\\u0000"}'})
    assert r.status == 400, r


async def test_nul_on_the_socket(world: World):
    p = await world.player()
    sock = await world.connect(p)
    cases = [("status_follow", {"usernames": ["bob\x00"]}, "usernames[0]"),
             ("channel_join", {"target": "room\x00", "type": 1}, "target"),
             ("channel_leave", {"channel_id": "2...room\x00"}, "channel_id"),
             ("match_create", {"name": "m\x00"}, "name"),
             ("rpc", {"id": "x\x00"}, "id"),
             ("status_update", {"status": {"value": "\x00"}}, "status.value")]
    for kind, body, name in cases:
        r = await sock.request(kind, body)
        assert r["error"] == {"code": 3, "message": nul(name)}, (kind, r)
    j = await sock.request("channel_join", {"target": "lobby", "type": 1})
    r = await sock.request("channel_message_send",
                           {"channel_id": j["channel"]["id"], "content": '{"a":"\\u0000"}'})
    assert r["error"] == {"code": 3, "message": "Message content must not contain NUL characters"}
    r = await sock.request("channel_message_send",
                           {"channel_id": j["channel"]["id"], "content": '{"a":"\\\\u0000"}'})
    assert "channel_message_ack" in r, r
    assert "pong" in await sock.request("ping")


# -- 4. passwords over 72 bytes ------------------------------------------------------------------

TOO_LONG = "Password must be at most 72 bytes long."


async def test_passwords_over_72_bytes_are_a_400(world: World):
    api = world.api
    email = f"p{uuid.uuid4().hex[:8]}@example.com"
    r = await api.authenticate("email", {"email": email, "password": "p" * 73})
    assert_error(r, 400, 3, TOO_LONG)
    r = await api.authenticate("email", {"email": email, "password": "é" * 37})  # 74 bytes
    assert_error(r, 400, 3, TOO_LONG)
    assert_ok(await api.authenticate("email", {"email": email, "password": "p" * 72}))
    # Checking one (logging in) is refused the same way, by email or by username.
    r = await api.authenticate("email", {"email": email, "password": "p" * 100})
    assert_error(r, 400, 3, TOO_LONG)
    r = await api.authenticate("email", {"username": "someone", "password": "p" * 100})
    assert_error(r, 400, 3, TOO_LONG)
    tok = await token(api)
    r = await api.post("/v2/account/link/email", tok,
                       {"email": f"l{uuid.uuid4().hex[:8]}@example.com", "password": "x" * 200})
    assert_error(r, 400, 3, TOO_LONG)


# -- 5. cursors and timestamps out of range ------------------------------------------------------

BIG = [2**63, -(2**63) - 1, 10**30, 1e300]  # outside int64


async def test_out_of_range_cursors_are_the_areas_cursor_error(world: World):
    api = world.api
    tok = await token(api)
    me = (await api.get("/v2/account", tok)).json["user"]["id"]
    mid = str(uuid.uuid4())
    for n in [2**62, *BIG]:  # times: 2**62 microseconds is past the year 9999 too
        chat = encode_cursor([1, 2, "", "", "room", n, mid, True, True])
        r = await api.get("/v2/channel/2...room", tok, params={"cursor": chat})
        assert_error(r, 400, 3, "Cursor is invalid or expired.")
        r = await api.get("/v2/notification", tok,
                          params={"cacheable_cursor": encode_cursor([n, mid])})
        assert_error(r, 400, 3, "Malformed cursor was used.")
        if n == 2**62:
            continue
        r = await api.get("/v2/storage/c", tok, params={"cursor": encode_cursor([n, "k", me])})
        assert_error(r, 400, 3, "Malformed cursor was used.")
        r = await api.get("/v2/friend", tok, params={"cursor": encode_cursor([0, n])})
        assert_error(r, 400, 3, "Cursor is invalid.")
        r = await api.get(f"/v2/user/{me}/group", tok, params={"cursor": encode_cursor(["ug", 0, n])})
        assert_error(r, 400, 3, "Cursor is invalid.")
        r = await api.get("/v2/group", tok, params={"cursor": encode_cursor(["name", "g", n, mid])})
        assert r.status == 400 and r.json["code"] == 3, r
    # Limits and int32 query parameters that overflow.
    for q in ({"limit": str(2**31)}, {"limit": "99999999999999999999999"}, {"limit": " 1"},
              {"limit": "\u0661"}):
        r = await api.get("/v2/notification", tok, params=q)
        assert_error(r, 400, 3, "Invalid limit - limit must be between 1 and 100.")


async def test_event_timestamps_at_the_calendars_limits(world: World):
    api = world.api
    tok = await token(api)
    for ok in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00-01:00",
               "9999-12-31T23:59:59+01:00"):
        assert_ok(await api.post("/v2/event", tok, {"name": "e", "timestamp": ok}), {})
    for bad in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                "9999-12-31T23:59:59.999999-00:01"):
        r = await api.post("/v2/event", tok, {"name": "e", "timestamp": bad})
        assert_error(r, 400, 3, "timestamp: time out of range")
    r = await api.post("/v2/event", tok, {"name": "e", "timestamp": "10000-01-01T00:00:00Z"})
    assert_error(r, 400, 3, "timestamp: expected an RFC 3339 time")


# -- 6. Content-Encoding the body does not match -------------------------------------------------


async def test_content_encoding_mismatch_is_a_400(world: World):
    api = world.api
    tok = await token(api)
    body = json.dumps({"objects": [{"collection": "c", "key": "k", "value": "{}"}]}).encode()
    for coding, data in (("gzip", body), ("deflate", body), ("br", body), ("zstd", body),
                         ("gzip", gzip.compress(body)[:20])):
        r = await api.call("PUT", "/v2/storage", data=data, auth=bearer(tok),
                           headers={"Content-Encoding": coding})
        assert r.status == 400, (coding, r)
        assert r.json["code"] == 3 and r.json["message"], (coding, r)
        assert r.headers["Content-Type"].startswith("application/json")
    # A body that is what its header says is read.
    r = await api.call("PUT", "/v2/storage", data=gzip.compress(body), auth=bearer(tok),
                       headers={"Content-Encoding": "gzip"})
    assert_ok(r)


# -- 7. request lines and headers ----------------------------------------------------------------


async def test_long_request_lines_and_headers(world: World):
    api = world.api
    tok = await token(api)
    ids = [str(uuid.uuid4()) for _ in range(400)]  # a request line of ~18 KB
    r = await api.get("/v2/user", tok, params=[("ids", i) for i in ids])
    assert_ok(r, {})
    r = await api.get("/v2/account", tok, headers={"X-Big": "x" * 60_000})
    assert_ok(r)
    # Past the limits (1 MiB request line, 64 KiB header): Nakama's shape, connection closed.
    for request in (b"GET /v2/user?ids=" + b"a" * (1 << 20) + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET /v2/account HTTP/1.1\r\nHost: x\r\nX-Big: " + b"x" * (70 << 10)
                    + b"\r\n\r\n"):
        status, body = await asyncio.to_thread(_raw_http, world.server.port, request)
        assert status == 400
        assert json.loads(body) == {"code": 3,
                                    "message": "Request line or header fields too large"}


def _raw_http(port: int, request: bytes) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(request)
        except OSError:
            pass  # the server may answer and close before it has read everything
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


# -- 8. integers as the protocol types them ------------------------------------------------------


async def test_integers_are_read_strictly_and_in_range(world: World):
    api = world.api
    tok = await token(api)

    async def write(**extra) -> Any:
        return await api.put("/v2/storage", tok, {"objects": [
            {"collection": "c", "key": "k", "value": "{}", **extra}]})

    for bad in (" 1 ", "\u0661", "+1", "1.5", "0x1", "1e3", "", True):
        r = await write(permission_read=bad)
        if bad == "":
            assert_ok(r)  # an empty string is an absent value, as protojson reads it
            continue
        assert_error(r, 400, 3, "permission_read: expected an integer")
    for big in (2**31, -(2**31) - 1, str(2**40), 2**70):
        r = await write(permission_read=big)
        assert_error(r, 400, 3, "permission_read: out of range for int32")
    assert_ok(await write(permission_read="1", permission_write=1.0))
    r = await api.post("/v2/group", tok, {"name": f"g{uuid.uuid4().hex}", "max_count": 2**31})
    assert_error(r, 400, 3, "max_count: out of range for int32")

    a, b = await world.player(), await world.player()
    sa, sb = await world.connect(a), await world.connect(b)
    m = (await sa.request("match_create", {}))["match"]
    await sb.request("match_join", {"match_id": m["match_id"]})
    for op in (2**70, str(2**63), "-9223372036854775809", " 1", "\u0661"):
        await sa.ws.send_str(json.dumps({"match_data_send": {"match_id": m["match_id"],
                                                             "op_code": op}}))
        err = await sa.next_raw()
        while err is not None and "error" not in err:
            err = await sa.next_raw()
        assert err is not None and err["error"]["code"] == 3, err
        assert "op_code" in err["error"]["message"]
    await sa.ws.send_str(json.dumps({"match_data_send": {"match_id": m["match_id"],
                                                         "op_code": str(2**63 - 1)}}))
    data = await sb.push("match_data")
    assert data["op_code"] == str(2**63 - 1)
    r = await sa.request("channel_join", {"target": "x", "type": 2**40})
    assert r["error"] == {"code": 3, "message": "type: out of range for int32"}


# -- 9. per-socket limits ------------------------------------------------------------------------


async def test_a_socket_joins_a_bounded_number_of_channels_and_matches(world: World):
    p = await world.player()
    sock = await world.connect(p)
    for i in range(3):
        assert "channel" in await sock.request("channel_join", {"target": f"r{i}", "type": 1})
    r = await sock.request("channel_join", {"target": "r3", "type": 1})
    assert r["error"] == {"code": 3, "message":
                          "Channel limit reached - a socket may be in at most 3 channels."}
    # Rejoining one it is in is fine, and leaving one makes room.
    assert "channel" in await sock.request("channel_join", {"target": "r0", "type": 1})
    await sock.request("channel_leave", {"channel_id": "2...r0"})
    assert "channel" in await sock.request("channel_join", {"target": "r3", "type": 1})

    matches = [(await sock.request("match_create", {}))["match"]["match_id"] for _ in range(3)]
    r = await sock.request("match_create", {})
    assert r["error"] == {"code": 3, "message":
                          "Match limit reached - a socket may be in at most 3 matches."}
    other = await world.connect(await world.player())
    theirs = (await other.request("match_create", {}))["match"]["match_id"]
    limit = {"code": 3, "message": "Match limit reached - a socket may be in at most 3 matches."}
    assert (await sock.request("match_join", {"match_id": theirs}))["error"] == limit
    assert (await sock.request("match_create", {"name": "x"}))["error"] == limit
    # Creating or joining a match it is already in is no new match: fine at the limit.
    r = await sock.request("match_join", {"match_id": matches[1]})
    assert r["match"]["match_id"] == matches[1] and r["match"]["size"] == 1
    await sock.request("match_leave", {"match_id": matches[0]})
    assert "match" in await sock.request("match_join", {"match_id": theirs})
    assert "pong" in await sock.request("ping")
