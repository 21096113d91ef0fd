"""Wallets and the wallet ledger through `nk` (kizuna/core/wallet.py), against a real
`kizuna server` and a real PostgreSQL: server code changes wallets (module RPCs called with the
HTTP key), players see them in GET /v2/account.

One server (and one fresh database) serves the module; each test makes its own users.
"""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
import uuid
from datetime import datetime

import aiohttp
import pytest

from tests.conftest import ServerProcess, server_on_fresh_database, write_modules
from tests.integration.nakama_http import Api, Rpc, assert_ok, claims, sql

HTTP_KEY = "wallethttpkey"
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6})?Z$")
INT64_MAX = 2**63 - 1

MODULE = textwrap.dedent('''
    import asyncio


    def wallet_update(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        return nk.wallet_update(p["user_id"], p["changeset"], p.get("metadata"),
                                p.get("update_ledger", False))


    def wallets_update(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        return nk.wallets_update(p["updates"], p.get("update_ledger", False))


    async def ledger_list(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        items, cursor = await nk.aio.wallet_ledger_list(p["user_id"], p.get("limit"),
                                                        p.get("cursor"))
        return {"items": items, "cursor": cursor}


    async def ledger_update(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        return await nk.aio.wallet_ledger_update(p["item_id"], p["metadata"])


    async def plus_one_times(ctx, logger, nk, payload):
        p = nk.json_decode(payload)
        await asyncio.gather(*(nk.aio.wallet_update(p["user_id"], {"coins": 1},
                                                    {"n": i}, True)
                               for i in range(p["n"])))
        return (await nk.aio.account_get_id(p["user_id"]))["wallet"]


    def init_module(ctx, logger, nk, initializer):
        for name, fn in (("wallet_update", wallet_update), ("wallets_update", wallets_update),
                         ("ledger_list", ledger_list), ("ledger_update", ledger_update),
                         ("plus_one_times", plus_one_times)):
            initializer.register_rpc(name, fn)
''')


@pytest.fixture(scope="module")
def wallet_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wallet")
    modules = write_modules(tmp, kz_wallet_module=MODULE)
    with server_on_fresh_database(tmp, "--runtime.path", str(modules),
                                  "--runtime.http_key", HTTP_KEY) as srv:
        yield srv


@pytest.fixture
async def api(wallet_server: ServerProcess):
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(skip_auto_headers=["Accept-Encoding"],
                                     connector=connector) as http:
        yield Api(wallet_server.url, http)


async def player(api: Api) -> tuple[str, str]:
    """A new user: (token, id)."""
    s = await api.login("device", {"id": f"dev-{uuid.uuid4()}"})
    return s["token"], claims(s["token"])["uid"]


_rpc = Rpc(HTTP_KEY)
call, ok, refused = _rpc.call, _rpc.ok, _rpc.refused


async def account_wallet(api: Api, token: str) -> dict[str, int]:
    """The wallet as a player sees it: GET /v2/account's `wallet`, a JSON string."""
    account = assert_ok(await api.get("/v2/account", token))
    assert isinstance(account["wallet"], str)
    return json.loads(account["wallet"])


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def ledger_rows(srv: ServerProcess, user_id: str) -> int:
    rows = await sql(srv.db_address, "SELECT count(*) AS n FROM wallet_ledger WHERE user_id = $1",
                     user_id)
    return rows[0]["n"]


# -- wallet_update -------------------------------------------------------------------------------


async def test_wallet_update_shows_in_the_account(api: Api, wallet_server: ServerProcess):
    token, uid = await player(api)
    assert await account_wallet(api, token) == {}
    out = await ok(api, "wallet_update", {"user_id": uid, "changeset": {"coins": 100, "gems": 5}})
    assert out == {"updated": {"coins": 100, "gems": 5}, "previous": {}}
    out = await ok(api, "wallet_update", {"user_id": uid, "changeset": {"coins": -30, "xp": 0},
                                          "metadata": {"reason": "shop"}, "update_ledger": True})
    assert out == {"updated": {"coins": 70, "gems": 5, "xp": 0},
                   "previous": {"coins": 100, "gems": 5}}
    assert await account_wallet(api, token) == {"coins": 70, "gems": 5, "xp": 0}
    # Only the update made with update_ledger is in the ledger.
    assert await ledger_rows(wallet_server, uid) == 1


async def test_a_negative_balance_is_refused_and_nothing_changes(api: Api,
                                                                 wallet_server: ServerProcess):
    token, uid = await player(api)
    await ok(api, "wallet_update", {"user_id": uid, "changeset": {"coins": 10, "gems": 1}})
    await refused(api, "wallet_update",
                  {"user_id": uid, "changeset": {"gems": 5, "coins": -11}, "update_ledger": True},
                  400, 9, "wallet update rejected negative value at path 'coins'")
    # A new key cannot start below zero either.
    await refused(api, "wallet_update", {"user_id": uid, "changeset": {"tickets": -1}},
                  400, 9, "wallet update rejected negative value at path 'tickets'")
    assert await account_wallet(api, token) == {"coins": 10, "gems": 1}
    assert await ledger_rows(wallet_server, uid) == 0
    # Down to exactly zero is fine.
    out = await ok(api, "wallet_update", {"user_id": uid, "changeset": {"coins": -10}})
    assert out["updated"] == {"coins": 0, "gems": 1}


