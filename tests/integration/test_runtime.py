"""Server modules in Python, end to end: real `kizuna server` processes loading real module files
(docs/examples/modules/example.py and tests/integration/runtime_modules/), on real PostgreSQL.

What is asserted is what a client (or an operator) observes: RPC bodies and status codes over
REST and the socket, hooks changing or refusing calls, events and session events leaving traces
in storage, custom HTTP routes, load errors at start and in `kizuna check`, `--dev` reloads and
shutdown functions. Most tests share one server; the ones that need other flags start their own.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import time
import uuid
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import PG, ROOT, _admin, free_port, run_kizuna, start_server
from tests.integration.nakama_http import Api, assert_error, assert_ok, bearer, claims, poll

pytestmark = pytest.mark.timeout(120)

EXAMPLE = ROOT / "docs" / "examples" / "modules" / "example.py"
TEST_MODULES = Path(__file__).resolve().parent / "runtime_modules"
HTTP_KEY = "test-http-key"


def _modules(where: Path) -> Path:
    mods = where / "modules"
    mods.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLE, mods / "example.py")
    for f in TEST_MODULES.glob("*.py"):
        shutil.copy(f, mods / f.name)
    return mods


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    """One server with the example and test modules; RPCs time out after 1.5 s."""
    tmp = tmp_path_factory.mktemp("runtime")
    db = f"kzt_{uuid.uuid4().hex[:16]}"
    srv = start_server(["--migrate", "--database.address", f"{PG}/{db}", "--logger.format", "text",
                        "--runtime.path", str(_modules(tmp)), "--runtime.http_key", HTTP_KEY,
                        "--runtime.call_timeout_ms", "1500", "--runtime.env", "GREETING=hello",
                        "--runtime.env", "SHUTDOWN_MARKER=" + str(tmp / "shutdown-ran")], tmp)
    srv.db = db  # type: ignore[attr-defined]
    srv.tmp = tmp  # type: ignore[attr-defined]
    yield srv
    srv.stop()
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))


@pytest.fixture
async def api(rt):
    async with aiohttp.ClientSession() as http:
        yield Api(rt.url, http)


async def player(api: Api, prefix: str = "player") -> dict:
    s = await api.login("device", {"id": f"{prefix}-{uuid.uuid4()}"})
    s["user_id"] = claims(s["token"])["uid"]
    return s


def basic_key(key: str = HTTP_KEY) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


async def rpc(api: Api, rpc_id: str, payload: str = "", *, token: str | None = None,
              params: dict | None = None, **kw) -> tuple[int, dict]:
    r = await api.call("POST", f"/v2/rpc/{rpc_id}", data=json.dumps(payload), params=params,
                       auth=bearer(token) if token else kw.pop("auth", None), **kw)
    return r.status, r.json


def rpc_ok(r) -> dict:
    """A successful RPC over HTTP (Nakama's RPC handler is not grpc-gateway: no Cache-Control)."""
    assert r.status == 200, r
    assert r.headers["Content-Type"] == "application/json"
    return r.json


async def read_object(api: Api, token: str, collection: str, key: str, user_id: str):
    r = await api.post("/v2/storage", token, {"object_ids": [
        {"collection": collection, "key": key, "user_id": user_id}]})
    objects = assert_ok(r).get("objects", [])
    return json.loads(objects[0]["value"]) if objects else None


# -- RPC over REST ---------------------------------------------------------------------------------


async def test_rpc_with_session_and_context(api, rt):
    p = await api.login("custom", {"id": f"custom-{uuid.uuid4()}", "vars": {"team": "red"}})
    token = p["token"]
    r = await api.call("POST", "/v2/rpc/WhoAmI", data=json.dumps("the payload"),
                       params={"extra": "1"}, auth=bearer(token))
    body = rpc_ok(r)
    assert set(body) == {"payload"}
    me = json.loads(body["payload"])
    assert me["mode"] == "rpc" and me["payload"] == "the payload"
    assert me["user_id"] == me["item"] == claims(token)["uid"]
    assert me["username"] == claims(token)["usn"] and me["vars"] == {"team": "red"}
    assert me["exp"] == claims(token)["exp"]
    assert me["query"] == {"extra": ["1"]} and me["has_headers"] and me["client_ip"] == "127.0.0.1"
    assert me["env"]["GREETING"] == "hello" and me["node"] == "kizuna"
    assert me["session_id"] is None and me["helper"] == "hi from a helper"


async def test_rpc_with_http_key_query_and_basic_get_and_post(api):
    # GET: the payload and custom parameters in the query; the http_key is not passed on.
    r = await api.call("GET", "/v2/rpc/whoami",
                       params={"http_key": HTTP_KEY, "payload": "from-get", "x": "y"})
    me = json.loads(rpc_ok(r)["payload"])
    assert me["user_id"] is None and me["username"] is None and me["vars"] is None
    assert me["payload"] == "from-get" and me["query"] == {"payload": ["from-get"], "x": ["y"]}
    # POST with the key in the query, and with Basic auth.
    status, body = await rpc(api, "echo", '{"a":1}', params={"http_key": HTTP_KEY})
    assert (status, body) == (200, {"payload": '{"a":1}'})
    status, body = await rpc(api, "echo", "basic", auth=basic_key())
    assert (status, body) == (200, {"payload": "basic"})
    # An empty POST body is an empty payload; a result that is not a string is JSON-encoded.
    r = await api.call("POST", "/v2/rpc/echo", params={"http_key": HTTP_KEY})
    assert (r.status, r.json) == (200, {"payload": ""})
    status, body = await rpc(api, "returns_dict", params={"http_key": HTTP_KEY})
    assert (status, json.loads(body["payload"])) == (200, {"encoded": True})


async def test_rpc_unwrap(api):
    r = await api.call("POST", "/v2/rpc/echo", params={"unwrap": "", "http_key": HTTP_KEY},
                       data=b"raw <bytes> not json", headers={"Content-Type": "text/x-game"})
    assert (r.status, r.body) == (200, b"raw <bytes> not json")
    assert r.headers["Content-Type"] == "text/x-game"
    r = await api.call("POST", "/v2/rpc/echo?unwrap", params={"http_key": HTTP_KEY}, data=b"x",
                       headers={"Content-Type": ""})
    assert r.status == 200 and r.body == b"x"


async def test_rpc_auth_and_lookup_errors(api):
    def three(status: int, code: int, message: str):
        return status, {"error": message, "message": message, "code": code}

    assert await rpc(api, "echo") == three(401, 16, "Auth token or HTTP key required")
    assert await rpc(api, "echo", params={"http_key": "wrong"}) == three(401, 16, "HTTP key invalid")
    assert await rpc(api, "echo", auth=basic_key("wrong")) == three(401, 16, "HTTP key invalid")
    assert await rpc(api, "echo", auth="Bearer not-a-token") == three(401, 16, "Auth token invalid")
    # The header wins over the query parameter.
    assert await rpc(api, "echo", auth="Bearer x", params={"http_key": HTTP_KEY}) == \
        three(401, 16, "Auth token invalid")
    assert await rpc(api, "", params={"http_key": HTTP_KEY}) == three(400, 3, "RPC ID must be set")
    assert await rpc(api, "no_such_rpc", params={"http_key": HTTP_KEY}) == \
        three(404, 5, "RPC function not found")
    r = await api.call("POST", "/v2/rpc/echo", params={"http_key": HTTP_KEY}, data=b'{"not":1}')
    assert r.status == 400 and r.json["code"] == 3 and set(r.json) == {"error", "message", "code"}
    r = await api.call("PUT", "/v2/rpc/echo", params={"http_key": HTTP_KEY})
    assert_error(r, 501, 12, "Method Not Allowed")


async def test_rpc_error_codes_map_to_http(api, rt):
    for code, status in ((3, 400), (5, 404), (7, 403), (9, 400), (14, 503), (16, 401)):
        got = await rpc(api, "fail_with", str(code), params={"http_key": HTTP_KEY})
        message = f"failed with {code}"
        assert got == (status, {"error": message, "message": message, "code": code})
    # A code outside 1-16 is Internal; the module's message still goes out.
    assert await rpc(api, "fail_with", "42", params={"http_key": HTTP_KEY}) == \
        (500, {"error": "failed with 42", "message": "failed with 42", "code": 13})
    # Any other exception: a generic message to the client, the traceback in the log.
    assert await rpc(api, "crash", params={"http_key": HTTP_KEY}) == \
        (500, {"error": "Internal Server Error", "message": "Internal Server Error", "code": 13})
    assert "ZeroDivisionError" in rt.log() and "Runtime function failed" in rt.log()
    # A blocking nk call from a coroutine is refused (it would freeze the loop), and says why.
    status, body = await rpc(api, "wrong_style", params={"http_key": HTTP_KEY})
    assert (status, body["code"]) == (500, 13)
    assert "use `await nk.aio.storage_read(...)`" in rt.log()
    # asyncio.run(nk.aio.x()) in a plain function: refused too, with the blocking call to use.
    status, body = await rpc(api, "own_loop", params={"http_key": HTTP_KEY})
    assert (status, body["code"]) == (500, 13)
    assert "call `nk.storage_read(...)`, which waits for it" in rt.log()


async def test_timeouts_and_a_busy_thread_do_not_stall_the_server(api, rt):
    # Both calls time out after call_timeout_ms (1.5 s), long before the functions would return
    # (20 s and 60 s): the answers come at the timeout, not when the functions end. The ceiling is
    # far above 1.5 s and still below 20 s.
    started = time.monotonic()
    (s1, b1), (s2, b2) = await asyncio.gather(
        rpc(api, "sleep_sync", "20", params={"http_key": HTTP_KEY}),
        rpc(api, "sleep_async", "60", params={"http_key": HTTP_KEY}))
    assert time.monotonic() - started < 15
    for status, body in ((s1, b1), (s2, b2)):
        assert (status, body["code"]) == (504, 4)
        assert body["message"] == "Function call timed out after 1500 ms."

    # CPU-bound Python in a worker thread: other requests keep being served meanwhile. The burn
    # runs until the test creates `stop` (the call's own timeout ends the call, not the thread),
    # so healthchecks answered before that were answered while it burned; `stopped` (not
    # `capped`, after 60 s) shows it was still burning when they all had been answered.
    gate = rt.tmp / f"burn-{uuid.uuid4().hex[:8]}"
    gate.mkdir()
    burn = asyncio.ensure_future(rpc(api, "burn", str(gate), params={"http_key": HTTP_KEY}))
    try:
        await poll(lambda: _true((gate / "started").exists()), timeout=30)
        for _ in range(5):
            assert (await api.call("GET", "/healthcheck")).status == 200
    finally:
        (gate / "stop").touch()
    status, body = await burn
    assert (status == 200 and int(body["payload"]) > 0) or (status, body["code"]) == (504, 4), body
    await poll(lambda: _true((gate / "stopped").exists() or (gate / "capped").exists()),
               timeout=30)
    assert (gate / "stopped").exists(), "the burn ran to its cap: the healthchecks waited for it"


# -- RPC over the socket ---------------------------------------------------------------------------


class Socket:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.n = 0

    async def send(self, kind: str, body: dict) -> dict:
        self.n += 1
        cid = str(self.n)
        await self.ws.send_str(json.dumps({"cid": cid, kind: body}))
        while True:
            msg = await asyncio.wait_for(self.ws.receive(), 30)
            doc = json.loads(msg.data)
            if doc.get("cid") == cid:
                doc.pop("cid")
                return doc


async def connect(http: aiohttp.ClientSession, rt, token: str) -> Socket:
    ws = await http.ws_connect(rt.url.replace("http", "ws") + "/ws", params={"token": token})
    return Socket(ws)


async def test_socket_rpc(api, rt):
    p = await player(api)
    s = await connect(api.http, rt, p["token"])
    assert await s.send("rpc", {"id": "echo", "payload": "over the socket"}) == \
        {"rpc": {"id": "echo", "payload": "over the socket"}}
    me = json.loads((await s.send("rpc", {"id": "WHOAMI", "payload": "p"}))["rpc"]["payload"])
    assert me["user_id"] == p["user_id"] and me["session_id"] and me["query"] is None
    assert await s.send("rpc", {"id": "echo"}) == {"rpc": {"id": "echo"}}
    assert await s.send("rpc", {"payload": "x"}) == {"error": {"code": 3, "message": "RPC ID must be set"}}
    assert await s.send("rpc", {"id": "nope"}) == \
        {"error": {"code": 6, "message": "RPC function not found"}}
    assert await s.send("rpc", {"id": "fail_with", "payload": "9"}) == \
        {"error": {"code": 7, "message": "failed with 9"}}
    assert await s.send("rpc", {"id": "crash"}) == \
        {"error": {"code": 7, "message": "Internal Server Error"}}
    # The session survives all of that.
    assert await s.send("ping", {}) == {"pong": {}}
    await s.ws.close()


# -- REST hooks ------------------------------------------------------------------------------------


async def test_before_hooks_change_refuse_and_disable(api):
    # The example module trims display names and refuses reserved ones.
    p = await player(api)
    assert_ok(await api.put("/v2/account", p["token"], {"display_name": "  Ada   Lovelace "}))
    account = assert_ok(await api.get("/v2/account", p["token"]))
    assert account["user"]["display_name"] == "Ada Lovelace"
    assert_error(await api.put("/v2/account", p["token"], {"display_name": "the ADMIN"}),
                 400, 3, "That display name is reserved.")
    # A hook may set fields (a username here) and refuse callers with its own code.
    cid = f"renamed-{uuid.uuid4()}"
    s = await api.login("custom", {"id": cid})
    assert claims(s["token"])["usn"] == "hooked" + cid[-6:]
    assert_error(await api.authenticate("custom", {"id": f"refused-{uuid.uuid4()}"}),
                 403, 7, "This id may not sign in.")
    # Returning None disables the method.
    assert_error(await api.delete("/v2/notification", p["token"], params={"ids": str(uuid.uuid4())}),
                 404, 5, "Requested resource was not found.")
    # A hook returning something else is a server error, not a crash.
    assert_error(await api.post("/v2/account/unlink/device", p["token"], {"id": "x"}),
                 500, 13, "Internal Server Error")
    # Authentication still comes first: no hook runs for a caller without a valid token.
    assert_error(await api.call("DELETE", "/v2/notification"), 401, 16, "Auth token required")


async def test_after_hooks_see_response_and_request(api, rt):
    p = await player(api)
    r = await api.put("/v2/storage", p["token"], {"objects": [
        {"collection": "c", "key": "k1", "value": "{}"},
        {"collection": "c", "key": "k2", "value": "{}"}]})
    assert len(assert_ok(r)["acks"]) == 2
    # The after hook ran before the response was sent.
    assert await read_object(api, p["token"], "audit", "last_write", p["user_id"]) == \
        {"acks": 2, "keys": ["k1", "k2"], "mode": "after"}
    # An after hook that fails is logged; the client still gets its answer.
    r = await api.get("/v2/user", p["token"], params={"ids": p["user_id"]})
    assert assert_ok(r)["users"][0]["id"] == p["user_id"]
    assert "After hook failed" in rt.log()


# -- realtime hooks and session events -------------------------------------------------------------


async def test_realtime_hooks_and_session_events(api, rt):
    p = await player(api)
    s = await connect(api.http, rt, p["token"])
    joined = await s.send("channel_join", {"target": "renamed", "type": 1})
    assert joined["channel"]["room_name"] == "renamed-by-hook"
    assert await s.send("channel_join", {"target": "forbidden", "type": 1}) == \
        {"error": {"code": 1, "message": "Requested resource was not found."}}
    assert await s.send("channel_join", {"target": "boom", "type": 1}) == \
        {"error": {"code": 7, "message": "no booms here"}}
    # The after hook got the reply (out) and the message (after the before hook changed it).
    seen = await read_object(api, p["token"], "rt", "joined", p["user_id"])
    assert seen["room"] == seen["asked"] == "renamed-by-hook" and seen["session_id"]
    # Unhooked kinds are untouched.
    assert await s.send("ping", {}) == {"pong": {}}

    start = await poll(lambda: read_object(api, p["token"], "sessions", "start", p["user_id"]))
    assert start == {"session_id": seen["session_id"], "name": "session_start"}
    await s.ws.close()
    end = await poll(lambda: read_object(api, p["token"], "sessions", "end", p["user_id"]))
    assert end == {"session_id": seen["session_id"]}


# -- events ----------------------------------------------------------------------------------------


async def test_events_reach_register_event(api):
    p = await player(api)
    for level in ("1-1", "1-2"):
        r = await api.post("/v2/event", p["token"], {"name": "level_complete",
                                                     "properties": {"level": level}})
        assert_ok(r, {})

    async def counted():
        v = await read_object(api, p["token"], "stats", "levels", p["user_id"])
        return v if v and v["completed"] == 2 else None
    assert (await poll(counted))["completed"] == 2
    assert_error(await api.post("/v2/event", p["token"], {"properties": {}}), 400, 3,
                 "Event name is required.")
    assert_error(await api.post("/v2/event", p["token"], {"name": "x", "timestamp": "yesterday"}),
                 400, 3, "timestamp: expected an RFC 3339 time")
    assert_ok(await api.post("/v2/event", p["token"], {"name": "x", "timestamp": "2024-01-02T03:04:05Z",
                                                       "external": True}), {})


# -- the example module's RPC and the nk API -------------------------------------------------------


async def test_example_daily_reward(api):
    p = await player(api)
    status, body = await rpc(api, "claim_daily_reward", token=p["token"])
    assert status == 200 and json.loads(body["payload"])["coins"] == 100
    assert await rpc(api, "claim_daily_reward", token=p["token"]) == (400, {
        "error": "Today's reward was already claimed.",
        "message": "Today's reward was already claimed.", "code": 9})
    # Written with permission_write 0: the player cannot change it.
    r = await api.put("/v2/storage", p["token"], {"objects": [
        {"collection": "rewards", "key": "daily", "value": '{"coins": 1000000}'}]})
    assert_error(r, 400, 3, "Storage write rejected - permission denied.")
    r = assert_ok(await api.get("/v2/notification", p["token"], params={"limit": "10"}))
    assert [n["subject"] for n in r["notifications"]] == ["Daily reward"]
    # Without a user (HTTP key) the function refuses.
    assert (await rpc(api, "claim_daily_reward", params={"http_key": HTTP_KEY}))[0] == 401


async def test_nk_accounts_users_tokens_bans(api, rt):
    p = await player(api)
    payload = uuid.uuid4().hex
    status, body = await rpc(api, "nk_accounts", payload, token=p["token"])
    assert status == 200, body
    out = json.loads(body["payload"])
    assert out["display_name"] == "Set By Server" and out["metadata"] == {"level": 7}
    assert out["users"] == out["by_name"] == [p["user_id"]] == [out["export_user"]]
    other_id, _other_name, created = out["other"]
    assert created is True and out["again_created"] is False
    assert out["export_keys"] == ["account", "notifications", "objects"]
    # A token made by the server works like any other.
    account = assert_ok(await api.get("/v2/account", out["token"]))
    assert account["user"]["id"] == other_id and claims(out["token"])["vrs"] == {"via": "nk"}
    # Banning revokes its sessions at once and refuses sign-ins; unbanning lets it sign in again
    # (the sessions revoked by the ban stay revoked).
    custom = {"id": "server-made-" + payload}
    assert (await rpc(api, "nk_ban", json.dumps({"user_id": other_id, "ban": True}),
                      params={"http_key": HTTP_KEY}))[0] == 200
    assert_error(await api.get("/v2/account", out["token"]), 401, 16, "Auth token invalid")
    assert_error(await api.authenticate("custom", custom), 403, 7, "User account banned.")
    assert (await rpc(api, "nk_ban", json.dumps({"user_id": other_id, "ban": False}),
                      params={"http_key": HTTP_KEY}))[0] == 200
    again = await api.login("custom", {**custom})
    assert claims(again["token"])["uid"] == other_id and "created" not in again
    assert assert_ok(await api.get("/v2/account", again["token"]))["user"]["id"] == other_id
    assert_error(await api.get("/v2/account", out["token"]), 401, 16, "Auth token invalid")


async def test_nk_ban_refuses_every_sign_in_and_unban_restores_them(api, rt):
    """A player banned by `nk.users_ban_id` cannot sign in by any of its ids, refresh, or keep a
    socket; `nk.users_unban_id` lets every id sign in again to the same account (as Nakama: the
    tokens revoked by the ban stay revoked, and unbanning a user who is not banned is a no-op)."""
    custom = {"id": f"ban-{uuid.uuid4()}"}
    device = {"id": f"ban-dev-{uuid.uuid4()}"}
    first = await api.login("custom", custom)
    uid = claims(first["token"])["uid"]
    assert_ok(await api.post("/v2/account/link/device", first["token"], device), {})
    sock = await connect(api.http, rt, first["token"])
    assert await sock.send("ping", {}) == {"pong": {}}
    ws = sock.ws

    async def ban(on: bool) -> None:
        status, body = await rpc(api, "nk_ban", json.dumps({"user_id": uid, "ban": on}),
                                 params={"http_key": HTTP_KEY})
        assert status == 200, body

    await ban(True)
    # The open socket is closed by the ban.
    msg = await ws.receive(timeout=30)
    while msg.type == aiohttp.WSMsgType.TEXT:
        msg = await ws.receive(timeout=30)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
    for kind, account in (("custom", custom), ("device", device)):
        assert_error(await api.authenticate(kind, account), 403, 7, "User account banned.")
    assert_error(await api.get("/v2/account", first["token"]), 401, 16, "Auth token invalid")
    assert_error(await api.refresh(first["refresh_token"]), 401, 16,
                 "Refresh token invalid or expired.")

    await ban(False)
    for kind, account in (("custom", custom), ("device", device)):
        again = await api.login(kind, account)
        assert claims(again["token"])["uid"] == uid and "created" not in again, (kind, again)
        assert assert_ok(await api.get("/v2/account", again["token"]))["user"]["id"] == uid
    sock = await connect(api.http, rt, again["token"])
    assert await sock.send("ping", {}) == {"pong": {}}
    await sock.ws.close()
    # What the ban revoked stays revoked.
    assert_error(await api.get("/v2/account", first["token"]), 401, 16, "Auth token invalid")
    assert_error(await api.refresh(first["refresh_token"]), 401, 16,
                 "Refresh token invalid or expired.")
    # Unbanning again changes nothing: the player still signs in, its sessions still work.
    await ban(False)
    assert_ok(await api.get("/v2/account", again["token"]))
    assert claims((await api.login("custom", custom))["token"])["uid"] == uid


async def test_nk_storage_notifications_chat(api, rt):
    p = await player(api)
    status, body = await rpc(api, "nk_storage", token=p["token"])
    assert status == 200, body
    out = json.loads(body["payload"])
    assert out["acks"] == ["a", "b", "global"]
    assert out["owner_of_global"] == "00000000-0000-0000-0000-000000000000"
    assert out["pages"] == [1, 1] and out["end"] is None
    assert out["values"] == [{"n": 3}, {"system": True}]
    assert out["conflict"] == [3, "Storage write rejected - version check failed."]
    assert out["left"] == ["a"]
    # What the server wrote with permission_read 2 is public to other players.
    q = await player(api)
    assert await read_object(api, q["token"], "srv", "a", p["user_id"]) == {"n": 3}

    s = await connect(api.http, rt, p["token"])
    status, body = await rpc(api, "nk_notify", token=p["token"])
    out = json.loads(body["payload"])
    assert out == {"codes": [101, 102], "content": {"from": "server"}, "refused": 3,
                   "after": [102, 103]}
    # Online, the player got each notification pushed as it was sent, the one to everyone too.
    pushed = []
    while len(pushed) < 3:
        doc = json.loads((await asyncio.wait_for(s.ws.receive(), 30)).data)
        pushed += [n["code"] for n in doc.get("notifications", {}).get("notifications", [])]
    assert pushed == [101, 102, 103]
    # ...and so did every other user (stored for all, as it is persistent).
    r = assert_ok(await api.get("/v2/notification", q["token"], params={"limit": "10"}))
    assert [n["code"] for n in r["notifications"]] == [103]

    room = f"room-{uuid.uuid4().hex[:8]}"
    await s.send("channel_join", {"target": room, "type": 1})
    status, body = await rpc(api, "nk_chat", room, params={"http_key": HTTP_KEY})
    out = json.loads(body["payload"])
    assert out["channel"] == f"2...{room}" and out["listed"] == [out["sent"]]
    # The socket on the channel got the server's message.
    while True:
        doc = json.loads((await asyncio.wait_for(s.ws.receive(), 30)).data)
        if "channel_message" in doc:
            assert doc["channel_message"]["message_id"] == out["sent"]
            assert json.loads(doc["channel_message"]["content"]) == {"text": "from the server"}
            break
    await s.ws.close()
    # nk.event reached the event function (which stored it as a public system object).
    event = await poll(lambda: read_object(api, p["token"], "events", "server_event", ""))
    assert event == {"properties": {"channel": out["channel"]}}


async def test_init_module_plain_and_coroutine_can_use_nk(api):
    p = await player(api)
    assert await read_object(api, p["token"], "boot", "sync_init", "") == {"mode": "run_once"}
    status, body = await rpc(api, "async_init", params={"http_key": HTTP_KEY})
    assert (status, json.loads(body["payload"])) == (200, {"mode": "run_once"})


# -- custom HTTP -----------------------------------------------------------------------------------


async def test_register_http(api, rt):
    r = await api.call("GET", "/custom/hello/ada", params={"q": "1"})
    assert (r.status, r.json) == (200, {"hello": "ada", "q": ["1"], "mode": "http"})
    r = await api.call("POST", "/custom/echo", data=b"\x00\x01bytes")
    assert (r.status, r.body) == (201, b"\x00\x01bytes")
    assert r.headers["Content-Type"] == "application/x-echo" and r.headers["X-Echo"] == "yes"
    assert_error(await api.call("POST", "/custom/echo", data=b"", headers={"X-Fail": "1"}),
                 400, 9, "asked to fail")
    assert_error(await api.call("GET", "/custom/echo"), 501, 12, "Method Not Allowed")
    assert_error(await api.call("GET", "/custom/nothing"), 404, 5, "Not Found")
    # The positional form, headers None: sent as given.
    r = await api.call("GET", "/custom/positional")
    assert (r.status, r.json) == (404, {"missing": True})
    assert r.headers["Content-Type"] == "application/json"
    # A response that cannot be sent: 500 for the client, the module and the reason in the log.
    assert_error(await api.call("GET", "/custom/invalid"), 500, 13, "Internal Server Error")
    line = next(x for x in rt.log().splitlines() if "invalid response" in x)
    assert "status must be an int from 100 to 599, got 'teapot'" in line
    assert "kz_test_module" in line
    # Built-in routes keep their behaviour.
    assert (await api.call("GET", "/healthcheck")).status == 200


# -- loading: refused starts, kizuna check ---------------------------------------------------------


BAD_SYNTAX = "def init_module(ctx, logger, nk, initializer):\n    initializer.register_rpc('a', f\n"
BAD_PATH = ("def f(ctx, logger, nk, request):\n    return None\n\n"
            "def init_module(ctx, logger, nk, initializer):\n"
            "    initializer.register_http('no-slash', f)\n")
BAD_ARITY = ("def f(ctx, payload):\n    return payload\n\n"
             "def init_module(ctx, logger, nk, initializer):\n"
             "    initializer.register_rpc('f', f)\n")
BAD_INIT = "import os\n\ndef init_module(ctx, logger, nk, initializer):\n    raise ValueError('broken')\n"
NK_AT_INIT = ("def f(ctx, logger, nk, payload):\n    return payload\n\n"
              "def init_module(ctx, logger, nk, initializer):\n"
              "    initializer.register_rpc('early', f)\n"
              "    nk.storage_read([])\n"
              "    initializer.register_rpc('late', f)\n")


def test_server_refuses_a_module_that_fails_to_load(rt, tmp_path):
    mods = tmp_path / "modules"
    mods.mkdir()
    (mods / "good.py").write_text("def init_module(ctx, logger, nk, initializer):\n    pass\n")
    (mods / "bad.py").write_text(BAD_SYNTAX)
    r = run_kizuna("server", "--database.address", f"{PG}/{rt.db}", "--name", "kzbad",
                   "--socket.port", str(free_port()), "--runtime.path", "modules",
                   "--logger.format", "text",
                   cwd=tmp_path, timeout=60)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("kizuna: runtime module failed to load: modules/bad.py:2: SyntaxError")
    assert "Traceback" not in r.stdout + r.stderr


def test_kizuna_check(tmp_path):
    mods = _modules(tmp_path)
    r = run_kizuna("check", "--runtime.path", str(mods), cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok example: rpc: claim_daily_reward, echo; before: UpdateAccount; event: 1" in r.stdout
    assert "ok kz_helper: no init_module (a helper module)" in r.stdout
    assert ("ok kz_async_init: rpc: async_init; init_module stopped at nk.storage_write()"
            in r.stdout)
    assert "ok kz_test_module: rpc: burn, crash," in r.stdout
    assert "5 module(s) loaded" in r.stdout  # with kz_groups (the groups nk test module)

    bad = tmp_path / "bad"
    bad.mkdir()
    for name, text in (("a_syntax.py", BAD_SYNTAX), ("b_path.py", BAD_PATH),
                       ("c_arity.py", BAD_ARITY), ("d_init.py", BAD_INIT),
                       ("e_nk.py", NK_AT_INIT), ("json.py", "x = 1\n")):
        (bad / name).write_text(text)
    (bad / "my-module.py").write_text("")
    r = run_kizuna("check", "--runtime.path", "bad", cwd=tmp_path, timeout=60)
    assert r.returncode == 1
    err = r.stderr
    assert "error bad/a_syntax.py:2: SyntaxError" in err
    assert "error bad/b_path.py:5: register_http: the path must start with '/', got 'no-slash'" in err
    assert "error bad/c_arity.py:5: register_rpc: f(ctx, payload) must accept 4 arguments" in err
    assert "error bad/d_init.py:4: ValueError: broken" in err
    assert "error bad/json.py: module name 'json' is already taken" in err
    assert "error bad/my-module.py: 'my-module' is not a valid Python module name" in err
    assert "6 of 7 module(s) failed to load" in err
    # nk needs a server: check stops that init_module there, without failing it.
    assert "ok e_nk: rpc: early; init_module stopped at nk.storage_read()" in r.stdout

    r = run_kizuna("check", "--runtime.path", "missing", cwd=tmp_path, timeout=60)
    assert r.returncode == 1 and "is not a directory" in r.stderr


# -- --dev reload and shutdown functions -----------------------------------------------------------


VERSIONED = """
def version(ctx, logger, nk, payload):
    return "{v}"

def shutdown(ctx, logger, nk):
    with open(ctx.env["MARKER"], "w") as fh:
        fh.write(ctx.execution_mode)

def init_module(ctx, logger, nk, initializer):
    initializer.register_rpc("version", version)
    initializer.register_shutdown(shutdown)
"""


async def test_dev_reload_and_shutdown(rt, tmp_path):
    mods = tmp_path / "devmods"
    mods.mkdir()
    (mods / "versioned.py").write_text(VERSIONED.format(v="1"))
    marker = tmp_path / "marker"
    srv = start_server(["--database.address", f"{PG}/{rt.db}", "--name", "kzdev", "--dev",
                        "--runtime.path", str(mods), "--logger.format", "text",
                        "--runtime.env", f"MARKER={marker}"], tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            api = Api(srv.url, http)

            async def version():
                r = await api.call("GET", "/v2/rpc/version", params={"http_key": "defaulthttpkey"})
                return r.json.get("payload") if r.status == 200 else r.status

            assert await version() == "1"
            (mods / "versioned.py").write_text(VERSIONED.format(v="2"))
            await poll(lambda: _eq(version(), "2"), timeout=60)
            # A file that no longer loads: the previous version keeps serving, the log says why.
            (mods / "versioned.py").write_text(VERSIONED.format(v="3") + "\n)\n")
            await poll(lambda: _true("failed to reload" in srv.log()), timeout=60)
            assert await version() == "2"
            assert "versioned.py:13: SyntaxError" in srv.log()
            # Fixed again, plus a new module: both are picked up.
            (mods / "versioned.py").write_text(VERSIONED.format(v="3"))
            (mods / "added.py").write_text(
                "def init_module(ctx, logger, nk, initializer):\n"
                "    initializer.register_rpc('added', lambda c, l, n, p: 'new')\n")
            await poll(lambda: _eq(version(), "3"), timeout=60)
            r = await api.call("GET", "/v2/rpc/added", params={"http_key": "defaulthttpkey"})
            assert r.json == {"payload": "new"}
    finally:
        assert srv.stop() == 0
    # The shutdown function ran during the shutdown.
    assert marker.read_text() == "shutdown"


async def _eq(awaitable, expected) -> bool:
    return (await awaitable) == expected


async def _true(value: bool) -> bool:
    return value


async def test_nk_groups(api, rt):
    p, q = await player(api), await player(api)
    status, body = await rpc(api, "nk_groups_sync", json.dumps({"other": q["user_id"]}),
                             token=p["token"])
    assert status == 200, body
    out = json.loads(body["payload"])
    g = out["group"]
    assert (g["creator_id"], g["lang_tag"], g["open"], g["max_count"], g["edge_count"],
            g["metadata"], g["description"]) == (p["user_id"], "nk", False, 5, 1, {"tier": 1}, "")
    assert out["users"] == [[p["user_id"], 0], [q["user_id"], 1]] and out["cursor"] is None
    # The added user was notified (-4).
    notes = assert_ok(await api.get("/v2/notification", q["token"]))["notifications"]
    assert [n["code"] for n in notes] == [-4]

    status, body = await rpc(api, "nk_groups_async",
                             json.dumps({"group_id": g["id"], "other": q["user_id"]}),
                             token=p["token"])
    assert status == 200, body
    out = json.loads(body["payload"])
    assert g["id"] in out["found"]
    assert (out["description"], out["open"], out["metadata"]) == ("from nk", True, {"tier": 1})
    assert out["mine"] == [[g["id"], 1]]
    assert out["refused"] == "Group not found or permission denied."  # a member now
    assert out["banned"] == [q["user_id"]] and out["after_delete"] == []
