"""Friends over HTTP (`/v2/friend`), the socket's notifications and the `nk` friends calls, against a
real `kizuna server` and a real PostgreSQL.

Assertions are about what a Nakama client sees (status codes, exact JSON, notifications) plus the
edge counts and rows Nakama keeps (users.edge_count, user_edge in both directions). One server
(and one fresh database) serves the module; each test makes its own users.
"""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from tests.conftest import ServerProcess, server_on_fresh_database, write_modules
from tests.integration.nakama_http import Api, assert_error, assert_ok, bearer, claims, sql

NIL = "00000000-0000-0000-0000-000000000000"
SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
BAD_LIMIT = "Invalid limit - limit must be between 1 and 1000."
BAD_STATE = "Invalid state - state must be between 0 and 3."
BAD_CURSOR = "Cursor is invalid."
NO_TARGET = "No valid ID or username was provided."
HTTP_KEY = "friendshttpkey"

MODULE = textwrap.dedent('''
    from kizuna.runtime import Code, Error


    def nk_friends(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        me, other = p["me"], p["other"]
        out = {}
        nk.friends_add(me, None, [other], None, {"from": "nk"})
        friends, cursor = nk.friends_list(me, 10, None, None)
        out["after_add"] = friends
        nk.friend_metadata_update(me, other, {"score": 7})
        out["after_meta"], _ = nk.friends_list(me, 10, 1)
        nk.friends_add(other, "", [me])
        out["friend"], _ = nk.friends_list(other, 10, 0)
        out["fof"] = nk.friends_of_friends_list(p["third"], 10)
        nk.friends_block(me, None, None, [p["other_name"]])
        out["blocked"], _ = nk.friends_list(me)
        nk.friends_delete(me, None, [other])
        out["deleted"], _ = nk.friends_list(me)
        try:
            nk.friends_list(me, 5000)
        except Error as e:
            out["bad_limit"] = [e.code, str(e)]
        return nk.json_encode(out)


    async def nk_friends_async(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        await nk.aio.friends_add(p["me"], None, [p["other"]])
        friends, cursor = await nk.aio.friends_list(p["me"], state=1)
        return nk.json_encode({"n": len(friends), "cursor": cursor})


    def before_add_friends(ctx, logger, nk, request):
        if "refused-by-hook" in (request.get("usernames") or []):
            return None
        return request


    def init_module(ctx, logger, nk, initializer):
        initializer.register_rpc("nk_friends", nk_friends)
        initializer.register_rpc("nk_friends_async", nk_friends_async)
        initializer.register_before("AddFriends", before_add_friends)
''')


@pytest.fixture(scope="module")
def friends_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("friends")
    modules = write_modules(tmp, kz_friends_module=MODULE)
    with server_on_fresh_database(tmp, "--runtime.path", str(modules),
                                  "--runtime.http_key", HTTP_KEY) as srv:
        yield srv


@pytest.fixture
async def api(friends_server: ServerProcess):
    async with aiohttp.ClientSession(skip_auto_headers=["Accept-Encoding"]) as http:
        yield Api(friends_server.url, http)


@dataclass
class Player:
    token: str
    id: str
    username: str


async def player(api: Api) -> Player:
    s = await api.login("device", {"id": f"dev-{uuid.uuid4()}"})
    c = claims(s["token"])
    return Player(s["token"], c["uid"], c["usn"])


async def players(api: Api, n: int) -> list[Player]:
    return [await player(api) for _ in range(n)]


async def add(api: Api, p: Player, *, ids=(), usernames=(), metadata: str | None = None):
    params: list[tuple[str, str]] = [("ids", i) for i in ids] + [("usernames", u) for u in usernames]
    if metadata is not None:
        params.append(("metadata", metadata))
    return await api.call("POST", "/v2/friend", params=params, auth=bearer(p.token))


async def delete(api: Api, p: Player, *, ids=(), usernames=()):
    params = [("ids", i) for i in ids] + [("usernames", u) for u in usernames]
    return await api.call("DELETE", "/v2/friend", params=params, auth=bearer(p.token))


