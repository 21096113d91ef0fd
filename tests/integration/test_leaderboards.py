"""Leaderboards over HTTP (`/v2/leaderboard`) and `nk`, against a real `kizuna server` and a real
PostgreSQL: boards created by a module in `init_module` (idempotently, on every start), Nakama's
operators and sort orders, pages with ranks both ways, records around an owner, resets on a CRON
schedule with the reset callback, authoritative boards, bad input, and ranks kept by a second node
on the same database.

One server (and one fresh database) serves the module; each test makes its own users, and writes
to boards no other test writes to when it counts records.
"""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
import time
import uuid
from typing import Any

import aiohttp
import pytest

from tests.conftest import ServerProcess, server_on_fresh_database, start_server, write_modules
from tests.integration.nakama_http import (
    Api,
    Rpc,
    assert_error,
    assert_ok,
    device_player,
    poll,
    sql,
)

pytestmark = pytest.mark.timeout(240)

HTTP_KEY = "lbhttpkey"
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

MODULE = textwrap.dedent('''
    BOARDS = [
        # id, authoritative, sort, operator, reset, metadata, enable_ranks
        ("desc_best", False, "desc", "best", "", {"season": 1}, True),
        ("asc_best", False, "asc", "best", "", None, True),
        ("set_board", False, "desc", "set", "", None, True),
        ("incr_board", False, "desc", "incr", "", None, True),
        ("decr_board", False, "desc", "decr", "", None, True),
        ("auth_board", True, "desc", "best", "", None, True),
        ("pages", False, "desc", "best", "", None, True),
        ("asc_pages", False, "asc", "best", "", None, True),
        ("around", False, "desc", "best", "", None, True),
        ("no_ranks", False, "desc", "best", "", None, False),
        ("two_nodes", False, "desc", "best", "", None, True),
        ("resets", False, "desc", "best", "*/4 * * * * * *", None, True),
    ]


    def init_module(ctx, logger, nk, initializer):
        for board in BOARDS:
            nk.leaderboard_create(*board)
        initializer.register_rpc("nk_write", nk_write)
        initializer.register_rpc("nk_list", nk_list)
        initializer.register_rpc("nk_haystack", nk_haystack)
        initializer.register_rpc("nk_get", nk_get)
        initializer.register_rpc("nk_cursor_from_rank", nk_cursor_from_rank)
        initializer.register_rpc("nk_create", nk_create)
        initializer.register_rpc("nk_delete", nk_delete)
        initializer.register_leaderboard_reset(on_reset)


    def on_reset(ctx, logger, nk, leaderboard, reset):
        nk.storage_write([{"collection": "resets", "key": f"{leaderboard['id']}-{reset}",
                           "value": {"id": leaderboard["id"], "reset": reset,
                                     "mode": ctx.execution_mode}}])


    def nk_write(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        return nk.leaderboard_record_write(p["id"], p["owner_id"], p.get("username"),
                                           p.get("score", 0), p.get("subscore", 0),
                                           p.get("metadata"), p.get("operator"))


    async def nk_list(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        return await nk.aio.leaderboard_records_list(p["id"], p.get("owner_ids"),
                                                     p.get("limit", 10), p.get("cursor"))


    def nk_haystack(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        return nk.leaderboard_records_haystack(p["id"], p["owner_id"], p.get("limit", 10))


    def nk_get(ctx, logger, nk, payload):
        return {"boards": nk.leaderboards_get_id(nk.json_decode(payload)["ids"]),
                "list": nk.leaderboard_list(100)[0]}


    def nk_cursor_from_rank(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        return {"cursor": nk.leaderboard_records_list_cursor_from_rank(p["id"], p["rank"])}


    def nk_create(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        return {"created": nk.leaderboard_create(p["id"], p.get("authoritative", False),
                                                 p.get("sort", "desc"), p.get("operator", "best"),
                                                 p.get("reset", ""), p.get("metadata"), True)}


    def nk_delete(ctx, logger, nk, payload):
        nk.leaderboard_delete(nk.json_decode(payload)["id"])
''')


@pytest.fixture(scope="module")
def lb_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("leaderboards")
    modules = write_modules(tmp, kz_leaderboards=MODULE)
    with server_on_fresh_database(tmp, "--runtime.path", str(modules),
                                  "--runtime.http_key", HTTP_KEY) as srv:
        srv.modules = modules
        yield srv


@pytest.fixture
async def api(lb_server: ServerProcess):
    async with aiohttp.ClientSession(skip_auto_headers=["Accept-Encoding"]) as http:
        yield Api(lb_server.url, http)


