"""Tournaments over HTTP (`/v2/tournament`) and `nk`, against a real `kizuna server` and a real
PostgreSQL: tournaments created by a module in `init_module` (idempotently), their fields in
ListTournaments and the list's filters and cursor, joins (join-required or not, max size, outside
the window), writes (joins, attempts and `nk.tournament_add_attempt`, max size, the active window,
authoritative tournaments, PUT and POST), record lists with ranks and around an owner, ended
tournaments, deleting one's record, the end and reset callbacks of a tournament that resets every
4 seconds, and bad input.

One server (and one fresh database) serves the module; each test makes its own users, and writes
to tournaments no other test writes to when it counts records or sizes.
"""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from tests.conftest import ServerProcess, server_on_fresh_database, write_modules
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

HTTP_KEY = "tnhttpkey"
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
UNLIMITED = 2147483647
# The instant the module below is written with: set again when the server starts (tn_server),
# so the tournaments' windows are measured from then, not from when pytest imported this file.
NOW = int(time.time())
HOUR = 3600

MODULE = textwrap.dedent('''
    NOW = __NOW__
    HOUR = 3600

    TOURNAMENTS = {
        # Every field set: the list test compares the whole api.Tournament.
        "t_fields": dict(sort_order="asc", operator="incr", duration=600, title="Spring Cup",
                         description="Weekly fun", category=120, metadata={"prize": "gold"},
                         start_time=NOW - 60, end_time=NOW + 2 * HOUR, max_size=50,
                         max_num_score=5, join_required=True),
        "t_daily": dict(reset_schedule="0 0 * * *", duration=86400, category=121,
                        start_time=NOW - 10 * 86400),
        "t_open": dict(duration=HOUR, start_time=NOW - 60, category=10, enable_ranks=True),
        "t_join": dict(duration=HOUR, start_time=NOW - 60, join_required=True, max_num_score=3,
                       category=10, enable_ranks=True),
        "t_full": dict(duration=HOUR, start_time=NOW - 60, join_required=True, max_size=2,
                       category=11),
        "t_full_write": dict(duration=HOUR, start_time=NOW - 60, max_size=2, category=11),
        "t_attempts": dict(duration=HOUR, start_time=NOW - 60, max_num_score=2, category=10),
        "t_future": dict(duration=600, start_time=NOW + HOUR, end_time=NOW + 2 * HOUR,
                         join_required=True, category=12),
        "t_closed": dict(duration=60, start_time=NOW - 2 * HOUR, join_required=True,
                         category=12),
        "t_ended": dict(duration=60, start_time=NOW - 2 * HOUR, end_time=NOW - HOUR,
                        join_required=True, category=12),
        "t_auth": dict(authoritative=True, duration=HOUR, start_time=NOW - 60, category=13,
                       enable_ranks=True),
        "t_pages": dict(duration=HOUR, start_time=NOW - 60, category=14, enable_ranks=True),
        "t_incr": dict(operator="incr", duration=HOUR, start_time=NOW - 60, category=14),
        "t_cron": dict(reset_schedule="*/4 * * * * * *", duration=2, start_time=NOW - 60,
                       max_size=100, category=15, enable_ranks=True),
        "t_cron_join": dict(reset_schedule="*/4 * * * * * *", duration=2, start_time=NOW - 60,
                            max_size=1, join_required=True, category=16),
        # The list filters: categories 100-103 hold only these.
        "l_a": dict(duration=HOUR, category=100, start_time=NOW - 100),
        "l_b": dict(duration=HOUR, category=101, start_time=NOW - 100, end_time=NOW + 2 * HOUR),
        "l_c": dict(duration=HOUR, category=102, start_time=NOW + HOUR, end_time=NOW + 2 * HOUR),
        "l_d": dict(duration=60, category=103, start_time=NOW - 2 * HOUR, end_time=NOW - HOUR),
        "l_e": dict(duration=HOUR, category=101, start_time=NOW - 100, end_time=NOW + 2 * HOUR),
    }


    def init_module(ctx, logger, nk, initializer):
        nk.leaderboard_create("plain_board", False, "desc", "best", "", None, True)
        for tid, spec in TOURNAMENTS.items():
            nk.tournament_create(tid, **spec)
        for name, fn in [("nk_create", nk_create), ("nk_write", nk_write),
                         ("nk_add_attempt", nk_add_attempt), ("nk_get", nk_get),
                         ("nk_list", nk_list), ("nk_records", nk_records),
                         ("nk_join", nk_join), ("nk_delete", nk_delete)]:
            initializer.register_rpc(name, fn)
        initializer.register_tournament_end(on_end)
        initializer.register_tournament_reset(on_reset)


    def _store(nk, ctx, kind, tournament, end, reset):
        nk.storage_write([{"collection": "tournament_events",
                           "key": f"{tournament['id']}-{kind}-{reset if kind == 'reset' else end}",
                           "value": {"kind": kind, "end": end, "reset": reset,
                                     "mode": ctx.execution_mode, "tournament": tournament}}])


    def on_end(ctx, logger, nk, tournament, end, reset):
        _store(nk, ctx, "end", tournament, end, reset)


    def on_reset(ctx, logger, nk, tournament, end, reset):
        _store(nk, ctx, "reset", tournament, end, reset)


    def _errors(fn):
        def call(ctx, logger, nk, payload):
            try:
                return fn(nk, nk.json_decode(payload))
            except Exception as exc:
                return {"error": getattr(exc, "message", str(exc)),
                        "code": getattr(exc, "code", None)}
        return call


    @_errors
    def nk_create(nk, p):
        tid = p.pop("id")
        return {"created": nk.tournament_create(tid, **p)}


    @_errors
    def nk_write(nk, p):
        return nk.tournament_record_write(p["id"], p["owner_id"], p.get("username"),
                                          p.get("score", 0), p.get("subscore", 0),
                                          p.get("metadata"), p.get("operator"))


    @_errors
    def nk_add_attempt(nk, p):
        nk.tournament_add_attempt(p["id"], p["owner_id"], p["count"])
        return {}


    @_errors
    def nk_join(nk, p):
        nk.tournament_join(p["id"], p["owner_id"], p.get("username"))
        return {}


    @_errors
    def nk_delete(nk, p):
        nk.tournament_delete(p["id"])
        return {}


    @_errors
    def nk_get(nk, p):
        return {"tournaments": nk.tournaments_get_id(p["ids"])}


    @_errors
    def nk_list(nk, p):
        items, cursor = nk.tournament_list(**p)
        return {"tournaments": items, "cursor": cursor}


    @_errors
    def nk_records(nk, p):
        return nk.tournament_records_list(p["id"], p.get("owner_ids"), p.get("limit", 10))
''')


