"""Optimistic concurrency under real contention: many clients, each on its own HTTP connection,
racing on one storage object of one user through a real `kizuna server` and PostgreSQL.

Nakama's rule: of N writers sending the same expected version (or "*" for create-only) at once,
exactly one wins; every other one gets 400 "Storage write rejected - version check failed.", and
the stored object is the winner's.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections import Counter

import aiohttp
import pytest

from tests.integration.nakama_http import Api, Reply, assert_ok, claims

N = 50
REJECTED_VERSION = {"code": 3, "message": "Storage write rejected - version check failed."}
REJECTED_DELETE = {"code": 3, "message":
                   "Storage delete rejected - not found, version check failed, or permission denied."}


@pytest.fixture(scope="module")
def race_server(tmp_path_factory):
    """One server for the module; fewer database connections than clients, so requests also
    queue for the pool while they race for the row."""
    from tests.conftest import server_on_fresh_database

    with server_on_fresh_database(tmp_path_factory.mktemp("race"),
                                  "--database.max_open_conns", "20") as srv:
        yield srv


@pytest.fixture
async def clients(race_server):
    """N independent clients: one session (so one connection) each, all opened up front."""
    sessions = [aiohttp.ClientSession(skip_auto_headers=["Accept-Encoding"]) for _ in range(N + 1)]
    try:
        yield [Api(race_server.url, s) for s in sessions]
    finally:
        await asyncio.gather(*(s.close() for s in sessions))


async def owner(api: Api) -> tuple[str, str]:
    s = await api.login("device", {"id": f"device-{uuid.uuid4().hex}"})
    return s["token"], claims(s["token"])["uid"]


def value_of(i: int) -> str:
    return json.dumps({"writer": i}, separators=(",", ":"))


async def race(clients: list[Api], token: str, collection: str, key: str, version: str) -> list[Reply]:
    async def one(i: int, api: Api) -> Reply:
        body = {"objects": [{"collection": collection, "key": key, "value": value_of(i), "version": version}]}
        return await api.put("/v2/storage", token, body)

    # Warm every connection first, so the writes themselves start together.
    await asyncio.gather(*(api.call("GET", "/healthcheck") for api in clients))
    return await asyncio.gather(*(one(i, api) for i, api in enumerate(clients)))


def winner_of(replies: list[Reply], user_id: str, collection: str, key: str) -> int:
    assert Counter(r.status for r in replies) == {200: 1, 400: N - 1}, [r for r in replies if r.status != 400]
    assert all(r.json == REJECTED_VERSION for r in replies if r.status == 400)
    (i, ok), = [(i, r) for i, r in enumerate(replies) if r.status == 200]
    (ack,) = ok.json["acks"]
    assert {k: ack[k] for k in ("collection", "key", "version", "user_id")} == {
        "collection": collection, "key": key, "version": hashlib.md5(value_of(i).encode()).hexdigest(),
        "user_id": user_id}
    return i


async def stored(api: Api, token: str, collection: str, key: str, user_id: str) -> dict:
    doc = assert_ok(await api.post("/v2/storage", token,
                                   {"object_ids": [{"collection": collection, "key": key, "user_id": user_id}]}))
    (obj,) = doc["objects"]
    return obj


async def test_concurrent_if_match_writes_have_one_winner(clients: list[Api]):
    setup, racers = clients[0], clients[1:]
    token, uid = await owner(setup)
    coll = f"race{uuid.uuid4().hex[:8]}"
    first = assert_ok(await setup.put("/v2/storage", token, {"objects": [
        {"collection": coll, "key": "k", "value": '{"writer":"initial"}'}]}))["acks"][0]

    replies = await race(racers, token, coll, "k", first["version"])
    i = winner_of(replies, uid, coll, "k")
    obj = await stored(setup, token, coll, "k", uid)
    assert obj["value"] == json.dumps({"writer": i})  # jsonb text: '{"writer": 7}'
    assert obj["version"] == replies[i].json["acks"][0]["version"]

    # The losers' version is stale for good: retrying it still fails, the winner's works.
    r = await setup.put("/v2/storage", token, {"objects": [
        {"collection": coll, "key": "k", "value": "{}", "version": first["version"]}]})
    assert (r.status, r.json) == (400, REJECTED_VERSION)
    assert_ok(await setup.put("/v2/storage", token, {"objects": [
        {"collection": coll, "key": "k", "value": "{}", "version": obj["version"]}]}))


async def test_concurrent_creates_have_one_winner(clients: list[Api]):
    setup, racers = clients[0], clients[1:]
    token, uid = await owner(setup)
    coll = f"race{uuid.uuid4().hex[:8]}"

    replies = await race(racers, token, coll, "new", "*")
    i = winner_of(replies, uid, coll, "new")
    obj = await stored(setup, token, coll, "new", uid)
    assert obj["value"] == json.dumps({"writer": i})
    assert obj["version"] == replies[i].json["acks"][0]["version"]


async def test_concurrent_unconditional_writes_all_succeed(clients: list[Api]):
    # Version "" is last-write-wins: racing creates of a new key all succeed (no 500 from the
    # unique key), and the object holds one of the values with that value's version.
    setup, racers = clients[0], clients[1:]
    token, uid = await owner(setup)
    coll = f"race{uuid.uuid4().hex[:8]}"

    replies = await race(racers, token, coll, "lww", "")
    assert [r.status for r in replies] == [200] * N, [r for r in replies if r.status != 200]
    obj = await stored(setup, token, coll, "lww", uid)
    i = json.loads(obj["value"])["writer"]
    assert obj["version"] == hashlib.md5(value_of(i).encode()).hexdigest()


async def test_concurrent_deletes_with_a_version_have_one_winner(clients: list[Api]):
    setup, racers = clients[0], clients[1:]
    token, uid = await owner(setup)
    coll = f"race{uuid.uuid4().hex[:8]}"
    ack = assert_ok(await setup.put("/v2/storage", token, {"objects": [
        {"collection": coll, "key": "d", "value": "{}"}]}))["acks"][0]

    body = {"object_ids": [{"collection": coll, "key": "d", "version": ack["version"]}]}
    await asyncio.gather(*(api.call("GET", "/healthcheck") for api in racers))
    replies = await asyncio.gather(*(api.put("/v2/storage/delete", token, body) for api in racers))
    assert Counter(r.status for r in replies) == {200: 1, 400: N - 1}
    assert all(r.json == ({} if r.status == 200 else REJECTED_DELETE) for r in replies)
    assert_ok(await setup.post("/v2/storage", token,
                               {"object_ids": [{"collection": coll, "key": "d", "user_id": uid}]}), {})