player = device_player
rpc = Rpc(HTTP_KEY).ok


async def write(api: Api, token: str, board: str, score: Any, subscore: Any = None,
                **extra: Any) -> dict:
    body: dict[str, Any] = {"score": score, **extra}
    if subscore is not None:
        body["subscore"] = subscore
    return assert_ok(await api.post(f"/v2/leaderboard/{board}", token, body))


async def records(api: Api, token: str, board: str, **params: Any) -> dict:
    q = [(k, str(v)) for k, v in params.items() if not isinstance(v, list)]
    q += [(k, x) for k, v in params.items() if isinstance(v, list) for x in v]
    return assert_ok(await api.get(f"/v2/leaderboard/{board}", token, params=q))


# -- writes and operators ----------------------------------------------------------------------


async def test_write_returns_the_record_in_nakamas_shape(api: Api):
    token, uid, username = await player(api)
    rec = await write(api, token, "desc_best", "15", "3", metadata='{"weapon": "bow"}')
    assert TIME.match(rec.pop("create_time")) and TIME.match(rec.pop("update_time"))
    assert rec == {"leaderboard_id": "desc_best", "owner_id": uid, "username": username,
                   "score": "15", "subscore": "3", "num_score": 1,
                   "metadata": '{"weapon": "bow"}', "rank": rec["rank"],
                   "max_num_score": 1000000}
    # The rank is the record's place in the board's listing (other tests write to this board).
    place, cursor = 0, None
    while True:
        page = await records(api, token, "desc_best", limit=100,
                             **({"cursor": cursor} if cursor else {}))
        owners = [r["owner_id"] for r in page["records"]]
        if uid in owners:
            place += owners.index(uid) + 1
            break
        place += len(owners)
        cursor = page["next_cursor"]
    assert rec["rank"] == str(place)


async def test_best_descending_keeps_the_better_score_and_subscore_independently(api: Api):
    token, _, _ = await player(api)
    await write(api, token, "desc_best", 100, 5)
    worse = await write(api, token, "desc_best", 90, 1)
    assert (worse["score"], worse["subscore"], worse["num_score"]) == ("100", "5", 1)
    # Nakama's rule: best score and best subscore are kept separately.
    mixed = await write(api, token, "desc_best", 90, 9)
    assert (mixed["score"], mixed["subscore"], mixed["num_score"]) == ("100", "9", 2)
    better = await write(api, token, "desc_best", 120, 0)
    assert (better["score"], better["subscore"], better["num_score"]) == ("120", "9", 3)


async def test_best_ascending_keeps_the_lower_score(api: Api):
    token, _, _ = await player(api)
    await write(api, token, "asc_best", 50)
    assert (await write(api, token, "asc_best", 70))["score"] == "50"
    assert (await write(api, token, "asc_best", 20))["score"] == "20"


async def test_set_increment_decrement(api: Api):
    token, _, _ = await player(api)
    await write(api, token, "set_board", 50, 5)
    assert (await write(api, token, "set_board", 10, 1))["score"] == "10"
    await write(api, token, "incr_board", 5, 1)
    r = await write(api, token, "incr_board", 7, 2)
    assert (r["score"], r["subscore"], r["num_score"]) == ("12", "3", 2)
    first = await write(api, token, "decr_board", 10)
    assert "score" not in first  # a first write by decrement starts at 0 (omitted on the wire)
    # The request's operator overrides the board's: set 10, then decrement below 0 stops at 0.
    r = await write(api, token, "decr_board", 10, operator=2)
    assert r["score"] == "10"
    r = await write(api, token, "decr_board", 4)
    assert r["score"] == "6"
    r = await write(api, token, "decr_board", 100)
    assert "score" not in r and r["num_score"] == 4


async def test_authoritative_boards_refuse_players_but_not_server_code(api: Api):
    token, uid, _ = await player(api)
    assert_error(await api.post("/v2/leaderboard/auth_board", token, {"score": 1}), 403, 7,
                 "Leaderboard only allows authoritative score submissions.")
    assert_error(await api.delete("/v2/leaderboard/auth_board", token), 403, 7,
                 "Leaderboard only allows authoritative score deletions.")
    rec = await rpc(api, "nk_write", {"id": "auth_board", "owner_id": uid, "username": "srv",
                                      "score": 42, "metadata": {"by": "server"}})
    assert (rec["score"], rec["username"], rec["metadata"], rec["rank"]) == \
        (42, "srv", {"by": "server"}, 1)
    listed = await records(api, token, "auth_board", owner_ids=[uid])
    assert listed["owner_records"][0]["score"] == "42"