@pytest.fixture(scope="module")
def tn_server(tmp_path_factory):
    global NOW
    NOW = int(time.time())
    tmp = tmp_path_factory.mktemp("tournaments")
    modules = write_modules(tmp, kz_tournaments=MODULE.replace("__NOW__", str(NOW)))
    with server_on_fresh_database(tmp, "--runtime.path", str(modules),
                                  "--runtime.http_key", HTTP_KEY) as srv:
        yield srv


@pytest.fixture
async def api(tn_server: ServerProcess):
    async with aiohttp.ClientSession(skip_auto_headers=["Accept-Encoding"]) as http:
        yield Api(tn_server.url, http)


player = device_player
rpc = Rpc(HTTP_KEY).ok


async def write(api: Api, token: str, tid: str, score: Any, subscore: Any = None,
                method: str = "POST", **extra: Any) -> dict:
    body: dict[str, Any] = {"score": score, **extra}
    if subscore is not None:
        body["subscore"] = subscore
    call = api.post if method == "POST" else api.put
    return assert_ok(await call(f"/v2/tournament/{tid}", token, body))


async def records(api: Api, token: str, tid: str, **params: Any) -> dict:
    q = [(k, str(v)) for k, v in params.items() if not isinstance(v, list)]
    q += [(k, x) for k, v in params.items() if isinstance(v, list) for x in v]
    return assert_ok(await api.get(f"/v2/tournament/{tid}", token, params=q))


async def listed(api: Api, token: str, **params: Any) -> dict:
    return assert_ok(await api.get("/v2/tournament", token,
                                   params={k: str(v) for k, v in params.items()}))


async def one(api: Api, token: str, category: int) -> dict:
    """The one tournament of a category, as ListTournaments shows it."""
    page = await listed(api, token, category_start=category, category_end=category)
    assert len(page["tournaments"]) == 1, page
    return page["tournaments"][0]


