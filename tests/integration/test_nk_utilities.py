"""Outbound calls and utilities through `nk` (issue 22), against a real `kizuna server` and a real
PostgreSQL: http_request (against a small aiohttp server this test runs), jwt_generate, cron_next /
cron_prev, bcrypt_hash / bcrypt_compare, the node-local cache, users_get_random,
notifications_get_id / notifications_update and channel_message_update / channel_message_remove
(delivered to a socket on the channel). Module RPCs are called with the HTTP key.

One server (and one fresh database) serves the module; each test makes its own users.
"""

from __future__ import annotations

import asyncio
import json
import socket
import textwrap
import time
import uuid
from collections.abc import AsyncIterator

import aiohttp
import bcrypt
import jwt
import pytest
from aiohttp import web

from tests.conftest import ServerProcess, server_on_fresh_database, write_modules
from tests.integration.nakama_http import Rpc, sql
from tests.integration.test_realtime import World

HTTP_KEY = "utilhttpkey"
CALL_TIMEOUT_MS = 3000
KEY = "a-signing-key-of-32-bytes-or-more!"

MODULE = textwrap.dedent('''
    def http(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        return nk.http_request(p["url"], p["method"], p.get("headers"), p.get("body"),
                               p.get("timeout_ms", 5000), p.get("insecure", False))


    async def http_async(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        return await nk.aio.http_request(p["url"], p["method"], p.get("headers"), p.get("body"),
                                         timeout_ms=p.get("timeout_ms", 5000))


    def jwt_generate(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        return {"token": nk.jwt_generate(p["algorithm"], p["key"], p["claims"])}


    async def cron(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        return {"next": nk.cron_next(p["expression"], p["timestamp"]),
                "prev": nk.cron_prev(p["expression"], p["timestamp"])}


    def bcrypt_roundtrip(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        h = nk.bcrypt_hash(p["password"])
        return {"hash": h, "ok": nk.bcrypt_compare(h, p["password"]),
                "wrong": nk.bcrypt_compare(h, p["password"] + "x")}


    async def bcrypt_async(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        if "hash" in p:
            return {"ok": await nk.aio.bcrypt_compare(p["hash"], p["password"])}
        h = await nk.aio.bcrypt_hash(p["password"])
        return {"hash": h, "ok": await nk.aio.bcrypt_compare(h, p["password"])}


    def cache_put(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        nk.localcache_put(p["key"], p["value"], p.get("ttl", 0))


    async def cache_get(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        return {"value": nk.localcache_get(p["key"], p.get("default"))}


    def cache_delete(ctx, logger, nk, payload):
        nk.localcache_delete(nk.json_decode(payload)["key"])


    def random_users(ctx, logger, nk, payload):
        return nk.users_get_random(nk.json_decode(payload)["count"])


    def notify(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        nk.notification_send(p["user_id"], p["subject"], p["content"], 5, None, True)
        items, cursor = nk.notifications_list(p["user_id"], 100)
        return items[-1]


    async def notifications_get(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        return await nk.aio.notifications_get_id(p.get("user_id"), p["ids"])


    def notifications_update(ctx, logger, nk, payload):
        nk.notifications_update(nk.json_decode(payload)["updates"])


    def message_send(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        return nk.channel_message_send(p["channel_id"], p["content"], p.get("sender_id"),
                                       p.get("sender_username"), p.get("persist", True))


    async def message_update(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        return await nk.aio.channel_message_update(
            p["channel_id"], p["message_id"], p["content"], p.get("sender_id"),
            p.get("sender_username"), p.get("persist", True))


    def message_remove(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        return nk.channel_message_remove(p["channel_id"], p["message_id"], p.get("sender_id"),
                                         p.get("sender_username"), p.get("persist", True))


    def messages_list(ctx, logger, nk, payload):
        return nk.channel_messages_list(nk.json_decode(payload)["channel_id"])


    def multi(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        return nk.multi_update(p.get("accounts"), p.get("writes"), p.get("deletes"),
                               p.get("wallets"), p.get("ledger", False))


    def purchase(ctx, logger, nk, payload):
        return nk.purchase_validate_apple(ctx.user_id, "receipt", True)


    async def subscriptions(ctx, logger, nk, payload):
        return await nk.aio.subscriptions_list(ctx.user_id, 10)


    def state(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        account = nk.account_get_id(p["user_id"])
        objects = nk.storage_read([{"collection": "multi", "key": p["key"],
                                    "user_id": p["user_id"]}])
        return {"display_name": account["user"]["display_name"], "wallet": account["wallet"],
                "objects": [o["value"] for o in objects]}


    def init_module(ctx, logger, nk, initializer):
        for name, fn in list(globals().items()):
            if callable(fn) and name != "init_module" and not name.startswith("_"):
                initializer.register_rpc(name, fn)
''')