async def test_delete_own_record(api: Api):
    token, uid, _ = await player(api)
    await write(api, token, "set_board", 5)
    assert_ok(await api.delete("/v2/leaderboard/set_board", token), {})
    assert (await records(api, token, "set_board", owner_ids=[uid])).get("owner_records") is None


# -- lists, ranks, cursors ---------------------------------------------------------------------


async def test_pages_with_ranks_both_ways(api: Api):
    players = [await player(api) for _ in range(5)]
    for i, (token, _, _) in enumerate(players):
        await write(api, token, "pages", 10 * (i + 1))  # 10..50: the last player ranks first
    token = players[0][0]
    page1 = await records(api, token, "pages", limit=2)
    assert [(r["score"], r["rank"]) for r in page1["records"]] == [("50", "1"), ("40", "2")]
    assert "prev_cursor" not in page1 and page1["rank_count"] == "5"
    page2 = await records(api, token, "pages", limit=2, cursor=page1["next_cursor"])
    assert [(r["score"], r["rank"]) for r in page2["records"]] == [("30", "3"), ("20", "4")]
    page3 = await records(api, token, "pages", limit=2, cursor=page2["next_cursor"])
    assert [(r["score"], r["rank"]) for r in page3["records"]] == [("10", "5")]
    assert "next_cursor" not in page3
    back = await records(api, token, "pages", limit=2, cursor=page3["prev_cursor"])
    assert [(r["score"], r["rank"]) for r in back["records"]] == [("30", "3"), ("20", "4")]
    first = await records(api, token, "pages", limit=2, cursor=back["prev_cursor"])
    assert [(r["score"], r["rank"]) for r in first["records"]] == [("50", "1"), ("40", "2")]
    assert "prev_cursor" not in first and "next_cursor" in first
    # Owner records come with their rank, in board order, with or without a page.
    owners = await records(api, token, "pages", owner_ids=[players[0][1], players[3][1]])
    assert "records" not in owners
    assert [(r["score"], r["rank"]) for r in owners["owner_records"]] == [("40", "2"), ("10", "5")]
    # Without a limit and without owners, one record.
    assert len((await records(api, token, "pages"))["records"]) == 1


async def test_ascending_pages_and_ties_broken_by_subscore_then_owner(api: Api):
    players = [await player(api) for _ in range(4)]
    for token, _, _ in players[:3]:
        await write(api, token, "asc_pages", 7, 1)
    await write(api, players[3][0], "asc_pages", 7, 0)
    page = await records(api, players[0][0], "asc_pages", limit=10)
    listed = [(r["owner_id"], r.get("subscore", "0"), r["rank"]) for r in page["records"]]
    assert listed[0] == (players[3][1], "0", "1")
    tied = sorted(uid for _, uid, _ in players[:3])
    assert [o for o, _, _ in listed[1:]] == tied  # ascending board: owner ids ascending
    assert [r for _, _, r in listed] == ["1", "2", "3", "4"]


async def test_records_around_owner(api: Api):
    players = [await player(api) for _ in range(9)]
    for i, (token, _, _) in enumerate(players):
        await write(api, token, "around", 100 + i)  # player i has rank 9 - i
    me = players[4]  # score 104, rank 5
    r = assert_ok(await api.get(f"/v2/leaderboard/around/owner/{me[1]}", me[0],
                                params={"limit": "3"}))
    assert [(x["score"], x["rank"]) for x in r["records"]] == \
        [("105", "4"), ("104", "5"), ("103", "6")]
    assert r["rank_count"] == "9" and "next_cursor" in r and "prev_cursor" in r
    top = assert_ok(await api.get(f"/v2/leaderboard/around/owner/{players[8][1]}", me[0],
                                  params={"limit": "3"}))
    assert [x["rank"] for x in top["records"]] == ["1", "2", "3"]
    bottom = assert_ok(await api.get(f"/v2/leaderboard/around/owner/{players[0][1]}", me[0],
                                     params={"limit": "3"}))
    assert [x["rank"] for x in bottom["records"]] == ["7", "8", "9"]
    # Someone without a record: an empty list.
    stranger = str(uuid.uuid4())
    empty = assert_ok(await api.get(f"/v2/leaderboard/around/owner/{stranger}", me[0]))
    assert "records" not in empty
    hay = await rpc(api, "nk_haystack", {"id": "around", "owner_id": me[1], "limit": 3})
    assert [x["rank"] for x in hay["records"]] == [4, 5, 6]