def ts(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- create --------------------------------------------------------------------------------------


async def test_create_is_idempotent_and_refuses_a_leaderboard_id(api: Api):
    token, _, _ = await player(api)
    spec = {"duration": HOUR, "category": 90, "title": "first", "start_time": int(time.time())}
    assert await rpc(api, "nk_create", {"id": "t_new", **spec}) == {"created": True}
    again = {**spec, "title": "second", "duration": 120}
    assert await rpc(api, "nk_create", {"id": "t_new", **again}) == {"created": False}
    shown = await one(api, token, 90)
    assert (shown["id"], shown["title"], shown["duration"]) == ("t_new", "first", HOUR)
    assert await rpc(api, "nk_create", {"id": "plain_board", "duration": 60}) == {
        "error": "Cannot create tournament as leaderboard is already in use.", "code": 6}
    # Deleting takes the tournament and its records away; deleting again is no error.
    await write(api, token, "t_new", 1)
    assert await rpc(api, "nk_delete", {"id": "t_new"}) == {}
    assert await rpc(api, "nk_delete", {"id": "t_new"}) == {}
    assert await listed(api, token, category_start=90, category_end=90) == {}
    assert_error(await api.get("/v2/tournament/t_new", token), 404, 5, "Tournament not found.")
    assert await rpc(api, "nk_delete", {"id": "plain_board"}) == {}  # not a tournament: kept
    # The leaderboard is still a leaderboard.
    assert_ok(await api.get("/v2/leaderboard/plain_board", token))
    assert_error(await api.get("/v2/tournament/plain_board", token), 404, 5,
                 "Tournament not found.")


@pytest.mark.parametrize("spec,message", [
    ({"duration": 0}, "Duration must be > 0."),
    ({"duration": 10, "category": 128}, "Category must be 0-127."),
    ({"duration": 10, "max_size": -1}, "max_size must be an integer >= 0."),
    ({"duration": 10, "sort_order": "up"}, None),
    ({"duration": 10, "reset_schedule": "not cron"},
     "expects reset schedule to be a valid CRON expression"),
    ({"duration": 10, "start_time": NOW, "end_time": NOW - 1}, "End time must be >= start time."),
    ({"duration": 10, "reset_schedule": "0 0 * * *", "start_time": NOW, "end_time": NOW + 60},
     "Tournament end time cannot be before first reset schedule - either increase end time or "
     "change/disable reset schedule."),
])
async def test_create_refuses_bad_arguments(api: Api, spec: dict, message: str | None):
    out = await rpc(api, "nk_create", {"id": f"bad_{uuid.uuid4().hex[:8]}", **spec})
    assert out["code"] == 3, out
    if message:
        assert out["error"] == message


# -- ListTournaments -------------------------------------------------------------------------------


async def test_tournament_fields(api: Api):
    token, _, _ = await player(api)
    t = await one(api, token, 120)
    assert TIME.match(t.pop("create_time"))
    assert t == {
        "id": "t_fields", "title": "Spring Cup", "description": "Weekly fun", "category": 120,
        "max_size": 50, "max_num_score": 5, "can_enter": True,
        "end_active": NOW - 60 + 600, "next_reset": NOW + 2 * HOUR,
        "metadata": '{"prize": "gold"}', "start_time": ts(NOW - 60),
        "end_time": ts(NOW + 2 * HOUR), "duration": 600, "start_active": NOW - 60,
        "operator": 3, "join_required": True}  # asc (0), size 0, prev_reset 0: omitted

    # A daily schedule: the period is today (UTC); no max size shows as 2^31-1.
    now = int(time.time())
    midnight = now - now % 86400
    d = await one(api, token, 121)
    d.pop("create_time")
    assert d == {
        "id": "t_daily", "category": 121, "sort_order": 1, "max_size": UNLIMITED,
        "max_num_score": 1000000, "can_enter": True, "end_active": midnight + 86400,
        "next_reset": midnight + 86400, "metadata": "{}", "start_time": ts(NOW - 10 * 86400),
        "duration": 86400, "start_active": midnight, "prev_reset": midnight, "operator": 1}


async def test_unlimited_tournaments_show_size_zero(api: Api):
    token, _, _ = await player(api)
    await write(api, token, "t_open", 5)
    page = await listed(api, token, category_start=10, category_end=10)
    t = next(x for x in page["tournaments"] if x["id"] == "t_open")
    assert "size" not in t and t["max_size"] == UNLIMITED and t["can_enter"] is True


async def test_list_order_filters_and_cursor(api: Api):
    token, _, _ = await player(api)

    async def ids(**params: Any) -> list[str]:
        page = await listed(api, token, **params)
        return [t["id"] for t in page.get("tournaments", [])]

    cats = {"category_start": 100, "category_end": 103}
    # Not ended (future ones included); by start time, then end time (latest first, none last),
    # then category, then id.
    assert await ids(**cats) == ["l_b", "l_e", "l_a", "l_c"]
    assert await ids(category_start=101, category_end=101) == ["l_b", "l_e"]
    assert await ids(**cats, start_time=NOW) == ["l_c"]
    assert await ids(**cats, end_time=0) == ["l_a"]  # no end time
    assert await ids(**cats, end_time=NOW + 2 * HOUR) == ["l_d", "l_b", "l_e", "l_c"]
    assert await ids(**cats, end_time=NOW - 1) == ["l_d"]
    assert await ids(**cats, start_time=NOW - 100, end_time=NOW + 2 * HOUR) == \
        ["l_b", "l_e", "l_c"]
    page1 = await listed(api, token, **cats, limit=2)
    assert [t["id"] for t in page1["tournaments"]] == ["l_b", "l_e"] and page1["cursor"]
    page2 = await listed(api, token, **cats, limit=2, cursor=page1["cursor"])
    assert [t["id"] for t in page2["tournaments"]] == ["l_a", "l_c"] and "cursor" not in page2
    # None found: an empty body, as protojson omits an empty list.
    assert await listed(api, token, category_start=110, category_end=111) == {}
    # A future tournament cannot be entered yet.
    future = (await listed(api, token, category_start=12, category_end=12))["tournaments"]
    assert {t["id"]: t.get("can_enter", False) for t in future} == \
        {"t_future": False, "t_closed": False}  # t_ended has ended


@pytest.mark.parametrize("params,message", [
    ({"category_end": "128"}, "Tournament category end must be >=0 and <128."),
    ({"category_start": "5", "category_end": "4"},
     "Tournament category end must be greater than category start."),
    ({"start_time": "100", "end_time": "50"}, "Tournament end time must be greater than start time."),
    ({"limit": "0"}, "Limit must be between 1 and 100."),
    ({"limit": "101"}, "Limit must be between 1 and 100."),
    ({"limit": "-1"}, "Limit must be between 1 and 100."),
    ({"limit": "99999999999"}, "Limit must be between 1 and 100."),
    ({"category_start": "-1"}, "Invalid category."),
    ({"start_time": "-5"}, "Invalid time."),
    ({"end_time": "99999999999999999999"}, "Invalid time."),
    ({"cursor": "%%%"}, "Cursor is invalid or expired."),
    ({"cursor": "bm90IGEgY3Vyc29y"}, "Cursor is invalid or expired."),
    ({"cursor": "a\x00b"}, None),
])
async def test_bad_list_requests_are_400(api: Api, params: dict, message: str | None):
    token, _, _ = await player(api)
    r = await api.get("/v2/tournament", token, params=params)
    if message is None:
        assert (r.status, r.json["code"]) == (400, 3), r
    else:
        assert_error(r, 400, 3, message)


async def test_nk_get_and_list(api: Api):
    out = await rpc(api, "nk_get", {"ids": ["t_fields", "nope", "plain_board", "t_fields"]})
    [t] = out["tournaments"]
    assert (t["id"], t["metadata"], t["operator"], t["join_required"], t["end_time"]) == \
        ("t_fields", {"prize": "gold"}, 3, True, ts(NOW + 2 * HOUR))
    page = await rpc(api, "nk_list", {"category_start": 100, "category_end": 103, "limit": 3})
    assert [x["id"] for x in page["tournaments"]] == ["l_b", "l_e", "l_a"] and page["cursor"]
    assert await rpc(api, "nk_list", {"category_start": 100, "category_end": 103,
                                      "limit": 3, "cursor": page["cursor"]}) == \
        {"tournaments": [(await rpc(api, "nk_get", {"ids": ["l_c"]}))["tournaments"][0]],
         "cursor": None}


# -- joins ---------------------------------------------------------------------------------------


async def test_join_is_a_no_op_when_not_required(api: Api):
    token, uid, _ = await player(api)
    assert_ok(await api.post("/v2/tournament/t_open/join", token), {})
    assert "owner_records" not in await records(api, token, "t_open", owner_ids=[uid])


async def test_join_writes_a_zero_record_once(api: Api):
    token, uid, username = await player(api)
    assert_ok(await api.post("/v2/tournament/t_join/join", token), {})
    assert_ok(await api.post("/v2/tournament/t_join/join", token), {})  # twice: nothing new
    page = await records(api, token, "t_join", owner_ids=[uid])
    [rec] = page["owner_records"]
    assert TIME.match(rec.pop("create_time")) and TIME.match(rec.pop("update_time"))
    assert rec == {"leaderboard_id": "t_join", "owner_id": uid, "username": username,
                   "metadata": "{}", "max_num_score": 3, "rank": rec["rank"]}
    assert "score" not in rec and "num_score" not in rec


async def test_join_max_size(api: Api):
    players = [await player(api) for _ in range(3)]
    for token, _, _ in players[:2]:
        assert_ok(await api.post("/v2/tournament/t_full/join", token), {})
    assert_error(await api.post("/v2/tournament/t_full/join", players[2][0]), 400, 3,
                 "Tournament cannot be joined as it has reached its max size.")
    assert_ok(await api.post("/v2/tournament/t_full/join", players[0][0]), {})  # already in
    t = next(x for x in (await listed(api, players[0][0], category_start=11,
                                      category_end=11))["tournaments"] if x["id"] == "t_full")
    assert (t["size"], t["max_size"], t.get("can_enter", False)) == (2, 2, False)
    # The refused join left no record.
    page = await records(api, players[0][0], "t_full", owner_ids=[p[1] for p in players])
    assert sorted(r["owner_id"] for r in page["owner_records"]) == \
        sorted(p[1] for p in players[:2])


async def test_join_outside_the_window(api: Api):
    token, uid, _ = await player(api)
    assert_error(await api.post("/v2/tournament/t_closed/join", token), 400, 3,
                 "Tournament is not active and cannot accept new joins.")
    assert_error(await api.post("/v2/tournament/t_ended/join", token), 400, 3,
                 "Tournament is not active and cannot accept new joins.")
    # Before the start: allowed (the record waits for the first period).
    assert_ok(await api.post("/v2/tournament/t_future/join", token), {})
    assert_error(await api.post("/v2/tournament/nope/join", token), 404, 5, "Tournament not found.")
    assert_error(await api.post("/v2/tournament/plain_board/join", token), 404, 5,
                 "Tournament not found.")
    assert await rpc(api, "nk_join", {"id": "t_closed", "owner_id": uid}) == {
        "error": "Tournament is not active and cannot accept new joins.", "code": 3}


# -- writes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_write_returns_the_record(api: Api, method: str):
    token, uid, username = await player(api)
    rec = await write(api, token, "t_open", "15", "3", method=method, metadata='{"a": 1}')
    assert TIME.match(rec.pop("create_time")) and TIME.match(rec.pop("update_time"))
    assert rec == {"leaderboard_id": "t_open", "owner_id": uid, "username": username,
                   "score": "15", "subscore": "3", "num_score": 1, "metadata": '{"a": 1}',
                   "rank": rec["rank"], "max_num_score": 1000000}
    # No schedule and no end time: the records never expire (no expiry_time).
    worse = await write(api, token, "t_open", 10, 9, method=method)
    # best, descending: score and subscore kept independently; every write counts.
    assert (worse["score"], worse["subscore"], worse["num_score"]) == ("15", "9", 2)


async def test_join_required_writes(api: Api):
    token, uid, _ = await player(api)
    for method in ("POST", "PUT"):
        r = await (api.post if method == "POST" else api.put)("/v2/tournament/t_join", token,
                                                              {"score": 1})
        assert_error(r, 400, 9, "Must join tournament before attempting to write value.")
    assert await rpc(api, "nk_write", {"id": "t_join", "owner_id": uid, "score": 1}) == {
        "error": "Must join tournament before attempting to write value.", "code": 9}
    assert_ok(await api.post("/v2/tournament/t_join/join", token), {})
    counts = [(await write(api, token, "t_join", 10 * i, method=m))["num_score"]
              for i, m in ((1, "POST"), (2, "PUT"), (3, "POST"))]
    assert counts == [1, 2, 3]
    assert_error(await api.post("/v2/tournament/t_join", token, {"score": 99}), 400, 9,
                 "Reached allowed max number of score attempts.")
    [rec] = (await records(api, token, "t_join", owner_ids=[uid]))["owner_records"]
    assert (rec["score"], rec["num_score"], rec["max_num_score"]) == ("30", 3, 3)
    # Server code may give more attempts.
    assert await rpc(api, "nk_add_attempt", {"id": "t_join", "owner_id": uid, "count": 1}) == {}
    assert (await write(api, token, "t_join", 40))["num_score"] == 4
    assert_error(await api.post("/v2/tournament/t_join", token, {"score": 99}), 400, 9,
                 "Reached allowed max number of score attempts.")


async def test_attempts_and_add_attempt(api: Api):
    token, uid, _ = await player(api)
    assert (await write(api, token, "t_attempts", 5))["num_score"] == 1
    assert (await write(api, token, "t_attempts", 7, method="PUT"))["num_score"] == 2
    for call in (api.post, api.put):
        assert_error(await call("/v2/tournament/t_attempts", token, {"score": 100}), 400, 9,
                     "Reached allowed max number of score attempts.")
    [rec] = (await records(api, token, "t_attempts", owner_ids=[uid]))["owner_records"]
    assert (rec["score"], rec["num_score"], rec["max_num_score"]) == ("7", 2, 2)
    assert await rpc(api, "nk_add_attempt",
                     {"id": "t_attempts", "owner_id": uid, "count": 2}) == {}
    r = await write(api, token, "t_attempts", 100)
    assert (r["score"], r["num_score"], r["max_num_score"]) == ("100", 3, 4)
    assert (await write(api, token, "t_attempts", 1))["num_score"] == 4
    assert_error(await api.post("/v2/tournament/t_attempts", token, {"score": 1}), 400, 9,
                 "Reached allowed max number of score attempts.")
    # Someone else still has the tournament's limit.
    other, other_id, _ = await player(api)
    await write(api, other, "t_attempts", 1)
    [o] = (await records(api, other, "t_attempts", owner_ids=[other_id]))["owner_records"]
    assert o["max_num_score"] == 2
    bad = await rpc(api, "nk_add_attempt", {"id": "t_attempts", "owner_id": uid, "count": 0})
    assert bad == {"error": "Expects an attempt count number != 0.", "code": 3}
    assert (await rpc(api, "nk_add_attempt", {"id": "nope", "owner_id": uid, "count": 1}))[
        "code"] == 5
    closed = await rpc(api, "nk_add_attempt", {"id": "t_closed", "owner_id": uid, "count": 1})
    assert closed == {"error": "Tournament outside of duration.", "code": 9}


async def test_writes_beyond_max_size(api: Api):
    players = [await player(api) for _ in range(3)]
    for token, _, _ in players[:2]:
        await write(api, token, "t_full_write", 1)
    for call in (api.post, api.put):
        assert_error(await call("/v2/tournament/t_full_write", players[2][0], {"score": 5}),
                     400, 9, "Tournament has reached max size.")
    assert (await write(api, players[0][0], "t_full_write", 3))["num_score"] == 2
    page = await records(api, players[0][0], "t_full_write", limit=10)
    assert sorted(r["owner_id"] for r in page["records"]) == sorted(p[1] for p in players[:2])
    t = next(x for x in (await listed(api, players[0][0], category_start=11,
                                      category_end=11))["tournaments"]
             if x["id"] == "t_full_write")
    assert (t["size"], t.get("can_enter", False)) == (2, False)


async def test_writes_outside_the_window(api: Api):
    token, uid, _ = await player(api)
    for tid in ("t_future", "t_closed"):
        if tid == "t_future":
            assert_ok(await api.post(f"/v2/tournament/{tid}/join", token), {})
        for call in (api.post, api.put):
            assert_error(await call(f"/v2/tournament/{tid}", token, {"score": 5}), 400, 9,
                         "Tournament is not active and cannot accept new scores.")
    assert await rpc(api, "nk_write", {"id": "t_future", "owner_id": uid, "score": 1}) == {
        "error": "Tournament is not active and cannot accept new scores.", "code": 9}


async def test_authoritative_tournaments(api: Api):
    token, uid, _ = await player(api)
    for call in (api.post, api.put):
        assert_error(await call("/v2/tournament/t_auth", token, {"score": 1}), 403, 7,
                     "Tournament only allows authoritative score submissions.")
    assert_error(await api.delete("/v2/tournament/t_auth", token), 403, 7,
                 "Tournament only allows authoritative score deletions.")
    rec = await rpc(api, "nk_write", {"id": "t_auth", "owner_id": uid, "username": "srv",
                                      "score": 42, "metadata": {"by": "server"}})
    assert (rec["score"], rec["username"], rec["metadata"], rec["rank"], rec["num_score"]) == \
        (42, "srv", {"by": "server"}, 1, 1)
    [owner] = (await records(api, token, "t_auth", owner_ids=[uid]))["owner_records"]
    assert (owner["score"], owner["username"]) == ("42", "srv")


async def test_ended_tournament(api: Api):
    token, uid, _ = await player(api)
    for call in (api.post, api.put):
        assert_error(await call("/v2/tournament/t_ended", token, {"score": 1}), 404, 5,
                     "Tournament not found or has ended.")
    assert_error(await api.get("/v2/tournament/t_ended", token), 404, 5, "Tournament has ended.")
    around = assert_ok(await api.get(f"/v2/tournament/t_ended/owner/{uid}", token))
    assert "records" not in around
    # Its last period is still readable with `expiry`.
    assert assert_ok(await api.get("/v2/tournament/t_ended", token,
                                   params={"expiry": str(NOW - HOUR)})) == {}


async def test_unknown_tournament(api: Api):
    token, uid, _ = await player(api)
    for tid in ("nope", "plain_board"):
        for reply in (await api.post(f"/v2/tournament/{tid}", token, {"score": 1}),
                      await api.put(f"/v2/tournament/{tid}", token, {"score": 1}),
                      await api.get(f"/v2/tournament/{tid}", token),
                      await api.delete(f"/v2/tournament/{tid}", token),
                      await api.post(f"/v2/tournament/{tid}/join", token),
                      await api.get(f"/v2/tournament/{tid}/owner/{uid}", token)):
            assert_error(reply, 404, 5, "Tournament not found.")


async def test_delete_own_record(api: Api):
    token, uid, _ = await player(api)
    other, other_id, _ = await player(api)
    await write(api, token, "t_open", 5)
    await write(api, other, "t_open", 6)
    assert_ok(await api.delete("/v2/tournament/t_open", token), {})
    page = await records(api, token, "t_open", owner_ids=[uid, other_id])
    assert [r["owner_id"] for r in page["owner_records"]] == [other_id]
    assert_ok(await api.delete("/v2/tournament/t_open", token), {})  # nothing left: fine
    # Writing again starts a new record.
    assert (await write(api, token, "t_open", 1))["num_score"] == 1


# -- record lists ----------------------------------------------------------------------------------


async def test_pages_with_ranks_and_around_owner(api: Api):
    players = [await player(api) for _ in range(5)]
    for i, (token, _, _) in enumerate(players):
        await write(api, token, "t_pages", 10 * (i + 1))  # 10..50: the last player ranks first
    token = players[0][0]
    page1 = await records(api, token, "t_pages", limit=2)
    assert [(r["score"], r["rank"]) for r in page1["records"]] == [("50", "1"), ("40", "2")]
    assert "prev_cursor" not in page1 and page1["rank_count"] == "5"
    page2 = await records(api, token, "t_pages", limit=2, cursor=page1["next_cursor"])
    assert [(r["score"], r["rank"]) for r in page2["records"]] == [("30", "3"), ("20", "4")]
    page3 = await records(api, token, "t_pages", limit=2, cursor=page2["next_cursor"])
    assert [(r["score"], r["rank"]) for r in page3["records"]] == [("10", "5")]
    assert "next_cursor" not in page3
    back = await records(api, token, "t_pages", limit=2, cursor=page3["prev_cursor"])
    assert [r["rank"] for r in back["records"]] == ["3", "4"]
    # Without a limit: 10 records (Nakama's tournament default), and the owners' records.
    assert len((await records(api, token, "t_pages"))["records"]) == 5
    owners = await records(api, token, "t_pages", owner_ids=[players[0][1], players[3][1]])
    assert [(r["score"], r["rank"]) for r in owners["owner_records"]] == \
        [("40", "2"), ("10", "5")]
    me = players[2]  # 30, rank 3
    around = assert_ok(await api.get(f"/v2/tournament/t_pages/owner/{me[1]}", token,
                                     params={"limit": "3"}))
    assert [(r["score"], r["rank"]) for r in around["records"]] == \
        [("40", "2"), ("30", "3"), ("20", "4")]
    assert around["rank_count"] == "5" and "owner_records" not in around
    # Without a limit: up to 100 records around the owner.
    full = assert_ok(await api.get(f"/v2/tournament/t_pages/owner/{me[1]}", token))
    assert [r["rank"] for r in full["records"]] == ["1", "2", "3", "4", "5"]
    stranger = str(uuid.uuid4())
    assert "records" not in assert_ok(
        await api.get(f"/v2/tournament/t_pages/owner/{stranger}", token))
    via_nk = await rpc(api, "nk_records", {"id": "t_pages", "limit": 2,
                                           "owner_ids": [players[4][1]]})
    assert [r["rank"] for r in via_nk["records"]] == [1, 2]
    assert [r["score"] for r in via_nk["owner_records"]] == [50]


@pytest.mark.parametrize("path,params,message", [
    ("/v2/tournament/t_pages", {"limit": "0"}, "Invalid limit - limit must be between 1 and 100."),
    ("/v2/tournament/t_pages", {"limit": "-5"},
     "Invalid limit - limit must be between 1 and 100."),
    ("/v2/tournament/t_pages", {"limit": "101"},
     "Invalid limit - limit must be between 1 and 100."),
    ("/v2/tournament/t_pages", {"limit": "9999999999"},
     "Invalid limit - limit must be between 1 and 100."),
    ("/v2/tournament/t_pages", {"cursor": "bm90IGEgY3Vyc29y"}, "Cursor is invalid or expired."),
    ("/v2/tournament/t_pages", {"cursor": "%%%"}, "Cursor is invalid or expired."),
    ("/v2/tournament/t_pages", {"owner_ids": "not-a-uuid"}, "One or more owner IDs are invalid."),
    ("/v2/tournament/t_pages", {"expiry": "-1"}, "Invalid expiry value."),
    ("/v2/tournament/t_pages/owner/not-a-uuid", {}, "Invalid owner ID provided."),
    ("/v2/tournament/t_pages/owner/" + str(uuid.UUID(int=1)), {"limit": "101"},
     "Invalid limit - limit must be between 1 and 100."),
    ("/v2/tournament/t_pages/owner/" + str(uuid.UUID(int=1)), {"limit": "-1"},
     "Invalid limit - limit must be between 1 and 100."),
])
async def test_bad_reads_are_400(api: Api, path: str, params: dict, message: str):
    token, _, _ = await player(api)
    assert_error(await api.get(path, token, params=params), 400, 3, message)


async def test_a_cursor_of_another_tournament_is_refused(api: Api):
    token, _, _ = await player(api)
    other, _, _ = await player(api)
    await write(api, token, "t_pages", 1)
    await write(api, other, "t_pages", 2)
    cursor = (await records(api, token, "t_pages", limit=1))["next_cursor"]
    assert_error(await api.get("/v2/tournament/t_open", token, params={"cursor": cursor}),
                 400, 3, "Cursor is invalid or expired.")
    tcursor = (await listed(api, token, category_start=100, category_end=103, limit=1))["cursor"]
    assert_error(await api.get("/v2/tournament/t_pages", token, params={"cursor": tcursor}),
                 400, 3, "Cursor is invalid or expired.")


@pytest.mark.parametrize("body,message", [
    ({"score": "9223372036854775808"}, None),
    ({"score": -1}, "Invalid score value, must be >= 0."),
    ({"score": 1, "subscore": -1}, "Invalid subscore value, must be >= 0."),
    ({"score": 1, "metadata": "[1]"}, "Metadata value must be JSON, if provided."),
    ({"score": 1, "metadata": '{"a": "\\u0000"}'}, None),
    ({"score": 1, "metadata": "{}\x00"}, None),
    ({"score": 1, "operator": 9}, "Invalid operator."),
    ({"score": "ten"}, None),
])
async def test_bad_writes_are_400_and_change_nothing(api: Api, body: dict, message: str | None):
    token, uid, _ = await player(api)
    r = await api.post("/v2/tournament/t_open", token, body)
    assert (r.status, r.json["code"]) == (400, 3), r
    if message:
        assert r.json["message"] == message
    assert "owner_records" not in await records(api, token, "t_open", owner_ids=[uid])


async def test_nul_in_the_path_is_400(api: Api):
    token, _, _ = await player(api)
    for reply in (await api.post("/v2/tournament/t_open%00x", token, {"score": 1}),
                  await api.get("/v2/tournament/t_open%00x", token),
                  await api.post("/v2/tournament/t_open%00x/join", token)):
        assert (reply.status, reply.json["code"]) == (400, 3), reply


async def test_increment_overflow_is_refused(api: Api):
    token, uid, _ = await player(api)
    await write(api, token, "t_incr", str(2**63 - 10))
    r = await api.post("/v2/tournament/t_incr", token, {"score": 100})
    assert (r.status, r.json["code"]) == (400, 3), r
    [owner] = (await records(api, token, "t_incr", owner_ids=[uid]))["owner_records"]
    assert owner["score"] == str(2**63 - 10) and owner["num_score"] == 1


# -- periods: end and reset callbacks ------------------------------------------------------------


async def _events(server: ServerProcess, key: str) -> dict | None:
    rows = await sql(server.db_address, "SELECT value FROM storage WHERE collection = "
                     "'tournament_events' AND key = $1", key)
    return json.loads(rows[0]["value"]) if rows else None


async def test_periods_end_and_reset_with_callbacks(api: Api, tn_server: ServerProcess):
    # Wait for the start of a period (every 4 s; active for its first 2 s), and read the
    # tournament within the period's first second: `prev_reset` is the latest reset strictly
    # before that second (Nakama's cronexpr Last), the one before the period's own start.
    # What follows must happen inside that active window; on a machine too busy for that, the
    # attempt is abandoned before asserting anything and made again, with new players, in a
    # later period.
    for _attempt in range(6):
        token, uid, _ = await player(api)
        b_token, _, _ = await player(api)
        while not 0.1 <= time.time() % 4 < 0.5:
            await asyncio.sleep(0.02)
        period = int(time.time()) // 4 * 4
        t = await one(api, token, 15)
        read_in_time = time.time() < period + 1
        wrote = await api.post("/v2/tournament/t_cron", token, {"score": 7})
        sized = await one(api, token, 15)
        # A join-required tournament with room for one: the second player must wait a period.
        joined = await api.post("/v2/tournament/t_cron_join/join", token)
        refused = await api.post("/v2/tournament/t_cron_join/join", b_token)
        written = await api.post("/v2/tournament/t_cron_join", token, {"score": 3})
        if read_in_time and time.time() < period + 1.9 and t["start_active"] == period:
            break
        await asyncio.sleep(4 - time.time() % 4)  # the next attempt starts in a period of its own
    else:
        pytest.fail("never ran a period's first steps within its 2 s active window")
    rec = assert_ok(wrote)
    assert_ok(joined, {})
    assert_error(refused, 400, 3, "Tournament cannot be joined as it has reached its max size.")
    assert assert_ok(written)["num_score"] == 1
    start = t["start_active"]
    end, reset = start + 2, start + 4
    assert (t["end_active"], t["next_reset"], t["prev_reset"], t["can_enter"]) == \
        (end, reset, start - 4, True)
    assert "size" not in t  # nobody wrote yet in this period
    assert sized["size"] == 1
    assert rec["expiry_time"] == ts(reset)
    ended = await poll(lambda: _events(tn_server, f"t_cron-end-{end}"), timeout=30)
    assert (ended["kind"], ended["end"], ended["reset"], ended["mode"]) == \
        ("end", end, reset, "tournament_end")
    te = ended["tournament"]
    assert (te["id"], te["end_active"], te["next_reset"], te["start_active"], te["size"],
            te["max_size"], te["duration"]) == ("t_cron", end, reset, start, 1, 100, 2)
    # Between end_active and the reset: no writes, the size still counts.
    if time.time() < reset - 0.3:
        assert_error(await api.post("/v2/tournament/t_cron", token, {"score": 1}), 400, 9,
                     "Tournament is not active and cannot accept new scores.")
    was_reset = await poll(lambda: _events(tn_server, f"t_cron-reset-{reset}"), timeout=30)
    assert (was_reset["kind"], was_reset["end"], was_reset["reset"], was_reset["mode"]) == \
        ("reset", end, reset, "tournament_reset")
    tr = was_reset["tournament"]
    # The period as it ended, with the size it reached (read before the size went back to 0).
    assert (tr["id"], tr["end_active"], tr["next_reset"], tr["start_active"], tr["size"]) == \
        ("t_cron", end, reset, start, 1)
    # The new period: no records, size 0 again; the old one is read with `expiry`.
    while time.time() < reset + 0.2:
        await asyncio.sleep(0.05)
    now_page = await records(api, token, "t_cron", limit=10, owner_ids=[uid])
    assert "records" not in now_page and "owner_records" not in now_page
    old = await records(api, token, "t_cron", limit=10, expiry=reset)
    assert [(r["owner_id"], r["score"]) for r in old["records"]] == [(uid, "7")]
    after = await one(api, token, 15)
    assert "size" not in after and after["start_active"] >= reset
    # The new period has room again; joins are per period.
    if time.time() % 4 < 1.5:
        assert_ok(await api.post("/v2/tournament/t_cron_join/join", b_token), {})
        assert_error(await api.post("/v2/tournament/t_cron_join", token, {"score": 1}), 400, 9,
                     "Must join tournament before attempting to write value.")
        assert (await write(api, b_token, "t_cron_join", 4))["num_score"] == 1
    # The next period fires again.
    assert await poll(lambda: _events(tn_server, f"t_cron-reset-{reset + 4}"), timeout=30)


async def test_a_tournament_without_schedule_ends_and_resets_at_its_end_time(
        api: Api, tn_server: ServerProcess):
    token, uid, _ = await player(api)
    start = int(time.time())
    spec = {"duration": 2, "start_time": start, "end_time": start + 3, "category": 17,
            "max_size": 10}
    assert await rpc(api, "nk_create", {"id": "t_short", **spec}) == {"created": True}
    rec = await write(api, token, "t_short", 9)
    assert rec["expiry_time"] == ts(start + 3)
    t = await one(api, token, 17)
    assert (t["start_active"], t["end_active"], t["next_reset"], t["size"]) == \
        (start, start + 2, start + 3, 1)
    ended = await poll(lambda: _events(tn_server, f"t_short-end-{start + 2}"), timeout=30)
    assert (ended["end"], ended["reset"], ended["tournament"]["size"]) == (start + 2, start + 3, 1)
    was_reset = await poll(lambda: _events(tn_server, f"t_short-reset-{start + 3}"), timeout=30)
    assert (was_reset["end"], was_reset["reset"], was_reset["tournament"]["size"]) == \
        (start + 2, start + 3, 1)
    # Over: writes are refused as not found, lists as ended; its records stay readable.
    assert_error(await api.post("/v2/tournament/t_short", token, {"score": 1}), 404, 5,
                 "Tournament not found or has ended.")
    assert_error(await api.get("/v2/tournament/t_short", token), 404, 5, "Tournament has ended.")
    # Listed until the second after its end time (Nakama: `end_time < now`).
    while time.time() < start + 4:
        await asyncio.sleep(0.05)
    assert await listed(api, token, category_start=17, category_end=17) == {}
    old = await records(api, token, "t_short", limit=5, expiry=start + 3)
    assert [(r["owner_id"], r["score"]) for r in old["records"]] == [(uid, "9")]