@pytest.fixture(scope="module")
def util_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nkutil")
    modules = write_modules(tmp, kz_util_module=MODULE)
    with server_on_fresh_database(tmp, "--runtime.path", str(modules),
                                  "--runtime.http_key", HTTP_KEY,
                                  "--runtime.call_timeout_ms", str(CALL_TIMEOUT_MS)) as srv:
        yield srv


@pytest.fixture
async def world(util_server: ServerProcess) -> AsyncIterator[World]:
    async with aiohttp.ClientSession(skip_auto_headers=["Accept-Encoding"]) as http:
        w = World(util_server, http)
        yield w
        await w.close()


@pytest.fixture
async def target() -> AsyncIterator[str]:
    """A small HTTP service for http_request to call: its base URL."""

    async def echo(request: web.Request) -> web.Response:
        body = await request.text()
        return web.json_response(
            {"method": request.method, "path": request.path_qs, "body": body,
             "x_test": request.headers.get("X-Test", "")},
            status=201, headers={"X-Reply": "yes"})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(20)
        return web.Response(text="late")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/echo?from=redirect")

    async def cookies(request: web.Request) -> web.Response:
        resp = web.Response(text="")
        resp.headers.add("X-Many", "a")
        resp.headers.add("X-Many", "b")
        return resp

    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/slow", slow)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/many", cookies)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


_rpc = Rpc(HTTP_KEY)
call, ok, refused = _rpc.call, _rpc.ok, _rpc.refused


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- http_request --------------------------------------------------------------------------------


@pytest.mark.parametrize("rpc", ["http", "http_async"])
async def test_http_request_round_trip(world: World, target: str, rpc: str):
    out = await ok(world.api, rpc, {"url": f"{target}/echo?q=1", "method": "post",
                                    "headers": {"X-Test": "hello"}, "body": "ping"})
    assert out["code"] == 201
    assert out["headers"]["X-Reply"] == "yes"
    assert out["headers"]["Content-Type"].startswith("application/json")
    assert json.loads(out["body"]) == {"method": "POST", "path": "/echo?q=1", "body": "ping",
                                       "x_test": "hello"}


async def test_http_request_redirects_and_repeated_headers(world: World, target: str):
    out = await ok(world.api, "http", {"url": f"{target}/redirect", "method": "GET"})
    assert out["code"] == 201
    assert json.loads(out["body"])["path"] == "/echo?from=redirect"
    out = await ok(world.api, "http", {"url": f"{target}/many", "method": "GET"})
    assert out["headers"]["X-Many"] == "a, b"
    assert out["body"] == ""
    # The server's own health check, as a module would call a neighbour.
    out = await ok(world.api, "http", {"url": f"{world.server.url}/healthcheck", "method": "GET"})
    assert out["code"] == 200


@pytest.mark.parametrize("rpc", ["http", "http_async"])
async def test_http_request_timeout(world: World, target: str, rpc: str):
    started = time.monotonic()
    await refused(world.api, rpc, {"url": f"{target}/slow?token=secret", "method": "GET",
                                   "timeout_ms": 300},
                  504, 4, f"http_request: GET {target}/slow timed out after 300 ms.")
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("rpc", ["http", "http_async"])
async def test_http_request_is_bounded_by_the_function_deadline(world: World, target: str,
                                                                rpc: str):
    started = time.monotonic()
    status, body = await call(world.api, rpc, {"url": f"{target}/slow", "method": "GET",
                                               "timeout_ms": 60000})
    took = time.monotonic() - started
    assert status == 504 and body["code"] == 4, body
    assert CALL_TIMEOUT_MS / 1000 - 0.2 < took < CALL_TIMEOUT_MS / 1000 + 2.5