async def test_boards_without_ranks_answer_rank_zero(api: Api):
    token, uid, _ = await player(api)
    rec = await write(api, token, "no_ranks", 5)
    assert "rank" not in rec
    page = await records(api, token, "no_ranks", limit=5, owner_ids=[uid])
    assert page["records"][0]["rank"] == "1"  # a page's ranks come from its position
    assert "rank" not in page["owner_records"][0] and "rank_count" not in page


async def test_around_owner_without_ranks_reads_the_database(api: Api):
    players = [await player(api) for _ in range(5)]
    for i, (token, _, _) in enumerate(players):
        await write(api, token, "no_ranks", 1_000_000 + i)
    me = players[2]
    r = assert_ok(await api.get(f"/v2/leaderboard/no_ranks/owner/{me[1]}", me[0],
                                params={"limit": "3"}))
    assert [x["score"] for x in r["records"]] == ["1000003", "1000002", "1000001"]
    assert all("rank" not in x for x in r["records"])
    assert "next_cursor" in r and "prev_cursor" in r


async def test_nk_reads_and_cursor_from_rank(api: Api):
    players = [await player(api) for _ in range(3)]
    for i, (token, _, _) in enumerate(players):
        await write(api, token, "desc_best", 10_000 + i)
    out = await rpc(api, "nk_get", {"ids": ["desc_best", "nope"]})
    assert [b["id"] for b in out["boards"]] == ["desc_best"]
    board = out["boards"][0]
    assert (board["sort_order"], board["operator"], board["metadata"], board["authoritative"]) \
        == (1, 1, {"season": 1}, False)
    assert {b["id"] for b in out["list"]} >= {"desc_best", "asc_best", "resets"}
    page = await rpc(api, "nk_list", {"id": "desc_best", "limit": 2})
    assert [r["rank"] for r in page["records"]] == [1, 2] and page["next_cursor"]
    cursor = (await rpc(api, "nk_cursor_from_rank", {"id": "desc_best", "rank": 2}))["cursor"]
    second = await rpc(api, "nk_list", {"id": "desc_best", "limit": 1, "cursor": cursor})
    assert (second["records"][0]["rank"], second["records"][0]["score"]) == (2, 10_001)


async def test_create_is_idempotent_and_delete_removes_records(api: Api):
    assert await rpc(api, "nk_create", {"id": "temp_board"}) == {"created": True}
    assert await rpc(api, "nk_create", {"id": "temp_board", "sort": "asc"}) == {"created": False}
    token, _, _ = await player(api)
    await write(api, token, "temp_board", 3)
    await rpc(api, "nk_delete", {"id": "temp_board"})
    assert_error(await api.get("/v2/leaderboard/temp_board", token), 404, 5,
                 "Leaderboard not found.")


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path,params,message", [
    ("/v2/leaderboard/pages", {"limit": "0"}, "Invalid limit - limit must be between 1 and 1000."),
    ("/v2/leaderboard/pages", {"limit": "-5"}, "Invalid limit - limit must be between 1 and 1000."),
    ("/v2/leaderboard/pages", {"limit": "1001"},
     "Invalid limit - limit must be between 1 and 1000."),
    ("/v2/leaderboard/pages", {"cursor": "bm90IGEgY3Vyc29y"}, "Cursor is invalid or expired."),
    ("/v2/leaderboard/pages", {"cursor": "%%%"}, "Cursor is invalid or expired."),
    ("/v2/leaderboard/pages", {"owner_ids": "not-a-uuid"}, "One or more owner IDs are invalid."),
    ("/v2/leaderboard/pages/owner/not-a-uuid", {}, "Invalid owner ID provided."),
    ("/v2/leaderboard/pages/owner/" + str(uuid.UUID(int=1)), {"limit": "101"},
     "Invalid limit - limit must be between 1 and 100."),
])
async def test_bad_reads_are_400(api: Api, path: str, params: dict, message: str):
    token, _, _ = await player(api)
    assert_error(await api.get(path, token, params=params), 400, 3, message)


async def test_a_cursor_of_another_board_is_refused(api: Api):
    token, _, _ = await player(api)
    await write(api, token, "pages", 1)
    other, _, _ = await player(api)
    await write(api, other, "pages", 2)
    cursor = (await records(api, token, "pages", limit=1))["next_cursor"]
    assert_error(await api.get("/v2/leaderboard/desc_best", token, params={"cursor": cursor}),
                 400, 3, "Cursor is invalid or expired.")