async def test_bad_arguments_and_unknown_users(api: Api):
    token, uid = await player(api)
    await ok(api, "wallet_update", {"user_id": uid, "changeset": {"coins": INT64_MAX}})
    await refused(api, "wallet_update", {"user_id": uid, "changeset": {"coins": 1}},
                  400, 9, "wallet update rejected value out of the int64 range at path 'coins'")
    await refused(api, "wallet_update", {"user_id": uid, "changeset": {"coins": 2**63}},
                  400, 3, "Wallet changeset value at path 'coins' is out of the int64 range.")
    await refused(api, "wallet_update", {"user_id": uid, "changeset": {"coins": 1.5}},
                  400, 3, "Wallet changeset value at path 'coins' must be an integer.")
    await refused(api, "wallet_update", {"user_id": uid, "changeset": {"coins": "1"}},
                  400, 3, "Wallet changeset value at path 'coins' must be an integer.")
    await refused(api, "wallet_update", {"user_id": uid, "changeset": [1]},
                  400, 3, "changeset: expected a dict of integers.")
    await refused(api, "wallet_update", {"user_id": uid, "changeset": {"a": 1}, "metadata": [1]},
                  400, 3, "metadata: expected a dict or JSON text.")
    await refused(api, "wallet_update", {"user_id": uid, "changeset": {"a": 1}, "metadata": "[1]"},
                  400, 3, "Metadata must be a valid JSON object.")
    await refused(api, "wallet_update", {"user_id": "nope", "changeset": {"a": 1}},
                  400, 3, "Invalid user ID 'nope': expected a UUID.")
    await refused(api, "wallet_update", {"user_id": str(uuid.uuid4()), "changeset": {"a": 1}},
                  404, 5, "User account not found.")
    assert await account_wallet(api, token) == {"coins": INT64_MAX}


# -- wallets_update ------------------------------------------------------------------------------


async def test_wallets_update_is_all_or_nothing(api: Api, wallet_server: ServerProcess):
    (ta, a), (tb, b) = await player(api), await player(api)
    await ok(api, "wallet_update", {"user_id": a, "changeset": {"coins": 5}})
    await refused(api, "wallets_update", {"updates": [
        {"user_id": a, "changeset": {"coins": 10}, "metadata": {"m": 1}},
        {"user_id": b, "changeset": {"coins": -1}},  # b has nothing: refused, so a's is undone
    ], "update_ledger": True}, 400, 9, "wallet update rejected negative value at path 'coins'")
    assert await account_wallet(api, ta) == {"coins": 5}
    assert await account_wallet(api, tb) == {}
    assert await ledger_rows(wallet_server, a) == 0

    # Applied in turn (a twice: the second sees the first), a user that does not exist left out.
    out = await ok(api, "wallets_update", {"updates": [
        {"user_id": b, "changeset": {"coins": 3}},
        {"user_id": a, "changeset": {"coins": -5}, "metadata": {"why": "transfer"}},
        {"user_id": str(uuid.uuid4()), "changeset": {"coins": 1}},
        {"user_id": a, "changeset": {"gems": 2}},
    ], "update_ledger": True})
    assert out == [
        {"user_id": b, "updated": {"coins": 3}, "previous": {}},
        {"user_id": a, "updated": {"coins": 0}, "previous": {"coins": 5}},
        {"user_id": a, "updated": {"coins": 0, "gems": 2}, "previous": {"coins": 0}},
    ]
    assert await account_wallet(api, ta) == {"coins": 0, "gems": 2}
    assert await account_wallet(api, tb) == {"coins": 3}
    assert (await ledger_rows(wallet_server, a), await ledger_rows(wallet_server, b)) == (2, 1)
    await refused(api, "wallets_update", {"updates": [{"user_id": a, "changeset": {"x": "1"}}]},
                  400, 3, "Wallet changeset value at path 'x' must be an integer.")
    await refused(api, "wallets_update", {"updates": [{"user_id": a}]},
                  400, 3, "updates[0].changeset: expected a dict of integers.")
    assert await ok(api, "wallets_update", {"updates": []}) == []