async def test_http_request_errors(world: World):
    port = free_port()
    await refused(world.api, "http", {"url": f"http://127.0.0.1:{port}/x", "method": "GET"},
                  503, 14, f"http_request: GET http://127.0.0.1:{port}/x failed: cannot connect "
                           f"to 127.0.0.1:{port} (Connection refused).")
    await refused(world.api, "http", {"url": "ftp://example.com/f", "method": "GET"}, 400, 3,
                  "http_request: the URL must be absolute, http:// or https:// "
                  "(got 'ftp://example.com/f').")
    await refused(world.api, "http", {"url": "/relative", "method": "GET"}, 400, 3,
                  "http_request: the URL must be absolute, http:// or https:// "
                  "(got '/relative').")
    await refused(world.api, "http", {"url": "http://127.0.0.1/", "method": "BREW"}, 400, 3,
                  "http_request: method must be one of DELETE, GET, HEAD, OPTIONS, PATCH, POST, "
                  "PUT (got 'BREW').")
    await refused(world.api, "http", {"url": "http://127.0.0.1/", "method": "GET",
                                      "timeout_ms": 0}, 400, 3,
                  "http_request: timeout_ms must be a positive integer.")
    await refused(world.api, "http", {"url": "http://127.0.0.1/", "method": "GET",
                                      "headers": {"a": 1}}, 400, 3,
                  "http_request: headers must be a dict of strings.")


# -- jwt, cron, bcrypt ---------------------------------------------------------------------------


async def test_jwt_generate(world: World):
    claims = {"sub": "player-1", "exp": 4102444800, "role": "admin"}
    out = await ok(world.api, "jwt_generate", {"algorithm": "HS256", "key": KEY,
                                               "claims": claims})
    assert jwt.get_unverified_header(out["token"]) == {"alg": "HS256", "typ": "JWT"}
    assert jwt.decode(out["token"], KEY, algorithms=["HS256"]) == claims
    await refused(world.api, "jwt_generate", {"algorithm": "HS512", "key": "k", "claims": {}},
                  400, 3, "jwt_generate: algorithm must be one of HS256, RS256, not 'HS512'.")
    await refused(world.api, "jwt_generate", {"algorithm": "HS256", "key": "", "claims": {}},
                  400, 3, "jwt_generate: signing_key must be a non-empty string.")
    status, body = await call(world.api, "jwt_generate",
                              {"algorithm": "RS256", "key": "not a pem", "claims": {}})
    assert (status, body["code"]) == (400, 3), body
    # RS256 with a real key (cryptography is a dependency): verifiable with the public key.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    out = await ok(world.api, "jwt_generate", {"algorithm": "RS256", "key": pem, "claims": claims})
    assert jwt.decode(out["token"], private.public_key(), algorithms=["RS256"]) == claims


async def test_cron_next_and_prev(world: World):
    t = 1717243200  # 2024-06-01T12:00:00Z, a Saturday
    out = await ok(world.api, "cron", {"expression": "0 0 * * 1", "timestamp": t})
    assert out == {"next": 1717372800, "prev": 1716768000}  # Mondays 3 June and 27 May, 00:00
    # At a matching instant: next is the following match, prev the one before (strictly).
    out = await ok(world.api, "cron", {"expression": "0 12 * * *", "timestamp": t})
    assert out == {"next": t + 86400, "prev": t - 86400}
    out = await ok(world.api, "cron", {"expression": "@hourly", "timestamp": t + 1})
    assert out == {"next": t + 3600, "prev": t}
    # Never again (a year that has passed): Go's zero time, as Nakama.
    out = await ok(world.api, "cron", {"expression": "0 0 1 1 * 2020", "timestamp": t})
    assert out["next"] == -62135596800
    await refused(world.api, "cron", {"expression": "not a cron", "timestamp": t}, 400, 3,
                  "cron_next: 'not a cron' is not a valid CRON expression.")
    await refused(world.api, "cron", {"expression": "* * * * *", "timestamp": "now"}, 400, 3,
                  "cron_next: timestamp must be a number of seconds since the Unix epoch.")