@pytest.mark.parametrize("body,message", [
    ({"score": "9223372036854775808"}, None),
    ({"score": -1}, "Invalid score value, must be >= 0."),
    ({"score": 1, "subscore": -1}, "Invalid subscore value, must be >= 0."),
    ({"score": 1, "metadata": "[1]"}, "Metadata value must be JSON, if provided."),
    ({"score": 1, "metadata": "{bad"}, "Metadata value must be JSON, if provided."),
    ({"score": 1, "metadata": '{"a": "\\u0000"}'}, None),
    ({"score": 1, "operator": 9}, "Invalid operator."),
    ({"score": "ten"}, None),
])
async def test_bad_writes_are_400_and_change_nothing(api: Api, body: dict, message: str | None):
    token, uid, _ = await player(api)
    r = await api.post("/v2/leaderboard/set_board", token, body)
    assert (r.status, r.json["code"]) == (400, 3), r
    if message:
        assert r.json["message"] == message
    assert (await records(api, token, "set_board", owner_ids=[uid])).get("owner_records") is None


async def test_increment_overflow_is_refused(api: Api):
    token, uid, _ = await player(api)
    await write(api, token, "incr_board", str(2**63 - 10))
    r = await api.post("/v2/leaderboard/incr_board", token, {"score": 100})
    assert (r.status, r.json["code"]) == (400, 3), r
    owner = (await records(api, token, "incr_board", owner_ids=[uid]))["owner_records"][0]
    assert owner["score"] == str(2**63 - 10) and owner["num_score"] == 1


async def test_unknown_board(api: Api):
    token, uid, _ = await player(api)
    for reply in (await api.post("/v2/leaderboard/nope", token, {"score": 1}),
                  await api.get("/v2/leaderboard/nope", token),
                  await api.delete("/v2/leaderboard/nope", token),
                  await api.get(f"/v2/leaderboard/nope/owner/{uid}", token)):
        assert_error(reply, 404, 5, "Leaderboard not found.")


# -- resets ------------------------------------------------------------------------------------


async def test_reset_starts_a_new_period_and_calls_the_module(api: Api, lb_server: ServerProcess):
    token, uid, _ = await player(api)
    rec = await write(api, token, "resets", 77)
    expiry = rec["expiry_time"]
    assert TIME.match(expiry)
    expiry_unix = int(time.mktime(time.strptime(expiry, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone)
    # After the reset, the current period is empty; the old one is read with `expiry`.
    await asyncio.sleep(max(expiry_unix - time.time(), 0))

    async def new_period() -> list[dict] | None:
        now = await records(api, token, "resets", limit=10, owner_ids=[uid])
        return [now] if "owner_records" not in now and "records" not in now else None

    [now] = await poll(new_period, timeout=30)
    assert time.time() >= expiry_unix, now
    old = await records(api, token, "resets", limit=10, expiry=expiry_unix)
    assert [r["score"] for r in old["records"]] == ["77"]
    rows = await poll(lambda: sql(lb_server.db_address,
                                  "SELECT value FROM storage WHERE collection = 'resets' "
                                  "AND key = $1", f"resets-{expiry_unix}"))
    value = json.loads(rows[0]["value"])
    assert value == {"id": "resets", "reset": expiry_unix, "mode": "leaderboard_reset"}


# -- two nodes ---------------------------------------------------------------------------------


async def test_a_second_node_keeps_ranks_of_writes_made_on_the_first(
        api: Api, lb_server: ServerProcess, tmp_path):
    second = start_server(["--database.address", lb_server.db_address, "--runtime.path",
                           str(lb_server.modules), "--runtime.http_key", HTTP_KEY,
                           "--logger.format", "text"], tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            other = Api(second.url, http)
            a, a_id, _ = await player(api)
            b, b_id, _ = await player(api)
            await write(api, a, "two_nodes", 10)
            await write(other, b, "two_nodes", 20)

            async def ranks_seen(node: Api) -> list[tuple[str, str]] | None:
                page = await records(node, a, "two_nodes", owner_ids=[a_id, b_id])
                got = [(r["owner_id"], r.get("rank", "0")) for r in page["owner_records"]]
                return got if got == [(b_id, "1"), (a_id, "2")] else None

            assert await poll(lambda: ranks_seen(api))
            assert await poll(lambda: ranks_seen(other))
            await write(api, a, "two_nodes", 30)  # a passes b: node two hears it
            seen = await poll(lambda: _rank_of(other, a, a_id, "1"))
            assert seen
    finally:
        second.stop()


async def _rank_of(node: Api, token: str, owner: str, want: str) -> bool:
    page = await records(node, token, "two_nodes", owner_ids=[owner])
    return page["owner_records"][0].get("rank") == want
