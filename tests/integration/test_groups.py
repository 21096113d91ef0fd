"""Groups over HTTP (`/v2/group`, `/v2/user/{id}/group`), against a real `kizuna server` and a
real PostgreSQL: every endpoint and Nakama's rules, exact bodies and errors, the 50-joiners /
capacity-10 race, and both directions of every edge with the member count (read from the
database, which is what an import from Nakama would copy).

One server (and one fresh database) serves the module; each test makes its own users and groups.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from tests.conftest import ServerProcess, server_on_fresh_database
from tests.integration.nakama_http import Api, assert_error, assert_ok, claims, sql

pytestmark = pytest.mark.timeout(180)

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DENIED = "Group not found or permission denied."


@pytest.fixture(scope="module")
def groups_server(tmp_path_factory):
    with server_on_fresh_database(tmp_path_factory.mktemp("groups")) as srv:
        yield srv


@pytest.fixture
async def api(groups_server: ServerProcess):
    async with aiohttp.ClientSession(skip_auto_headers=["Accept-Encoding"]) as http:
        yield Api(groups_server.url, http)


@pytest.fixture
def db(groups_server: ServerProcess) -> str:
    return groups_server.db_address


@dataclass
class User:
    token: str
    uid: str
    username: str


async def new_user(api: Api) -> User:
    s = await api.login("device", {"id": f"device-{uuid.uuid4().hex}"})
    c = claims(s["token"])
    return User(s["token"], c["uid"], c["usn"])


def gname(prefix: str = "g") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def create(api: Api, owner: User, **body: Any) -> dict:
    body.setdefault("name", gname())
    return assert_ok(await api.post("/v2/group", owner.token, body))


async def users_of(api: Api, who: User, gid: str, **params: Any) -> dict:
    return assert_ok(await api.get(f"/v2/group/{gid}/user", who.token, params=params or None))


async def states(api: Api, who: User, gid: str) -> dict[str, int]:
    body = await users_of(api, who, gid)
    return {gu["user"]["id"]: gu["state"] for gu in body.get("group_users", [])}


async def act(api: Api, who: User, gid: str, op: str, *users: User):
    return await api.call("POST", f"/v2/group/{gid}/{op}", auth=f"Bearer {who.token}",
                          params=[("user_ids", u.uid) for u in users])


async def check_edges(db: str, gid: str) -> None:
    """Both directions of every edge agree, and edge_count counts the members."""
    rows = await sql(db, "SELECT source_id::text AS s, destination_id::text AS d, state, position "
                         "FROM group_edge WHERE source_id = $1 OR destination_id = $1", gid)
    out = {(r["s"], r["d"]): (r["state"], r["position"]) for r in rows}
    for (s, d), v in out.items():
        assert out.get((d, s)) == v, (s, d)
    members = sum(1 for (s, _), (state, _) in out.items() if s == gid and state <= 2)
    count = await sql(db, "SELECT edge_count FROM groups WHERE id = $1", gid)
    assert count[0]["edge_count"] == members


# -- create, update, delete ----------------------------------------------------------------------


async def test_create_group_body_and_errors(api: Api, db: str):
    owner = await new_user(api)
    name = gname()
    g = await create(api, owner, name=name, description="desc", lang_tag="fr",
                     avatar_url="http://a/b.png", open=True, max_count=5)
    assert set(g) == {"id", "creator_id", "name", "description", "lang_tag", "metadata",
                      "avatar_url", "open", "edge_count", "max_count", "create_time",
                      "update_time"}
    assert (g["creator_id"], g["name"], g["description"], g["lang_tag"], g["metadata"],
            g["avatar_url"], g["open"], g["edge_count"], g["max_count"]) == (
        owner.uid, name, "desc", "fr", "{}", "http://a/b.png", True, 1, 5)
    assert TIME.match(g["create_time"]) and TIME.match(g["update_time"])
    uuid.UUID(g["id"])

    # Defaults: closed (open is written even when false), 100 members, lang "en".
    g2 = await create(api, owner)
    assert (g2["open"], g2["max_count"], g2["lang_tag"], g2["edge_count"]) == (False, 100, "en", 1)
    assert "description" not in g2 and "avatar_url" not in g2
    assert await states(api, owner, g2["id"]) == {owner.uid: 0}
    await check_edges(db, g2["id"])

    assert_error(await api.post("/v2/group", owner.token, {"name": name}), 409, 6,
                 "Group name is in use.")
    assert_error(await api.post("/v2/group", owner.token, {}), 400, 3, "Group name must be set.")
    assert_error(await api.post("/v2/group", owner.token, {"name": gname(), "max_count": -1}),
                 400, 3, "Group max count must be >= 1 when set.")
    assert_error(await api.post("/v2/group", owner.token, {"name": "x" * 256}), 400, 3,
                 "Group name must be at most 255 characters.")
    assert_error(await api.post("/v2/group", owner.token, {"name": "a\u0000b"}), 400, 3,
                 "name: must not contain the NUL character (U+0000)")
    assert_error(await api.post("/v2/group", owner.token, {"name": gname(), "lang_tag": "x" * 19}),
                 400, 3, "Group language must be at most 18 characters.")
    assert_error(await api.post("/v2/group", owner.token, {"name": gname(),
                                                            "description": "d" * 256}),
                 400, 3, "Group description must be at most 255 characters.")
    assert_error(await api.post("/v2/group", owner.token, {"name": gname(),
                                                            "max_count": 2**40}),
                 400, 3, "max_count: out of range for int32")
    assert_error(await api.post("/v2/group", owner.token, {"name": 5}), 400, 3,
                 "name: expected a string")
    # 255 characters (not bytes) fit.
    assert (await create(api, owner, name="é" * 255))["name"] == "é" * 255


async def test_update_group(api: Api):
    owner, admin, member, other = [await new_user(api) for _ in range(4)]
    g = await create(api, owner, open=True)
    gid = g["id"]
    for u in (admin, member):
        assert_ok(await api.post(f"/v2/group/{gid}/join", u.token), {})
    assert_ok(await act(api, owner, gid, "promote", admin), {})

    new = gname()
    assert_ok(await api.put(f"/v2/group/{gid}", admin.token,
                            {"name": new, "description": "d", "open": False}), {})
    got = assert_ok(await api.get("/v2/group", owner.token, params={"name": new}))["groups"][0]
    assert (got["name"], got["description"], got["open"]) == (new, "d", False)
    # StringValue as {"value": ...}; "" clears the description.
    assert_ok(await api.put(f"/v2/group/{gid}", owner.token, {"description": {"value": ""},
                                                              "lang_tag": "de"}), {})
    got = assert_ok(await api.get("/v2/group", owner.token, params={"name": new}))["groups"][0]
    assert "description" not in got and got["lang_tag"] == "de"

    for who in (member, other):
        assert_error(await api.put(f"/v2/group/{gid}", who.token, {"name": gname()}), 404, 5,
                     "Group not found or you're not allowed to update.")
    assert_error(await api.put(f"/v2/group/{gid}", owner.token, {}), 400, 3,
                 "Specify at least one field to update.")
    assert_error(await api.put(f"/v2/group/{gid}", owner.token, {"name": ""}), 400, 3,
                 "Group name cannot be empty.")
    assert_error(await api.put(f"/v2/group/{gid}", owner.token, {"lang_tag": ""}), 400, 3,
                 "Group language cannot be empty.")
    taken = await create(api, owner)
    assert_error(await api.put(f"/v2/group/{gid}", owner.token, {"name": taken["name"]}), 400, 3,
                 "Group name is in use.")
    assert_error(await api.put("/v2/group/not-a-uuid", owner.token, {"name": "x"}), 400, 3,
                 "Group ID must be a valid ID.")
    assert_error(await api.put(f"/v2/group/{gid}", owner.token, {"avatar_url": "u" * 513}), 400,
                 3, "Group avatar URL must be at most 512 characters.")


async def test_delete_group(api: Api, db: str):
    owner, admin = await new_user(api), await new_user(api)
    g = await create(api, owner, open=True)
    gid = g["id"]
    assert_ok(await api.post(f"/v2/group/{gid}/join", admin.token))
    assert_ok(await act(api, owner, gid, "promote", admin))
    assert_error(await api.delete(f"/v2/group/{gid}", admin.token), 400, 3,
                 "Group not found or you're not allowed to delete.")
    assert_ok(await api.delete(f"/v2/group/{gid}", owner.token), {})
    assert await sql(db, "SELECT 1 FROM group_edge WHERE source_id = $1 OR destination_id = $1",
                     gid) == []
    assert_ok(await api.get(f"/v2/user/{owner.uid}/group", owner.token), {})
    assert_error(await api.delete(f"/v2/group/{gid}", owner.token), 400, 3,
                 "Group not found or you're not allowed to delete.")
    assert_error(await api.delete("/v2/group/xyz", owner.token), 400, 3,
                 "Group ID must be a valid ID.")


# -- listing and search --------------------------------------------------------------------------


async def test_list_and_search_groups(api: Api):
    owner = await new_user(api)
    tag = uuid.uuid4().hex[:8]
    made = [await create(api, owner, name=f"Srch{tag}-{i:02d}", open=i % 2 == 0,
                         lang_tag=f"l{tag}") for i in range(5)]
    await create(api, owner, name=f"other{tag}")

    # Prefix search, case-insensitive, in name order, a page at a time (default limit 1).
    r = assert_ok(await api.get("/v2/group", owner.token, params={"name": f"srch{tag}%"}))
    assert [g["name"] for g in r["groups"]] == [made[0]["name"]] and r["cursor"]
    seen, cursor = [], None
    while True:
        params = {"name": f"SRCH{tag}%", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = assert_ok(await api.get("/v2/group", owner.token, params=params))
        seen += [g["name"] for g in r["groups"]]
        cursor = r.get("cursor")
        if not cursor:
            break
    assert seen == [g["name"] for g in made]
    # Leading % and spaces are dropped (Nakama): an exact match then.
    r = assert_ok(await api.get("/v2/group", owner.token, params={"name": f"% {made[3]['name']}",
                                                                  "limit": 10}))
    assert [g["id"] for g in r["groups"]] == [made[3]["id"]]

    # Language, open, members.
    r = assert_ok(await api.get("/v2/group", owner.token, params={"lang_tag": f"l{tag}",
                                                                  "limit": 100}))
    assert {g["id"] for g in r["groups"]} == {g["id"] for g in made}
    r = assert_ok(await api.get("/v2/group", owner.token, params={
        "lang_tag": f"l{tag}", "open": "true", "limit": 100}))
    assert {g["id"] for g in r["groups"]} == {made[i]["id"] for i in (0, 2, 4)}
    r = assert_ok(await api.get("/v2/group", owner.token, params={
        "lang_tag": f"l{tag}", "members": 1, "open": "false", "limit": 1}))
    assert len(r["groups"]) == 1 and r["cursor"]
    r2 = assert_ok(await api.get("/v2/group", owner.token, params={
        "lang_tag": f"l{tag}", "members": 1, "open": "false", "limit": 1,
        "cursor": r["cursor"]}))
    assert {r["groups"][0]["id"], r2["groups"][0]["id"]} == {made[1]["id"], made[3]["id"]}
    assert "cursor" not in r2
    r = assert_ok(await api.get("/v2/group", owner.token, params={"members": 1, "limit": 3}))
    assert all(g["edge_count"] <= 1 for g in r["groups"])
    r = assert_ok(await api.get("/v2/group", owner.token, params={"limit": 100}))
    assert len(r["groups"]) >= 6

    for params, message in (
            ({"name": "x%", "lang_tag": "en"}, "name filter cannot be combined with any other filter"),
            ({"limit": 0}, "Invalid limit - limit must be between 1 and 100."),
            ({"limit": 101}, "Invalid limit - limit must be between 1 and 100."),
            ({"limit": 10**30}, "Invalid limit - limit must be between 1 and 100."),
            ({"limit": "abc"}, "Invalid limit - limit must be between 1 and 100."),
            ({"cursor": "garbage!"}, "Malformed cursor was used."),
            ({"members": 2**40}, "Invalid members - members must be an int32."),
            ({"name": "a\u0000%"}, "name: must not contain the NUL character (U+0000)"),
            ({"lang_tag": "e\u0000"}, "lang_tag: must not contain the NUL character (U+0000)")):
        assert_error(await api.get("/v2/group", owner.token, params=params), 400, 3, message)
    # A cursor of another listing is refused.
    r = assert_ok(await api.get("/v2/group", owner.token, params={"name": f"srch{tag}%"}))
    assert_error(await api.get("/v2/group", owner.token, params={"cursor": r["cursor"]}), 400, 3,
                 "Malformed cursor was used.")


# -- join, leave ---------------------------------------------------------------------------------


async def test_join_open_and_closed_groups(api: Api, db: str):
    owner, admin, joiner, late = [await new_user(api) for _ in range(4)]
    g = await create(api, owner, open=True, max_count=3)
    gid = g["id"]
    assert_ok(await api.post(f"/v2/group/{gid}/join", joiner.token), {})
    assert_ok(await api.post(f"/v2/group/{gid}/join", joiner.token), {})  # again: no change
    assert await states(api, owner, gid) == {owner.uid: 0, joiner.uid: 2}
    await check_edges(db, gid)

    closed = await create(api, owner, open=False)
    cid = closed["id"]
    assert_ok(await api.post(f"/v2/group/{cid}/join", admin.token))
    assert_ok(await act(api, owner, cid, "add", admin))
    assert_ok(await act(api, owner, cid, "promote", admin))
    assert_ok(await api.post(f"/v2/group/{cid}/join", late.token), {})
    assert await states(api, owner, cid) == {owner.uid: 0, admin.uid: 1, late.uid: 3}
    await check_edges(db, cid)  # a join request is not a member
    for who in (owner, admin):
        notes = assert_ok(await api.get("/v2/notification", who.token, params={"limit": 100}))
        req = [n for n in notes.get("notifications", [])
               if n["code"] == -5 and n["sender_id"] == late.uid]
        assert len(req) == 1, notes
        assert req[0]["subject"] == f"User {late.username} wants to join your group"
        assert req[0]["sender_id"] == late.uid and req[0]["persistent"] is True
        assert __import__("json").loads(req[0]["content"]) == {"group_id": cid,
                                                                "username": late.username}

    assert_error(await api.post(f"/v2/group/{uuid.uuid4()}/join", joiner.token), 404, 5,
                 "Group not found.")
    assert_error(await api.post("/v2/group/nope/join", joiner.token), 400, 3,
                 "Group ID must be a valid ID.")
    # Full.
    assert_ok(await api.post(f"/v2/group/{gid}/join", admin.token))
    assert_error(await api.post(f"/v2/group/{gid}/join", late.token), 400, 3, "Group is full.")


async def test_leave_group(api: Api, db: str):
    owner, other = await new_user(api), await new_user(api)
    g = await create(api, owner, open=True)
    gid = g["id"]
    assert_error(await api.post(f"/v2/group/{gid}/leave", owner.token), 400, 3,
                 "Cannot leave group when you are the last superadmin.")
    assert_ok(await api.post(f"/v2/group/{gid}/leave", other.token), {})  # not in it: fine
    assert_ok(await api.post(f"/v2/group/{gid}/join", other.token))
    assert_ok(await act(api, owner, gid, "promote", other))
    assert_ok(await act(api, owner, gid, "promote", other))
    assert (await states(api, owner, gid))[other.uid] == 0
    assert_ok(await api.post(f"/v2/group/{gid}/leave", owner.token), {})
    assert await states(api, other, gid) == {other.uid: 0}
    await check_edges(db, gid)
    assert_error(await api.post(f"/v2/group/{gid}/leave", other.token), 400, 3,
                 "Cannot leave group when you are the last superadmin.")


# -- add, kick, ban, promote, demote ---------------------------------------------------------------


async def test_add_group_users(api: Api, db: str):
    owner, a, b, requester, outsider = [await new_user(api) for _ in range(5)]
    g = await create(api, owner, open=False, max_count=4)
    gid = g["id"]
    assert_ok(await api.post(f"/v2/group/{gid}/join", requester.token))
    assert_ok(await act(api, owner, gid, "add", a, requester), {})
    assert await states(api, owner, gid) == {owner.uid: 0, a.uid: 2, requester.uid: 2}
    await check_edges(db, gid)
    notes = assert_ok(await api.get("/v2/notification", a.token))["notifications"]
    assert [(n["code"], n["subject"], n["sender_id"]) for n in notes] == [
        (-4, f"You've been added to group {g['name']}", owner.uid)]
    assert __import__("json").loads(notes[0]["content"]) == {"group_id": gid, "name": g["name"]}

    assert_error(await act(api, a, gid, "add", b), 404, 5, DENIED)  # a member cannot add
    assert_error(await act(api, outsider, gid, "add", b), 404, 5, DENIED)
    ghost = User("", str(uuid.uuid4()), "")
    assert_error(await act(api, owner, gid, "add", b, ghost), 400, 3,
                 "One or more users not found.")
    assert (await states(api, owner, gid)).get(b.uid) is None  # all or nothing
    assert_error(await api.call("POST", f"/v2/group/{gid}/add", auth=f"Bearer {owner.token}",
                                params={"user_ids": "nope"}), 400, 3, "User ID must be a valid ID.")
    assert_ok(await api.post(f"/v2/group/{gid}/add", owner.token), {})  # no users: nothing
    assert_ok(await act(api, owner, gid, "add", b))
    assert_error(await act(api, owner, gid, "add", outsider), 400, 3, "Group is full.")
    assert_error(await act(api, owner, str(uuid.uuid4()), "add", b), 404, 5, DENIED)


async def test_role_rules(api: Api, db: str):
    sa, sa2, adm, adm2, mem, mem2, req = [await new_user(api) for _ in range(7)]
    g = await create(api, sa, open=True)
    gid = g["id"]
    for u in (sa2, adm, adm2, mem, mem2):
        assert_ok(await api.post(f"/v2/group/{gid}/join", u.token))
    assert_ok(await act(api, sa, gid, "promote", sa2, adm, adm2))
    assert_ok(await act(api, sa, gid, "promote", sa2))
    assert_ok(await api.put(f"/v2/group/{gid}", sa.token, {"open": False}))
    assert_ok(await api.post(f"/v2/group/{gid}/join", req.token))
    assert await states(api, sa, gid) == {sa.uid: 0, sa2.uid: 0, adm.uid: 1, adm2.uid: 1,
                                          mem.uid: 2, mem2.uid: 2, req.uid: 3}

    # Members manage nobody.
    for op in ("kick", "ban", "promote", "demote"):
        assert_error(await act(api, mem, gid, op, mem2), 404, 5, DENIED)
    # Admins: promote a request to member and a member to admin, never to superadmin; demote
    # admins; kick members, not admins or superadmins.
    assert_ok(await act(api, adm, gid, "promote", req, mem, adm2, sa))
    s = await states(api, sa, gid)
    assert (s[req.uid], s[mem.uid], s[adm2.uid], s[sa.uid]) == (2, 1, 1, 0)
    assert_ok(await act(api, adm, gid, "demote", mem, sa))
    s = await states(api, sa, gid)
    assert (s[mem.uid], s[sa.uid]) == (2, 0)
    assert_ok(await act(api, adm, gid, "kick", adm2, sa, mem2))
    s = await states(api, sa, gid)
    assert adm2.uid in s and sa.uid in s and mem2.uid not in s
    await check_edges(db, gid)
    # Superadmins demote superadmins but never the last one; a member stays a member.
    assert_ok(await act(api, sa, gid, "demote", sa2, mem))
    s = await states(api, sa, gid)
    assert (s[sa2.uid], s[mem.uid]) == (1, 2)
    assert_ok(await act(api, sa, gid, "demote", sa))  # self: skipped
    assert (await states(api, sa, gid))[sa.uid] == 0
    assert_error(await api.post(f"/v2/group/{gid}/demote", sa.token), 400, 3,
                 "User IDs must be set.")

    # Ban: gone from the listing, listed under state 4, cannot join, kick lifts it.
    assert_ok(await act(api, adm, gid, "ban", mem), {})
    assert mem.uid not in await states(api, sa, gid)
    banned = await users_of(api, sa, gid, state=4)
    assert [(x["user"]["id"], x["state"]) for x in banned["group_users"]] == [(mem.uid, 4)]
    await check_edges(db, gid)
    assert_ok(await api.post(f"/v2/group/{gid}/join", mem.token), {})  # no change
    assert_ok(await api.post(f"/v2/group/{gid}/leave", mem.token), {})  # no change
    assert (await users_of(api, sa, gid, state=4))["group_users"][0]["state"] == 4
    assert_ok(await act(api, adm, gid, "kick", mem))
    assert await users_of(api, sa, gid, state=4) == {}
    # Banning a superadmin takes a superadmin; an admin cannot.
    assert_ok(await act(api, adm, gid, "ban", sa))
    assert (await states(api, sa, gid))[sa.uid] == 0
    await check_edges(db, gid)


async def test_list_users_and_user_groups(api: Api):
    owner, *members = [await new_user(api) for _ in range(5)]
    g = await create(api, owner, open=True)
    gid = g["id"]
    for m in members:
        assert_ok(await api.post(f"/v2/group/{gid}/join", m.token))
    body = await users_of(api, owner, gid)
    assert [x["state"] for x in body["group_users"]] == [0, 2, 2, 2, 2]
    assert [x["user"]["id"] for x in body["group_users"]] == [owner.uid] + [m.uid for m in members]
    assert body["group_users"][0]["user"]["username"] == owner.username
    assert "cursor" not in body
    page = await users_of(api, owner, gid, limit=2)
    ids = [x["user"]["id"] for x in page["group_users"]]
    while "cursor" in page:
        page = await users_of(api, owner, gid, limit=2, cursor=page["cursor"])
        ids += [x["user"]["id"] for x in page["group_users"]]
    assert ids == [owner.uid] + [m.uid for m in members]
    only = await users_of(api, owner, gid, state=2, limit=3)
    assert len(only["group_users"]) == 3 and only["cursor"]
    assert_error(await api.get(f"/v2/group/{gid}/user", owner.token,
                               params={"state": 1, "cursor": only["cursor"]}), 400, 3,
                 "Cursor is invalid.")
    for params, message in (({"state": 5}, "Invalid state - state must be between 0 and 4."),
                            ({"state": -1}, "Invalid state - state must be between 0 and 4."),
                            ({"state": "x"}, "Invalid state - state must be between 0 and 4."),
                            ({"limit": 1000}, "Invalid limit - limit must be between 1 and 100."),
                            ({"cursor": "AAAA"}, "Cursor is invalid.")):
        assert_error(await api.get(f"/v2/group/{gid}/user", owner.token, params=params), 400, 3,
                     message)
    assert_error(await api.get("/v2/group/bad/user", owner.token), 400, 3,
                 "Group ID must be a valid ID.")

    other = await create(api, members[0])
    mine = assert_ok(await api.get(f"/v2/user/{members[0].uid}/group", owner.token))
    assert [(x["group"]["id"], x["state"]) for x in mine["user_groups"]] == [
        (other["id"], 0), (gid, 2)]
    assert mine["user_groups"][1]["group"]["open"] is True
    assert mine["user_groups"][0]["group"]["open"] is False
    one = assert_ok(await api.get(f"/v2/user/{members[0].uid}/group", owner.token,
                                  params={"state": 2}))
    assert [x["group"]["id"] for x in one["user_groups"]] == [gid]
    page = assert_ok(await api.get(f"/v2/user/{members[0].uid}/group", owner.token,
                                   params={"limit": 1}))
    nxt = assert_ok(await api.get(f"/v2/user/{members[0].uid}/group", owner.token,
                                  params={"limit": 1, "cursor": page["cursor"]}))
    assert [x["group"]["id"] for x in nxt["user_groups"]] == [gid] and "cursor" not in nxt
    assert_error(await api.get("/v2/user/bad/group", owner.token), 400, 3,
                 "User ID must be a valid ID.")
    assert_ok(await api.get(f"/v2/user/{uuid.uuid4()}/group", owner.token), {})


# -- concurrency ---------------------------------------------------------------------------------


async def test_fifty_joiners_capacity_ten(api: Api, db: str):
    owner = await new_user(api)
    g = await create(api, owner, open=True, max_count=10)
    gid = g["id"]
    joiners = await asyncio.gather(*(new_user(api) for _ in range(50)))
    replies = await asyncio.gather(*(api.post(f"/v2/group/{gid}/join", u.token)
                                     for u in joiners))
    ok = [r for r in replies if r.status == 200]
    full = [r for r in replies if r.status == 400]
    assert len(ok) == 9 and len(full) == 41, [r.status for r in replies]
    for r in full:
        assert r.json == {"code": 3, "message": "Group is full."}
    members = await states(api, owner, gid)
    assert len(members) == 10
    count = await sql(db, "SELECT edge_count FROM groups WHERE id = $1", gid)
    assert count[0]["edge_count"] == 10
    await check_edges(db, gid)
    # One join message per member that got in.
    msgs = await sql(db, "SELECT count(*) AS n FROM message WHERE stream_subject = $1 "
                         "AND code = 3", gid)
    assert msgs[0]["n"] == 9


async def test_deleting_an_account_leaves_its_groups(api: Api, db: str):
    """As Nakama: a deleted user leaves every group; a group whose only superadmin it was is
    deleted; counts and both edge directions stay right."""
    owner, other_admin, member = await new_user(api), await new_user(api), await new_user(api)
    solo = await create(api, owner, name=gname("solo"), open=True)
    shared = await create(api, owner, name=gname("shared"), open=True)
    joined = await create(api, other_admin, name=gname("joined"), open=True)
    for gid in (solo["id"], shared["id"]):
        assert_ok(await api.post(f"/v2/group/{gid}/join", member.token), {})
    assert_ok(await api.post(f"/v2/group/{shared['id']}/join", other_admin.token), {})
    for _ in range(2):  # member -> admin -> superadmin: a second superadmin
        assert_ok(await act(api, owner, shared["id"], "promote", other_admin), {})
    assert_ok(await api.post(f"/v2/group/{joined['id']}/join", owner.token), {})

    assert_ok(await api.delete("/v2/account", owner.token), {})
    # The group it alone led is gone; the others lost one member.
    listed = assert_ok(await api.get(f"/v2/user/{member.uid}/group", member.token))
    names = {g["group"]["name"] for g in listed.get("user_groups", [])}
    assert solo["name"] not in names and shared["name"] in names
    shared_users = await users_of(api, member, shared["id"])
    assert {u["user"]["id"] for u in shared_users["group_users"]} == {other_admin.uid, member.uid}
    for gid, count in ((shared["id"], 2), (joined["id"], 1)):
        rows = await sql(db, "SELECT edge_count FROM groups WHERE id = $1", gid)
        assert rows[0]["edge_count"] == count
        await check_edges(db, gid)
    assert await sql(db, "SELECT 1 FROM groups WHERE id = $1", solo["id"]) == []
    assert await sql(db, "SELECT 1 FROM group_edge WHERE source_id = $1 OR destination_id = $1",
                     owner.uid) == []