@pytest.mark.parametrize("rpc", ["bcrypt_roundtrip", "bcrypt_async"])
async def test_bcrypt(world: World, rpc: str):
    out = await ok(world.api, rpc, {"password": "correct horse"})
    assert out["ok"] is True and out.get("wrong", False) is False
    assert out["hash"].startswith("$2b$10$")
    assert bcrypt.checkpw(b"correct horse", out["hash"].encode())


async def test_bcrypt_compare_with_other_hashes(world: World):
    theirs = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
    assert await ok(world.api, "bcrypt_async", {"hash": theirs, "password": "pw"}) == {"ok": True}
    assert await ok(world.api, "bcrypt_async", {"hash": theirs, "password": "no"}) == {"ok": False}
    assert await ok(world.api, "bcrypt_async",
                    {"hash": theirs, "password": "p" * 80}) == {"ok": False}
    await refused(world.api, "bcrypt_async", {"hash": "plain", "password": "pw"}, 400, 3,
                  "bcrypt_compare: hash is not a bcrypt hash.")
    await refused(world.api, "bcrypt_async", {"password": "p" * 73}, 400, 3,
                  "bcrypt_hash: the password is longer than 72 bytes.")


# -- the local cache -----------------------------------------------------------------------------


async def test_localcache(world: World):
    key = f"k-{uuid.uuid4()}"
    assert await ok(world.api, "cache_get", {"key": key}) == {"value": None}
    assert await ok(world.api, "cache_get", {"key": key, "default": 7}) == {"value": 7}
    await ok(world.api, "cache_put", {"key": key, "value": {"a": [1, 2]}})
    # Put by a plain function, read by a coroutine: one cache for the node.
    assert await ok(world.api, "cache_get", {"key": key}) == {"value": {"a": [1, 2]}}
    await ok(world.api, "cache_delete", {"key": key})
    assert await ok(world.api, "cache_get", {"key": key}) == {"value": None}
    await ok(world.api, "cache_put", {"key": key, "value": "brief", "ttl": 1})
    assert await ok(world.api, "cache_get", {"key": key}) == {"value": "brief"}
    await asyncio.sleep(1.1)
    assert await ok(world.api, "cache_get", {"key": key}) == {"value": None}
    await refused(world.api, "cache_put", {"key": key, "value": 1, "ttl": -1}, 400, 3,
                  "localcache_put: ttl must be a number of seconds, 0 or more.")
    await refused(world.api, "cache_get", {"key": ""}, 400, 3,
                  "localcache_get: key must be a non-empty string.")


# -- users_get_random ----------------------------------------------------------------------------


async def test_users_get_random(world: World, util_server: ServerProcess):
    players = [await world.player() for _ in range(4)]
    banned = players[0].uid
    await sql(util_server.db_address,
              "UPDATE users SET disable_time = now() WHERE id = $1", banned)
    rows = await sql(util_server.db_address,
                     "SELECT count(*) AS n FROM users WHERE id <> '00000000-0000-0000-0000-"
                     "000000000000' AND disable_time <= 'epoch'::timestamptz")
    enabled = rows[0]["n"]
    assert await ok(world.api, "random_users", {"count": 0}) == []
    for _ in range(5):
        got = await ok(world.api, "random_users", {"count": 1000})
        ids = [u["id"] for u in got]
        assert len(ids) == len(set(ids)) == enabled
        assert banned not in ids and "00000000-0000-0000-0000-000000000000" not in ids
    got = await ok(world.api, "random_users", {"count": 2})
    assert len(got) == 2 and set(got[0]) >= {"id", "username", "metadata", "online"}
    await refused(world.api, "random_users", {"count": 1001}, 400, 3, "count must be 0-1000.")
    await refused(world.api, "random_users", {"count": -1}, 400, 3, "count must be 0-1000.")