async def test_crossing_batches_do_not_deadlock(api: Api):
    """Batches naming the same users in opposite orders, at once: rows are locked in id order."""
    (ta, a), (tb, b) = await player(api), await player(api)
    batches = [{"updates": [{"user_id": x, "changeset": {"coins": 1}},
                            {"user_id": y, "changeset": {"coins": 1}}]}
               for x, y in [(a, b), (b, a)] * 10]
    await asyncio.gather(*(ok(api, "wallets_update", p) for p in batches))
    assert await account_wallet(api, ta) == await account_wallet(api, tb) == {"coins": 20}


# -- the ledger ----------------------------------------------------------------------------------


async def test_ledger_pages_newest_first_and_updates(api: Api):
    (_, uid), (_, other) = await player(api), await player(api)
    for i in range(5):
        await ok(api, "wallet_update", {"user_id": uid, "changeset": {"coins": i + 1},
                                        "metadata": {"n": i}, "update_ledger": True})
    await ok(api, "wallet_update", {"user_id": other, "changeset": {"coins": 1},
                                    "update_ledger": True})
    seen = []
    cursor = None
    pages = []
    while True:
        page = await ok(api, "ledger_list", {"user_id": uid, "limit": 2, "cursor": cursor})
        pages.append(len(page["items"]))
        seen += page["items"]
        cursor = page["cursor"]
        if cursor is None:
            break
    assert pages == [2, 2, 1]
    assert [item["metadata"] for item in seen] == [{"n": 4}, {"n": 3}, {"n": 2}, {"n": 1}, {"n": 0}]
    assert [item["changeset"] for item in seen] == [{"coins": 5}, {"coins": 4}, {"coins": 3},
                                                    {"coins": 2}, {"coins": 1}]
    item = seen[0]
    assert set(item) == {"id", "user_id", "changeset", "metadata", "create_time", "update_time"}
    assert item["user_id"] == uid and TIME.match(item["create_time"]) and len({
        i["id"] for i in seen}) == 5
    whole = await ok(api, "ledger_list", {"user_id": uid})
    assert [i["id"] for i in whole["items"]] == [i["id"] for i in seen] and whole["cursor"] is None

    # A cursor is the user's own; anything else is refused.
    first = await ok(api, "ledger_list", {"user_id": uid, "limit": 1})
    await refused(api, "ledger_list", {"user_id": other, "cursor": first["cursor"]},
                  400, 3, "wallet ledger cursor invalid")
    await refused(api, "ledger_list", {"user_id": uid, "cursor": "not-a-cursor"},
                  400, 3, "wallet ledger cursor invalid")
    await refused(api, "ledger_list", {"user_id": uid, "limit": 101},
                  400, 3, "Invalid limit - limit must be between 1 and 100.")
    assert await ok(api, "ledger_list", {"user_id": str(uuid.uuid4())}) == {
        "items": [], "cursor": None}

    # Updating merges into the item's metadata (Nakama's `metadata || new`) and bumps update_time.
    updated = await ok(api, "ledger_update", {"item_id": item["id"],
                                              "metadata": {"note": "refund", "n": 40}})
    assert updated == {**item, "metadata": {"n": 40, "note": "refund"},
                       "update_time": updated["update_time"]}
    assert when(updated["update_time"]) > when(item["update_time"])
    again = await ok(api, "ledger_list", {"user_id": uid, "limit": 1})
    assert again["items"] == [updated]
    await refused(api, "ledger_update", {"item_id": str(uuid.uuid4()), "metadata": {}},
                  404, 5, "Wallet ledger item not found.")
    await refused(api, "ledger_update", {"item_id": "x", "metadata": {}},
                  400, 3, "Invalid wallet ledger item ID 'x'.")


# -- concurrency ---------------------------------------------------------------------------------


async def test_100_concurrent_increments_over_http_all_count(api: Api,
                                                             wallet_server: ServerProcess):
    """100 RPCs at once, each +1 (plain functions: worker threads, each its own transaction)."""
    token, uid = await player(api)
    results = await asyncio.gather(*(
        call(api, "wallet_update", {"user_id": uid, "changeset": {"coins": 1},
                                    "update_ledger": True}) for _ in range(100)))
    assert all(status == 200 for status, _ in results), results
    assert await account_wallet(api, token) == {"coins": 100}
    # Each update saw its own predecessor: the previous balances are 0..99, once each.
    assert sorted(out["previous"].get("coins", 0) for _, out in results) == list(range(100))
    assert await ledger_rows(wallet_server, uid) == 100


async def test_100_concurrent_increments_with_nk_aio_all_count(api: Api):
    """asyncio.gather of 100 `nk.aio.wallet_update` calls inside one coroutine RPC."""
    token, uid = await player(api)
    assert await ok(api, "plus_one_times", {"user_id": uid, "n": 100}) == {"coins": 100}
    assert await account_wallet(api, token) == {"coins": 100}
    page = await ok(api, "ledger_list", {"user_id": uid, "limit": 100})
    assert len(page["items"]) == 100 and page["cursor"] is None
    assert sorted(i["metadata"]["n"] for i in page["items"]) == list(range(100))