async def block(api: Api, p: Player, *, ids=(), usernames=()):
    params = [("ids", i) for i in ids] + [("usernames", u) for u in usernames]
    return await api.call("POST", "/v2/friend/block", params=params, auth=bearer(p.token))


async def listing(api: Api, p: Player, **params: Any) -> dict:
    return assert_ok(await api.get("/v2/friend", p.token, params=params))


async def states(api: Api, p: Player) -> dict[str, int]:
    return {f["user"]["id"]: f["state"] for f in (await listing(api, p)).get("friends", [])}


async def edge_count(api: Api, p: Player, of: Player) -> int:
    users = assert_ok(await api.get("/v2/user", p.token, params={"ids": of.id}))["users"]
    return users[0].get("edge_count", 0)


async def edges(env: ServerProcess, a: Player, b: Player) -> dict[tuple[str, str], int]:
    rows = await sql(env.db_address, "SELECT source_id::text s, destination_id::text d, state "
                     "FROM user_edge WHERE source_id = ANY($1::uuid[])", [a.id, b.id])
    return {(r["s"], r["d"]): r["state"] for r in rows if {r["s"], r["d"]} == {a.id, b.id}}


class Sock:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def notifications(self, timeout: float = 30.0) -> list[dict]:
        while True:
            msg = await self.ws.receive(timeout=timeout)
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            doc = json.loads(msg.data)
            if "notifications" in doc:
                return doc["notifications"]["notifications"]

    async def nothing(self, wait: float = 0.3) -> None:
        """No notification arrives within `wait` (other pushes, e.g. status events, are skipped)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while (left := deadline - loop.time()) > 0:
            try:
                msg = await self.ws.receive(timeout=left)
            except TimeoutError:
                return
            assert "notifications" not in json.loads(msg.data), msg


async def connect(api: Api, p: Player, status: bool = True) -> Sock:
    ws = await api.http.ws_connect(api.base_url.replace("http", "ws", 1) + "/ws",
                                   params={"token": p.token, "status": str(status).lower()})
    return Sock(ws)


# -- invite, accept, list -----------------------------------------------------------------------


async def test_invite_then_accept_notifies_and_lists_both_sides(api: Api, friends_server: ServerProcess):
    a, b = await players(api, 2)
    b_sock = await connect(api, b)
    a_sock = await connect(api, a)
    try:
        assert_ok(await add(api, a, ids=[b.id]), {})
        [note] = await b_sock.notifications()
        assert note["code"] == -2 and note["sender_id"] == a.id and note["persistent"] is True
        assert note["subject"] == f"{a.username} wants to add you as a friend"
        assert json.loads(note["content"]) == {"username": a.username}
        assert await edges(friends_server, a, b) == {(a.id, b.id): 1, (b.id, a.id): 2}
        assert await states(api, a) == {b.id: 1}
        assert await states(api, b) == {a.id: 2}
        assert await edge_count(api, a, a) == 1 and await edge_count(api, a, b) == 1

        # Adding again changes nothing and notifies no one.
        assert_ok(await add(api, a, ids=[b.id]), {})
        await b_sock.nothing()

        # B accepts by username: both friends, A is told.
        assert_ok(await add(api, b, usernames=[a.username]), {})
        [note] = await a_sock.notifications()
        assert (note["code"], note["sender_id"]) == (-3, b.id)
        assert note["subject"] == f"{b.username} accepted your friend request"
        assert await edges(friends_server, a, b) == {(a.id, b.id): 0, (b.id, a.id): 0}
        assert await edge_count(api, a, a) == 1 and await edge_count(api, a, b) == 1

        # The exact entry: state 0 is written (an Int32Value), online from the status socket.
        body = await listing(api, a)
        assert set(body) == {"friends"}
        [entry] = body["friends"]
        assert list(entry) == ["user", "state", "update_time", "metadata"]
        assert entry["state"] == 0 and entry["metadata"] == "{}"
        assert SECONDS.match(entry["update_time"])
        assert entry["user"]["id"] == b.id and entry["user"]["username"] == b.username
        assert entry["user"]["online"] is True and entry["user"]["edge_count"] == 1
        # Both notifications are stored.
        stored = assert_ok(await api.get("/v2/notification", b.token, params={"limit": 10}))
        assert [n["code"] for n in stored["notifications"]] == [-2]
    finally:
        await a_sock.ws.close()
        await b_sock.ws.close()
    # Offline now.
    [entry] = (await listing(api, a))["friends"]
    assert "online" not in entry["user"]


async def test_metadata_on_add_and_accept(api: Api):
    a, b = await players(api, 2)
    assert_ok(await add(api, a, ids=[b.id], metadata='{"met": "in game"}'), {})
    [entry] = (await listing(api, a))["friends"]
    assert json.loads(entry["metadata"]) == {"met": "in game"}
    [theirs] = (await listing(api, b))["friends"]
    assert theirs["metadata"] == "{}"
    # The accepter's metadata is merged into the accepter's edge.
    assert_ok(await add(api, b, ids=[a.id], metadata='{"since": 2024}'), {})
    [theirs] = (await listing(api, b))["friends"]
    assert json.loads(theirs["metadata"]) == {"since": 2024}
    for bad in ("[1]", "not json", '"text"', '{"a": "\\u0000"}'):
        assert_error(await add(api, a, ids=[b.id], metadata=bad), 400, 3,
                     "Metadata must be a valid JSON object.")


# -- the rules of the request -------------------------------------------------------------------


async def test_bad_targets_get_nakama_errors(api: Api):
    a, b = await players(api, 2)
    for call, self_msg in ((add, "Cannot add self as friend."), (delete, "Cannot delete self."),
                           (block, "Cannot block self.")):
        assert_error(await call(api, a, ids=[a.id]), 400, 3, self_msg)
        assert_error(await call(api, a, ids=[a.id.upper()]), 400, 3, self_msg)
        assert_error(await call(api, a, usernames=[a.username]), 400, 3, self_msg)
        assert_error(await call(api, a, ids=["nope"]), 400, 3, "Invalid user ID 'nope'.")
        assert_error(await call(api, a, ids=[NIL]), 400, 3, f"Invalid user ID '{NIL}'.")
        # U+0000 is refused by the wire layer, naming the field (issue 15).
        assert_error(await call(api, a, ids=[b.id, "x\x00y"]), 400, 3,
                     "ids: must not contain the NUL character (U+0000)")
        assert_error(await call(api, a, usernames=[""]), 400, 3, "Username must not be empty.")
        assert_ok(await call(api, a), {})  # nothing named: nothing done
    # Names that name nobody (unknown, too long): add and block say so, delete does not.
    for names in (["nobody-" + uuid.uuid4().hex], ["n" * 300]):
        assert_error(await add(api, a, usernames=names), 400, 3, NO_TARGET)
        assert_error(await block(api, a, usernames=names), 400, 3, NO_TARGET)
        assert_ok(await delete(api, a, usernames=names), {})
    # An unknown id is not an error, and nothing is written.
    missing = str(uuid.uuid4())
    assert_ok(await add(api, a, ids=[missing]), {})
    assert_ok(await block(api, a, ids=[missing]), {})
    assert_ok(await delete(api, a, ids=[missing]), {})
    assert await states(api, a) == {}
    assert await edge_count(api, a, a) == 0
    # Many ids at once, with repeats: one invite each.
    c, d = await players(api, 2)
    assert_ok(await add(api, a, ids=[c.id, d.id, c.id], usernames=[d.username]), {})
    assert await states(api, a) == {c.id: 1, d.id: 1}
    assert await edge_count(api, a, a) == 2


async def test_block_unblock_and_blocked_users(api: Api, friends_server: ServerProcess):
    a, b = await players(api, 2)
    assert_ok(await add(api, a, ids=[b.id]), {})
    assert_ok(await add(api, b, ids=[a.id]), {})
    b_sock = await connect(api, b)
    a_sock = await connect(api, a)
    try:
        # B blocks A: B's edge is a block, A's edge is gone.
        assert_ok(await block(api, b, usernames=[a.username]), {})
        assert await edges(friends_server, a, b) == {(b.id, a.id): 3}
        assert await states(api, b) == {a.id: 3}
        assert await states(api, a) == {}
        assert await edge_count(api, a, a) == 0 and await edge_count(api, a, b) == 1
        # A cannot invite B back: nothing happens, nobody is told.
        assert_ok(await add(api, a, ids=[b.id]), {})
        await b_sock.nothing()
        assert await edges(friends_server, a, b) == {(b.id, a.id): 3}
        # B adding A while blocking A does nothing either.
        assert_ok(await add(api, b, ids=[a.id]), {})
        await a_sock.nothing()
        assert await states(api, b) == {a.id: 3}
        # A blocks B too: two blocks, one row each.
        assert_ok(await block(api, a, ids=[b.id]), {})
        assert await edges(friends_server, a, b) == {(a.id, b.id): 3, (b.id, a.id): 3}
        # Unblocking (delete) removes only one's own block.
        assert_ok(await delete(api, b, ids=[a.id]), {})
        assert await edges(friends_server, a, b) == {(a.id, b.id): 3}
        assert_ok(await delete(api, a, ids=[b.id]), {})
        assert await edges(friends_server, a, b) == {}
        assert await edge_count(api, a, a) == 0 and await edge_count(api, a, b) == 0
        # Blocking someone with no edge at all writes one row.
        assert_ok(await block(api, a, ids=[b.id]), {})
        assert await edges(friends_server, a, b) == {(a.id, b.id): 3}
        assert await edge_count(api, a, a) == 1
    finally:
        await a_sock.ws.close()
        await b_sock.ws.close()


async def test_delete_friend_notifies_and_declines_invites(api: Api, friends_server: ServerProcess):
    a, b, c = await players(api, 3)
    assert_ok(await add(api, a, ids=[b.id]), {})
    assert_ok(await add(api, b, ids=[a.id]), {})
    b_sock = await connect(api, b)
    try:
        assert_ok(await delete(api, a, usernames=[b.username]), {})
        [note] = await b_sock.notifications()
        assert (note["code"], note["sender_id"]) == (-9, a.id)
        assert note["subject"] == f"{a.username} removed you as a friend"
        assert await edges(friends_server, a, b) == {}
        assert await edge_count(api, a, a) == 0 and await edge_count(api, a, b) == 0
        # Declining an invite removes both rows and notifies no one.
        assert_ok(await add(api, c, ids=[b.id]), {})
        assert (await b_sock.notifications())[0]["code"] == -2
        assert_ok(await delete(api, b, ids=[c.id]), {})
        await b_sock.nothing()
        assert await edges(friends_server, b, c) == {}
        assert await edge_count(api, b, c) == 0
    finally:
        await b_sock.ws.close()


# -- lists ---------------------------------------------------------------------------------------


async def test_list_pages_filters_and_cursors(api: Api):
    me = await player(api)
    others = await players(api, 5)
    for o in others[:3]:
        assert_ok(await add(api, me, ids=[o.id]), {})
    for o in others[3:]:
        assert_ok(await add(api, o, ids=[me.id]), {})
    assert_ok(await add(api, me, ids=[others[3].id]), {})  # accept one: a friend
    # All, in (state, position) order: the friend, the three sent invites, the received one.
    full = (await listing(api, me))["friends"]
    assert [f["state"] for f in full] == [0, 1, 1, 1, 2]
    assert [f["user"]["id"] for f in full[1:4]] == [o.id for o in others[:3]]
    # Pages of two, walked with the cursor.
    seen, cursor, pages = [], None, 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await listing(api, me, **params)
        seen += page["friends"]
        pages += 1
        cursor = page.get("cursor")
        if not cursor:
            break
    assert pages == 3 and [f["user"]["id"] for f in seen] == [f["user"]["id"] for f in full]
    # A state filter, with a cursor of that filter.
    sent = await listing(api, me, state=1, limit=2)
    assert [f["state"] for f in sent["friends"]] == [1, 1]
    rest = await listing(api, me, state=1, limit=2, cursor=sent["cursor"])
    assert [f["user"]["id"] for f in rest["friends"]] == [others[2].id] and "cursor" not in rest
    assert (await listing(api, me, state=3)) == {}
    # A cursor of another filter, or not one of ours, is refused.
    assert_error(await api.get("/v2/friend", me.token, params={"state": 2, "cursor": sent["cursor"]}),
                 400, 3, BAD_CURSOR)
    for bad in ("garbage", "W1sxXV0", "WyJ4IiwxXQ", "WzksOV0", "WzEsMV0="):
        assert_error(await api.get("/v2/friend", me.token, params={"cursor": bad}), 400, 3, BAD_CURSOR)
    for bad in ("0", "1001", "-1", "abc", "99999999999999999999"):
        assert_error(await api.get("/v2/friend", me.token, params={"limit": bad}), 400, 3, BAD_LIMIT)
    for bad in ("4", "-1", "x"):
        assert_error(await api.get("/v2/friend", me.token, params={"state": bad}), 400, 3, BAD_STATE)
    assert len((await listing(api, me, limit=1000))["friends"]) == 5


async def test_friends_of_friends(api: Api):
    a, b, c, d, e = await players(api, 5)

    async def befriend(x: Player, y: Player) -> None:
        assert_ok(await add(api, x, ids=[y.id]), {})
        assert_ok(await add(api, y, ids=[x.id]), {})

    await befriend(a, b)
    await befriend(b, c)
    await befriend(b, d)
    await befriend(a, d)  # already a's friend: not suggested
    await befriend(d, e)
    assert_ok(await add(api, b, ids=[(await player(api)).id]), {})  # an invite is not a friendship
    body = assert_ok(await api.get("/v2/friend/friends", a.token))
    got = [(f["referrer"], f["user"]["id"]) for f in body["friends_of_friends"]]
    assert sorted(got) == sorted([(b.id, c.id), (d.id, e.id)])
    assert "cursor" not in body
    first = assert_ok(await api.get("/v2/friend/friends", a.token, params={"limit": 1}))
    assert len(first["friends_of_friends"]) == 1 and first["cursor"]
    second = assert_ok(await api.get("/v2/friend/friends", a.token,
                                     params={"limit": 1, "cursor": first["cursor"]}))
    assert first["friends_of_friends"] + second["friends_of_friends"] == body["friends_of_friends"]
    assert "cursor" not in second
    # Someone without friends gets an empty body.
    assert assert_ok(await api.get("/v2/friend/friends", (await player(api)).token)) == {}
    for bad in ("0", "101", "x"):
        assert_error(await api.get("/v2/friend/friends", a.token, params={"limit": bad}), 400, 3,
                     "Invalid limit - limit must be between 1 and 100.")
    assert_error(await api.get("/v2/friend/friends", a.token, params={"cursor": "nope"}), 400, 3,
                 BAD_CURSOR)


async def test_imports_are_not_supported_yet(api: Api):
    a = await player(api)
    assert_error(await api.post("/v2/friend/facebook", a.token, {"token": "t"}), 501, 12,
                 "Facebook accounts are not supported by this server yet.")
    assert_error(await api.post("/v2/friend/steam", a.token, {"token": "t"}, params={"reset": "true"}),
                 501, 12, "Steam accounts are not supported by this server yet.")


async def test_auth_required(api: Api):
    r = await api.call("GET", "/v2/friend")
    assert_error(r, 401, 16, "Auth token required")


async def test_deleting_an_account_removes_its_edges(api: Api, friends_server: ServerProcess):
    a, b = await players(api, 2)
    assert_ok(await add(api, a, ids=[b.id]), {})
    assert_ok(await api.delete("/v2/account", a.token), {})
    assert await states(api, b) == {}


# -- hooks and nk --------------------------------------------------------------------------------


async def test_before_hook_on_add_friends(api: Api):
    a, b = await players(api, 2)
    assert_error(await add(api, a, usernames=["refused-by-hook", b.username]), 404, 5,
                 "Requested resource was not found.")
    assert await states(api, a) == {}
    assert_ok(await add(api, a, usernames=[b.username]), {})
    assert await states(api, a) == {b.id: 1}


async def test_nk_friends_calls(api: Api):
    me, other, third = await players(api, 3)
    # third is other's friend, so `me` is a friend of a friend of third once me and other are.
    assert_ok(await add(api, third, ids=[other.id]), {})
    assert_ok(await add(api, other, ids=[third.id]), {})
    payload = json.dumps({"me": me.id, "other": other.id, "other_name": other.username,
                          "third": third.id})
    r = await api.call("POST", "/v2/rpc/nk_friends", data=json.dumps(payload),
                       params={"http_key": HTTP_KEY})
    assert r.status == 200, r
    out = json.loads(r.json["payload"])
    [f] = out["after_add"]
    assert f["state"] == 1 and f["metadata"] == {"from": "nk"} and f["user"]["id"] == other.id
    assert set(f) == {"user", "state", "update_time", "metadata"}
    assert f["user"]["online"] is False and f["user"]["display_name"] == ""
    assert out["after_meta"][0]["metadata"] == {"score": 7}
    assert sorted((f["user"]["id"], f["state"]) for f in out["friend"]) == sorted(
        [(me.id, 0), (third.id, 0)])
    fof, cursor = out["fof"]
    assert [(x["referrer"], x["user"]["id"]) for x in fof] == [(other.id, me.id)] and cursor is None
    assert [(x["user"]["id"], x["state"]) for x in out["blocked"]] == [(other.id, 3)]
    assert out["deleted"] == []
    assert out["bad_limit"] == [3, BAD_LIMIT]

    a, b = await players(api, 2)
    r = await api.call("POST", "/v2/rpc/nk_friends_async",
                       data=json.dumps(json.dumps({"me": a.id, "other": b.id})),
                       params={"http_key": HTTP_KEY})
    assert r.status == 200, r
    assert json.loads(r.json["payload"]) == {"n": 1, "cursor": None}
    # The notification from nk carries the user's name, looked up.
    stored = assert_ok(await api.get("/v2/notification", b.token, params={"limit": 10}))
    [note] = stored["notifications"]
    assert note["subject"] == f"{a.username} wants to add you as a friend"


async def test_concurrent_mutual_adds_end_consistent(api: Api, friends_server: ServerProcess):
    """Two users adding each other at once, many times over: the rows stay pairs and the counts
    match the rows."""
    pairs = [await players(api, 2) for _ in range(8)]
    await asyncio.gather(*(add(api, x, ids=[y.id]) for x, y in pairs),
                         *(add(api, y, ids=[x.id]) for x, y in pairs))
    for x, y in pairs:
        e = await edges(friends_server, x, y)
        assert len(e) == 2 and set(e.values()) <= {0, 1, 2}
    rows = await sql(friends_server.db_address,
                     "SELECT u.id, u.edge_count, (SELECT count(*) FROM user_edge e "
                     "WHERE e.source_id = u.id) AS n FROM users u WHERE u.id = ANY($1::uuid[])",
                     [p.id for pair in pairs for p in pair])
    assert all(r["edge_count"] == r["n"] for r in rows)


async def test_a_blocked_user_cannot_open_a_direct_message(api: Api):
    a, b = await players(api, 2)
    assert_ok(await block(api, b, ids=[a.id]), {})
    a_sock = await connect(api, a, status=False)
    b_sock = await connect(api, b, status=False)
    try:
        await a_sock.ws.send_json({"cid": "1", "channel_join": {"target": b.id, "type": 2}})
        reply = await a_sock.ws.receive_json(timeout=30)
        assert reply == {"cid": "1", "error": {"code": 3, "message": "User ID not found"}}
        # The one who blocked may still open it (Nakama checks the target's blocks only).
        await b_sock.ws.send_json({"cid": "2", "channel_join": {"target": a.id, "type": 2}})
        reply = await b_sock.ws.receive_json(timeout=30)
        assert reply["cid"] == "2" and "channel" in reply
    finally:
        await a_sock.ws.close()
        await b_sock.ws.close()


async def test_deleting_an_account_lowers_its_friends_edge_counts(api: Api):
    a, b, c = await players(api, 3)
    assert_ok(await add(api, a, ids=[b.id]), {})
    assert_ok(await add(api, b, ids=[a.id]), {})   # friends
    assert_ok(await add(api, c, ids=[a.id]), {})   # C invited A
    assert await edge_count(api, b, b) == 1 and await edge_count(api, c, c) == 1
    assert_ok(await api.delete("/v2/account", a.token), {})
    assert await edge_count(api, b, b) == 0 and await edge_count(api, c, c) == 0
    assert await states(api, b) == {} and await states(api, c) == {}