# -- notifications_get_id / notifications_update -------------------------------------------------


async def test_notifications_get_id_and_update(world: World):
    a, b = await world.player(), await world.player()
    na = await ok(world.api, "notify", {"user_id": a.uid, "subject": "hi", "content": {"n": 1}})
    nb = await ok(world.api, "notify", {"user_id": b.uid, "subject": "yo", "content": {"n": 2}})
    got = await ok(world.api, "notifications_get", {"ids": [na["id"], nb["id"], "nope",
                                                            str(uuid.uuid4())]})
    assert got == [na, nb]
    assert got[0]["user_id"] == a.uid and got[0]["persistent"] is True
    assert await ok(world.api, "notifications_get",
                    {"user_id": b.uid, "ids": [na["id"], nb["id"]]}) == [nb]

    await ok(world.api, "notifications_update", {"updates": [
        {"id": na["id"], "subject": "changed", "content": {"n": 10}, "sender": b.uid},
        {"id": nb["id"], "content": '{"n": 20}'},
        {"id": str(uuid.uuid4()), "subject": "nobody"},  # matches nothing: skipped
    ]})
    got = await ok(world.api, "notifications_get", {"ids": [na["id"], nb["id"]]})
    assert got == [{**na, "subject": "changed", "content": {"n": 10}, "sender_id": b.uid},
                   {**nb, "content": {"n": 20}}]
    # The player sees the change in their list.
    r = await world.api.get("/v2/notification", a.token, params={"limit": "10"})
    [item] = r.json["notifications"]
    assert (item["subject"], json.loads(item["content"])) == ("changed", {"n": 10})
    # Back to the system as sender.
    await ok(world.api, "notifications_update", {"updates": [{"id": na["id"], "sender": ""}]})
    [got_a] = await ok(world.api, "notifications_get", {"ids": [na["id"]]})
    assert got_a["sender_id"] == ""

    # A bad update refuses the whole batch.
    await refused(world.api, "notifications_update", {"updates": [
        {"id": nb["id"], "subject": "fine"}, {"id": na["id"], "subject": ""}]},
        400, 3, "Notification subject must be 1-255 characters.")
    await refused(world.api, "notifications_update", {"updates": [
        {"id": nb["id"], "content": "[1]"}]}, 400, 3, "Notification content must be a JSON object.")
    await refused(world.api, "notifications_update", {"updates": [{"id": "x"}]}, 400, 3,
                  "Notification ID must be a UUID.")
    [got_b] = await ok(world.api, "notifications_get", {"ids": [nb["id"]]})
    assert got_b["subject"] == "yo"


# -- channel_message_update / channel_message_remove ---------------------------------------------


async def test_channel_message_update_and_remove_reach_the_channel(world: World):
    p = await world.player()
    sock = await world.connect(p)
    room = f"room-{uuid.uuid4().hex[:8]}"
    j = await sock.request("channel_join", {"target": room, "type": 1, "persistence": True})
    channel_id = j["channel"]["id"]

    sent = await ok(world.api, "message_send", {"channel_id": channel_id, "content": {"v": 1}})
    pushed = await sock.push("channel_message")
    assert pushed["message_id"] == sent["message_id"]

    updated = await ok(world.api, "message_update", {
        "channel_id": channel_id, "message_id": sent["message_id"], "content": {"v": 2},
        "sender_username": "server"})
    assert (updated["code"], updated["content"], updated["create_time"]) == (
        1, {"v": 2}, sent["create_time"])
    pushed = await sock.push("channel_message")
    assert (pushed["message_id"], pushed["code"], json.loads(pushed["content"])) == (
        sent["message_id"], 1, {"v": 2})
    listed = await ok(world.api, "messages_list", {"channel_id": channel_id})
    assert [m["content"] for m in listed["messages"]] == [{"v": 2}]

    # Only the sender's own message: a user's id does not match the system's message.
    await refused(world.api, "message_update", {
        "channel_id": channel_id, "message_id": sent["message_id"], "content": {"v": 3},
        "sender_id": p.uid}, 400, 3, "Could not find message to update in channel history")

    removed = await ok(world.api, "message_remove", {"channel_id": channel_id,
                                                     "message_id": sent["message_id"]})
    assert (removed["code"], removed["message_id"]) == (2, sent["message_id"])
    pushed = await sock.push("channel_message")
    assert (pushed["message_id"], pushed["code"]) == (sent["message_id"], 2)
    assert (await ok(world.api, "messages_list", {"channel_id": channel_id}))["messages"] == []
    await refused(world.api, "message_remove", {"channel_id": channel_id,
                                                "message_id": sent["message_id"]},
                  400, 3, "Could not find message to remove in channel history")

    # A user's message, edited by server code on their behalf; not persisted: only delivered.
    mine = await ok(world.api, "message_send", {"channel_id": channel_id, "content": {"u": 1},
                                                "sender_id": p.uid, "sender_username": p.username})
    await sock.push("channel_message")
    out = await ok(world.api, "message_update", {
        "channel_id": channel_id, "message_id": mine["message_id"], "content": {"u": 2},
        "sender_id": p.uid, "sender_username": p.username, "persist": False})
    assert out["persistent"] is False and out["sender_id"] == p.uid
    pushed = await sock.push("channel_message")
    assert (pushed["code"], pushed["sender_id"]) == (1, p.uid)
    listed = await ok(world.api, "messages_list", {"channel_id": channel_id})
    assert [m["content"] for m in listed["messages"]] == [{"u": 1}]
    await refused(world.api, "message_remove", {"channel_id": "nope", "message_id": "x"},
                  400, 3, "Invalid channel ID.")


async def test_multi_update_applies_everything_or_nothing(world: World):
    p = await world.player()
    key = f"k-{uuid.uuid4().hex[:8]}"
    out = await ok(world.api, "multi", {
        "accounts": [{"user_id": p.uid, "display_name": "Multi"}],
        "writes": [{"collection": "multi", "key": key, "user_id": p.uid, "value": {"n": 1}}],
        "wallets": [{"user_id": p.uid, "changeset": {"coins": 10}, "metadata": {"why": "m"}}],
        "ledger": True})
    assert [a["key"] for a in out["acks"]] == [key]
    assert out["wallet_updates"] == [{"user_id": p.uid, "updated": {"coins": 10},
                                      "previous": {}}]
    assert await ok(world.api, "state", {"user_id": p.uid, "key": key}) == {
        "display_name": "Multi", "wallet": {"coins": 10}, "objects": [{"n": 1}]}
    # A wallet change that would go negative refuses the whole update: nothing changes.
    status, body = await call(world.api, "multi", {
        "accounts": [{"user_id": p.uid, "display_name": "Changed"}],
        "writes": [{"collection": "multi", "key": key, "user_id": p.uid, "value": {"n": 2}}],
        "wallets": [{"user_id": p.uid, "changeset": {"coins": -11}}]})
    assert (status, body["code"]) == (400, 9), body
    assert await ok(world.api, "state", {"user_id": p.uid, "key": key}) == {
        "display_name": "Multi", "wallet": {"coins": 10}, "objects": [{"n": 1}]}
    # So does a storage version conflict, after the account part had run.
    status, body = await call(world.api, "multi", {
        "accounts": [{"user_id": p.uid, "display_name": "Changed"}],
        "writes": [{"collection": "multi", "key": key, "user_id": p.uid, "value": {"n": 3},
                    "version": "*"}]})
    assert status == 400, body
    assert (await ok(world.api, "state", {"user_id": p.uid, "key": key}))["display_name"] == \
        "Multi"
    await refused(world.api, "multi", {"accounts": [{"user_id": p.uid, "colour": "red"}]},
                  400, 3, "account_updates[0]: unknown field 'colour'.")


async def test_purchases_and_subscriptions_answer_not_supported(world: World):
    # Validating receipts needs the stores' servers: a clear code 12, never a pretend success.
    await refused(world.api, "purchase", {}, 501, 12,
                  "In-app purchases are not supported by this server yet.")
    await refused(world.api, "subscriptions", {}, 501, 12,
                  "Subscriptions are not supported by this server yet.")

