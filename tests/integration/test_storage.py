"""Storage over HTTP (`/v2/storage`), against a real `kizuna server` and a real PostgreSQL.

Every assertion is about what a Nakama client sees: status codes and exact JSON bodies
(docs/nakama-contract.md §3 and §11, and the researched Nakama behaviour: write acks, version
checks, permissions, listing order and cursors, atomic batches). The database is touched only to
do what no client can: insert objects owned by the system user, and read exact timestamps.

One server (and one fresh database) serves the whole module, to keep the run fast; each test
isolates itself with new users and its own collection names.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from tests.conftest import ServerProcess, server_on_fresh_database
from tests.integration.nakama_http import (
    Api,
    Reply,
    assert_error,
    assert_ok,
    basic,
    bearer,
    claims,
    sql,
)

SYSTEM = "00000000-0000-0000-0000-000000000000"
REJECTED_VERSION = "Storage write rejected - version check failed."
REJECTED_PERMISSION = "Storage write rejected - permission denied."
REJECTED_DELETE = "Storage delete rejected - not found, version check failed, or permission denied."
INVALID_NAMES = "Invalid collection or key value supplied. They must be set."
INVALID_USER = "Invalid user ID - make sure user ID is a valid UUID."
INVALID_LIMIT = "Invalid limit - limit must be between 1 and 100."
NOT_AN_OBJECT = "Value must be a JSON object."
BAD_READ = "Invalid Read permission supplied. It must be either 0, 1 or 2."
BAD_WRITE = "Invalid Write permission supplied. It must be either 0 or 1."
MALFORMED_CURSOR = "Malformed cursor was used."

ACK_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6})?Z$")
READ_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def storage_server(tmp_path_factory):
    with server_on_fresh_database(tmp_path_factory.mktemp("storage")) as srv:
        yield srv


@pytest.fixture
async def api(storage_server: ServerProcess):
    async with aiohttp.ClientSession(skip_auto_headers=["Accept-Encoding"]) as http:
        yield Api(storage_server.url, http)


@pytest.fixture
def db(storage_server: ServerProcess) -> str:
    return storage_server.db_address


@pytest.fixture
def coll() -> str:
    """A collection name no other test uses (the module shares one database)."""
    return f"c{uuid.uuid4().hex[:12]}"


# -- helpers -------------------------------------------------------------------------------------


@dataclass
class User:
    token: str
    uid: str


async def new_user(api: Api) -> User:
    s = await api.login("device", {"id": f"device-{uuid.uuid4().hex}"})
    return User(s["token"], claims(s["token"])["uid"])


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def compact(doc: dict) -> str:
    return json.dumps(doc, separators=(",", ":"))


def canon(doc: Any) -> str:
    """PostgreSQL's jsonb text for ASCII documents: keys by length then bytes, ", " and ": "."""
    if isinstance(doc, dict):
        keys = sorted(doc, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(f"{json.dumps(k)}: {canon(doc[k])}" for k in keys) + "}"
    if isinstance(doc, list):
        return "[" + ", ".join(canon(v) for v in doc) + "]"
    return json.dumps(doc)


def obj(collection: str, key: str, value: Any = None, **extra: Any) -> dict:
    """A write object; `value` may be a dict (sent compact) or the exact text to send."""
    value = {"k": key} if value is None else value
    return {"collection": collection, "key": key,
            "value": value if isinstance(value, str) else compact(value), **extra}


async def write(api: Api, user: User, *objects: dict) -> Reply:
    return await api.put("/v2/storage", user.token, {"objects": list(objects)})


async def write_ok(api: Api, user: User, *objects: dict) -> list[dict]:
    acks = assert_ok(await write(api, user, *objects))["acks"]
    assert len(acks) == len(objects)
    return acks


async def read(api: Api, user: User, *ids: dict) -> Reply:
    return await api.post("/v2/storage", user.token, {"object_ids": list(ids)})


async def read_objects(api: Api, user: User, *ids: dict) -> list[dict]:
    """The objects read, sorted by (collection, key, user_id): Nakama promises no order."""
    doc = assert_ok(await read(api, user, *ids))
    assert set(doc) <= {"objects"}
    return sorted(doc.get("objects", []), key=lambda o: (o["collection"], o["key"], o["user_id"]))


async def list_(api: Api, user: User, collection: str, *, path_user: str | None = None,
                **params: Any) -> Reply:
    path = f"/v2/storage/{collection}" + (f"/{path_user}" if path_user else "")
    return await api.get(path, user.token, params={k: str(v) for k, v in params.items()})


async def delete(api: Api, user: User, *ids: dict) -> Reply:
    return await api.put("/v2/storage/delete", user.token, {"object_ids": list(ids)})


def rid(collection: str, key: str, user_id: str | None = None) -> dict:
    return {"collection": collection, "key": key, **({"user_id": user_id} if user_id else {})}


def secs(ack_time: str) -> str:
    """A write ack's time as reads show it: truncated to whole seconds."""
    return ack_time[:19] + "Z"


def expected(collection: str, key: str, owner: str, value: Any, ack: dict | None = None, *,
             version: str | None = None, read_perm: int = 1, write_perm: int = 1,
             sent: str | None = None) -> dict:
    """The exact StorageObject JSON a read or list returns (0 permissions are left out)."""
    sent = sent if sent is not None else (value if isinstance(value, str) else compact(value))
    doc: dict[str, Any] = {
        "collection": collection, "key": key, "user_id": owner,
        "value": canon(value) if not isinstance(value, str) else canon(json.loads(value)),
        "version": version or md5(sent),
    }
    if read_perm:
        doc["permission_read"] = read_perm
    if write_perm:
        doc["permission_write"] = write_perm
    if ack is not None:
        doc["create_time"] = secs(ack["create_time"])
        doc["update_time"] = secs(ack["update_time"])
    return doc


def without_times(objects: list[dict]) -> list[dict]:
    for o in objects:
        assert READ_TIME.match(o.pop("create_time")), o
        assert READ_TIME.match(o.pop("update_time")), o
    return objects


def when(stamp: str) -> datetime:
    """An RFC 3339 time as a datetime (the text's fraction length varies, so don't compare text)."""
    return datetime.fromisoformat(stamp)


def protojson_time(t: datetime) -> str:
    """google.protobuf.Timestamp as protojson writes it: 0, 3, 6 or 9 fractional digits."""
    x = t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000"
    for suffix in ("000", "000", ".000"):
        x = x.removesuffix(suffix)
    return x + "Z"


# -- write ---------------------------------------------------------------------------------------


async def test_write_acks_come_in_request_order_with_md5_versions(api: Api, db: str, coll: str):
    u = await new_user(api)
    objects = [obj(coll, "c", '{"z": 1, "a":  2}'), obj(coll, "a", {"n": 1}), obj(coll, "b", {"n": 2})]
    acks = await write_ok(api, u, *objects)

    assert [a["key"] for a in acks] == ["c", "a", "b"]
    rows = {r["key"]: r for r in await sql(
        db, "SELECT key, create_time, update_time FROM storage WHERE collection = $1", coll)}
    stamp = acks[0]["create_time"]
    assert ACK_TIME.match(stamp), stamp
    for sent, ack in zip(objects, acks, strict=True):
        # Exactly these fields; the version hashes the value text exactly as sent.
        assert ack == {"collection": coll, "key": sent["key"], "version": md5(sent["value"]),
                       "user_id": u.uid, "create_time": stamp, "update_time": stamp}
        # One transaction, one timestamp, written with microseconds (protojson-trimmed).
        assert protojson_time(rows[sent["key"]]["create_time"]) == stamp
        assert protojson_time(rows[sent["key"]]["update_time"]) == stamp

    # Permissions default to owner read, owner write.
    got = await read_objects(api, u, *(rid(coll, k, u.uid) for k in "abc"))
    assert got == [expected(coll, "a", u.uid, {"n": 1}, acks[1]),
                   expected(coll, "b", u.uid, {"n": 2}, acks[2]),
                   expected(coll, "c", u.uid, '{"z": 1, "a":  2}', acks[0])]


async def test_contract_example_write_then_read(api: Api, coll: str):
    u = await new_user(api)
    acks = await write_ok(api, u,
                          obj(coll, "slot1", '{"level":3,"hp":42}', permission_read=1, permission_write=1),
                          obj(coll, "slot2", '{"a":[1,2]}'))
    assert [a["version"] for a in acks] == ["c479896a9631833e16c09d6dcfc002b1",
                                            "ca16230f6b96fc0b51c574066abedaed"]

    r = await read(api, u, rid(coll, "slot1", u.uid), rid(coll, "slot2", u.uid), rid(coll, "missing", u.uid))
    doc = assert_ok(r)
    assert sorted(doc["objects"], key=lambda o: o["key"]) == [
        {"collection": coll, "key": "slot1", "user_id": u.uid, "value": '{"hp": 42, "level": 3}',
         "version": "c479896a9631833e16c09d6dcfc002b1", "permission_read": 1, "permission_write": 1,
         "create_time": secs(acks[0]["create_time"]), "update_time": secs(acks[0]["update_time"])},
        {"collection": coll, "key": "slot2", "user_id": u.uid, "value": '{"a": [1, 2]}',
         "version": "ca16230f6b96fc0b51c574066abedaed", "permission_read": 1, "permission_write": 1,
         "create_time": secs(acks[1]["create_time"]), "update_time": secs(acks[1]["update_time"])},
    ]
    # jsonb canonical text: duplicate keys collapse to the last, whitespace is normalised.
    ack = (await write_ok(api, u, obj(coll, "dup", '{"b":1, "a" : {"y":2,"x":[true,null]}, "b":3}')))[0]
    got = await read_objects(api, u, rid(coll, "dup", u.uid))
    assert got[0]["value"] == '{"a": {"x": [true, null], "y": 2}, "b": 3}'
    assert got[0]["version"] == ack["version"] == md5('{"b":1, "a" : {"y":2,"x":[true,null]}, "b":3}')


async def test_version_semantics(api: Api, coll: str):
    u = await new_user(api)
    k = rid(coll, "k", u.uid)

    # "" creates, then overwrites: create_time stays, update_time moves, version follows the value.
    a1 = (await write_ok(api, u, obj(coll, "k", {"v": 1}, version="")))[0]
    a2 = (await write_ok(api, u, obj(coll, "k", {"v": 2})))[0]
    assert a2["version"] == md5(compact({"v": 2})) != a1["version"]
    assert a2["create_time"] == a1["create_time"] and when(a2["update_time"]) > when(a1["update_time"])

    # "*" only creates.
    assert_error(await write(api, u, obj(coll, "k", {"v": 3}, version="*")), 400, 3, REJECTED_VERSION)
    a_new = (await write_ok(api, u, obj(coll, "fresh", {"v": 1}, version="*")))[0]
    assert a_new["version"] == md5(compact({"v": 1}))
    assert_error(await write(api, u, obj(coll, "fresh", {"v": 1}, version="*")), 400, 3, REJECTED_VERSION)

    # A matching version is an if-match update; a wrong one, or any version for a missing
    # object, is the same version error.
    a3 = (await write_ok(api, u, obj(coll, "k", {"v": 3}, version=a2["version"])))[0]
    assert a3["version"] == md5(compact({"v": 3}))
    assert_error(await write(api, u, obj(coll, "k", {"v": 4}, version=a2["version"])), 400, 3, REJECTED_VERSION)
    assert_error(await write(api, u, obj(coll, "k", {"v": 4}, version="0" * 32)), 400, 3, REJECTED_VERSION)
    assert_error(await write(api, u, obj(coll, "nope", {"v": 1}, version=md5(compact({"v": 1})))),
                 400, 3, REJECTED_VERSION)

    # The failures changed nothing.
    assert await read_objects(api, u, k, rid(coll, "nope", u.uid)) == [
        expected(coll, "k", u.uid, {"v": 3}, a3)]


async def test_rewriting_the_same_object_is_a_no_op(api: Api, coll: str):
    # Nakama skips the UPDATE when version, read and write are all unchanged: the ack then shows
    # the stored times, so update_time does not move.
    u = await new_user(api)
    first = (await write_ok(api, u, obj(coll, "k", {"v": 1}, permission_read=2)))[0]
    again = (await write_ok(api, u, obj(coll, "k", {"v": 1}, permission_read=2)))[0]
    assert again == first
    # A changed permission is a real update.
    changed = (await write_ok(api, u, obj(coll, "k", {"v": 1}, permission_read=1)))[0]
    assert when(changed["update_time"]) > when(first["update_time"])
    assert changed["create_time"] == first["create_time"]


async def test_write_zero_object_is_locked_for_its_owner(api: Api, coll: str):
    u = await new_user(api)
    ack = (await write_ok(api, u, obj(coll, "locked", {"v": 1}, permission_write=0)))[0]
    version = ack["version"]
    assert_error(await write(api, u, obj(coll, "locked", {"v": 2})), 400, 3, REJECTED_PERMISSION)
    # The permission check comes before the version check, whether the version matches or not.
    assert_error(await write(api, u, obj(coll, "locked", {"v": 2}, version=version)), 400, 3, REJECTED_PERMISSION)
    assert_error(await write(api, u, obj(coll, "locked", {"v": 2}, version="f" * 32)), 400, 3, REJECTED_PERMISSION)
    # Rewriting it identically is refused as well.
    assert_error(await write(api, u, obj(coll, "locked", {"v": 1}, permission_write=0)), 400, 3,
                 REJECTED_PERMISSION)
    # "*" on an existing object is a version error, whatever its permissions.
    assert_error(await write(api, u, obj(coll, "locked", {"v": 2}, version="*")), 400, 3, REJECTED_VERSION)
    assert_error(await delete(api, u, {"collection": coll, "key": "locked"}), 400, 3, REJECTED_DELETE)
    # Still there, unchanged; permission_write 0 is left out of the JSON.
    assert await read_objects(api, u, rid(coll, "locked", u.uid)) == [
        expected(coll, "locked", u.uid, {"v": 1}, ack, write_perm=0)]


async def test_value_must_be_a_json_object(api: Api, coll: str):
    u = await new_user(api)
    for value in ("[1,2]", "notjson", "null", "42", '"text"', "true", '{"a":1', "{} {}"):
        assert_error(await write(api, u, obj(coll, "k", value)), 400, 3, NOT_AN_OBJECT)
    # An empty value is caught by the "must be set" check, as in Nakama.
    assert_error(await write(api, u, obj(coll, "k", "")), 400, 3, INVALID_NAMES)
    assert_error(await write(api, u, {"collection": coll, "key": "k"}), 400, 3, INVALID_NAMES)
    # Surrounding whitespace is fine, and the version hashes it too.
    ack = (await write_ok(api, u, obj(coll, "ws", ' \n{"a":1}\t')))[0]
    assert ack["version"] == md5(' \n{"a":1}\t')
    assert (await read_objects(api, u, rid(coll, "ws", u.uid)))[0]["value"] == '{"a": 1}'
    assert await read_objects(api, u, rid(coll, "k", u.uid)) == []


async def test_permission_values_are_checked(api: Api, coll: str):
    u = await new_user(api)
    for read_perm in (5, 3, -1):
        assert_error(await write(api, u, obj(coll, "k", permission_read=read_perm)), 400, 3, BAD_READ)
    for write_perm in (2, -1):
        assert_error(await write(api, u, obj(coll, "k", permission_write=write_perm)), 400, 3, BAD_WRITE)
    # Read is checked before write, and both before the value.
    assert_error(await write(api, u, obj(coll, "k", "[1]", permission_read=9, permission_write=9)),
                 400, 3, BAD_READ)
    assert_error(await write(api, u, obj(coll, "k", "[1]", permission_write=9)), 400, 3, BAD_WRITE)
    # Every valid pair is accepted; zero permissions are left out of reads, as protojson does.
    acks = await write_ok(api, u, *(obj(coll, f"p{r}{w}", permission_read=r, permission_write=w)
                                    for r in (0, 1, 2) for w in (0, 1)))
    got = await read_objects(api, u, *(rid(coll, a["key"], u.uid) for a in acks))
    assert without_times(got) == [expected(coll, f"p{r}{w}", u.uid, {"k": f"p{r}{w}"}, read_perm=r, write_perm=w)
                                  for r in (1, 2) for w in (0, 1)]
    assert "permission_write" not in got[0] and got[0]["permission_read"] == 1


async def test_collection_and_key_must_be_set_and_fit(api: Api, coll: str):
    u = await new_user(api)
    assert_error(await write(api, u, obj("", "k")), 400, 3, INVALID_NAMES)
    assert_error(await write(api, u, obj(coll, "")), 400, 3, INVALID_NAMES)
    assert_error(await write(api, u, {"key": "k", "value": "{}"}), 400, 3, INVALID_NAMES)
    # Longer than the VARCHAR(128) columns: a client error, not a database failure.
    long_coll = await write(api, u, obj("c" * 129, "k"))
    assert long_coll.status == 400 and long_coll.json == {
        "code": 3, "message": "Invalid collection value supplied. It must be at most 128 characters."}, long_coll
    long_key = await write(api, u, obj(coll, "k" * 129))
    assert long_key.status == 400 and long_key.json == {
        "code": 3, "message": "Invalid key value supplied. It must be at most 128 characters."}, long_key
    # 128 characters fit (multi-byte characters count as one).
    acks = await write_ok(api, u, obj(coll, "k" * 128), obj(coll, "é" * 128, {"x": 1}))
    assert [a["key"] for a in acks] == ["k" * 128, "é" * 128]
    # Reading or deleting a too-long name simply finds nothing, as in Nakama.
    assert_ok(await read(api, u, rid(coll, "k" * 129, u.uid)), {})
    assert_error(await delete(api, u, {"collection": coll, "key": "k" * 129}), 400, 3, REJECTED_DELETE)


async def test_first_invalid_object_wins_and_nothing_is_written(api: Api, coll: str):
    u = await new_user(api)
    r = await write(api, u, obj(coll, "ok"), obj(coll, "k", permission_read=7), obj(coll, "v", "[]"))
    assert_error(r, 400, 3, BAD_READ)
    r = await write(api, u, obj(coll, "ok"), obj(coll, "v", "[]"), obj(coll, "k", permission_read=7))
    assert_error(r, 400, 3, NOT_AN_OBJECT)
    assert await read_objects(api, u, rid(coll, "ok", u.uid)) == []


async def test_a_batch_is_atomic(api: Api, coll: str):
    u = await new_user(api)
    base = (await write_ok(api, u, obj(coll, "m", {"v": 1})))[0]
    r = await write(api, u, obj(coll, "a", {"new": 1}), obj(coll, "m", {"v": 2}, version="0" * 32),
                    obj(coll, "z", {"new": 2}))
    assert_error(r, 400, 3, REJECTED_VERSION)
    # Nothing of the batch was written, including objects sorted before the failing one.
    got = await read_objects(api, u, rid(coll, "a", u.uid), rid(coll, "m", u.uid), rid(coll, "z", u.uid))
    assert got == [expected(coll, "m", u.uid, {"v": 1}, base)]
    # With the right version the same batch goes through; acks keep request order.
    acks = await write_ok(api, u, obj(coll, "z", {"new": 2}), obj(coll, "m", {"v": 2}, version=base["version"]),
                          obj(coll, "a", {"new": 1}))
    assert [a["key"] for a in acks] == ["z", "m", "a"]
    assert len({(a["create_time"], a["update_time"]) for a in acks if a["key"] != "m"}) == 1


async def test_empty_write_is_an_empty_success(api: Api):
    u = await new_user(api)
    assert_ok(await api.put("/v2/storage", u.token, {}), {})
    assert_ok(await api.put("/v2/storage", u.token, {"objects": []}), {})


async def test_user_id_in_a_write_object_is_ignored(api: Api, coll: str):
    a, b = await new_user(api), await new_user(api)
    ack = (await write_ok(api, a, obj(coll, "k", {"v": 1}, user_id=b.uid, permission_read=2, unknown="x")))[0]
    assert ack["user_id"] == a.uid
    assert await read_objects(api, a, rid(coll, "k", b.uid)) == []
    assert await read_objects(api, b, rid(coll, "k", a.uid)) == [
        expected(coll, "k", a.uid, {"v": 1}, ack, read_perm=2)]


async def test_camel_case_request_fields(api: Api, coll: str):
    u = await new_user(api)
    ack = (await write_ok(api, u, {"collection": coll, "key": "k", "value": "{}",
                                   "permissionRead": 2, "permissionWrite": 0}))[0]
    doc = assert_ok(await api.post("/v2/storage", u.token,
                                   {"objectIds": [{"collection": coll, "key": "k", "userId": u.uid}]}))
    assert doc == {"objects": [expected(coll, "k", u.uid, "{}", ack, read_perm=2, write_perm=0)]}


async def test_value_over_the_request_size_limit(server_factory, db_address: str, coll: str):
    srv = server_factory("--migrate", "--database.address", db_address, "--logger.format", "text",
                         "--socket.max_request_size_bytes", "4096")
    async with aiohttp.ClientSession(skip_auto_headers=["Accept-Encoding"]) as http:
        api = Api(srv.url, http)
        u = await new_user(api)
        r = await write(api, u, obj(coll, "big", {"pad": "x" * 8000}))
        assert_error(r, 400, 3, "http: request body too large")
        # Just under the limit is fine, and the big one was not stored.
        ack = (await write_ok(api, u, obj(coll, "small", {"pad": "x" * 3000})))[0]
        got = await read_objects(api, u, rid(coll, "big", u.uid), rid(coll, "small", u.uid))
        assert got == [expected(coll, "small", u.uid, {"pad": "x" * 3000}, ack)]


# -- read ----------------------------------------------------------------------------------------


async def test_read_validation_and_empty_results(api: Api, coll: str):
    u = await new_user(api)
    await write_ok(api, u, obj(coll, "mine", {"v": 1}))
    assert_ok(await api.post("/v2/storage", u.token, {}), {})
    assert_ok(await read(api, u), {})
    # Without user_id the lookup is for the system user's object, so the caller's is not found.
    assert_ok(await read(api, u, rid(coll, "mine")), {})
    assert_ok(await read(api, u, {"collection": coll, "key": "mine", "user_id": ""}), {})
    assert_ok(await read(api, u, rid(coll, "missing", u.uid)), {})
    for bad in ("not-a-uuid", "1234", SYSTEM, u.uid + "0"):
        assert_error(await read(api, u, rid(coll, "mine", bad)), 400, 3, INVALID_USER)
    assert_error(await read(api, u, rid("", "mine", u.uid)), 400, 3, INVALID_NAMES)
    assert_error(await read(api, u, rid(coll, "", u.uid)), 400, 3, INVALID_NAMES)
    # Objects are checked in request order (names, then user id); the first failure wins.
    assert_error(await read(api, u, rid(coll, "mine", "bad"), rid(coll, "")), 400, 3, INVALID_USER)
    assert_error(await read(api, u, rid(coll, ""), rid(coll, "mine", "bad")), 400, 3, INVALID_NAMES)
    # Asking twice for the same object returns it once.
    got = await read_objects(api, u, rid(coll, "mine", u.uid), rid(coll, "mine", u.uid))
    assert [o["key"] for o in got] == ["mine"]


# -- permissions between users -------------------------------------------------------------------


async def test_read_permissions_between_two_users(api: Api, coll: str):
    a, b = await new_user(api), await new_user(api)
    acks = await write_ok(api, a, obj(coll, "public", permission_read=2),
                          obj(coll, "owner", permission_read=1), obj(coll, "hidden", permission_read=0))
    ids = [rid(coll, k, a.uid) for k in ("public", "owner", "hidden")]

    # B sees only the public object.
    assert await read_objects(api, b, *ids) == [expected(coll, "public", a.uid, {"k": "public"}, acks[0], read_perm=2)]
    # A sees its own read=1 and read=2 objects, never its read=0 one.
    assert await read_objects(api, a, *ids) == [
        expected(coll, "owner", a.uid, {"k": "owner"}, acks[1], read_perm=1),
        expected(coll, "public", a.uid, {"k": "public"}, acks[0], read_perm=2)]
    assert_ok(await read(api, a, ids[2]), {})


async def test_list_permissions_between_two_users(api: Api, coll: str):
    a, b = await new_user(api), await new_user(api)
    a_acks = await write_ok(api, a, obj(coll, "a", permission_read=2), obj(coll, "b", permission_read=1),
                            obj(coll, "c", permission_read=1), obj(coll, "d", permission_read=0),
                            obj(coll, "e", permission_read=2))
    b_acks = await write_ok(api, b, obj(coll, "a", {"by": "b"}, permission_read=2),
                            obj(coll, "x", {"by": "b"}, permission_read=1))
    a_obj = {ack["key"]: expected(coll, ack["key"], a.uid, {"k": ack["key"]}, ack, read_perm=r)
             for ack, r in zip(a_acks, (2, 1, 1, 0, 2), strict=True)}
    b_obj = {ack["key"]: expected(coll, ack["key"], b.uid, {"by": "b"}, ack, read_perm=r)
             for ack, r in zip(b_acks, (2, 1), strict=True)}

    # A lists its own collection: read=1 first, then read=2, each by key; read=0 never shows.
    for r in (await list_(api, a, coll, path_user=a.uid, limit=100),
              await list_(api, a, coll, user_id=a.uid, limit=100)):
        assert_ok(r, {"objects": [a_obj["b"], a_obj["c"], a_obj["a"], a_obj["e"]]})
    # B lists A's collection, by path or by query: public objects only, by key.
    for r in (await list_(api, b, coll, path_user=a.uid, limit=100),
              await list_(api, b, coll, user_id=a.uid, limit=100)):
        assert_ok(r, {"objects": [a_obj["a"], a_obj["e"]]})
    # Without user_id: the public objects of every owner (B's own read=1 is not among them),
    # ordered by key then owner.
    by_owner = sorted([a_obj["a"], b_obj["a"]], key=lambda o: o["user_id"])
    for who in (a, b):
        assert_ok(await list_(api, who, coll, limit=100), {"objects": [*by_owner, a_obj["e"]]})
    # Another user's collection with nothing public is empty: `{}`.
    c = await new_user(api)
    await write_ok(api, c, obj(coll, "private", permission_read=1), obj(coll, "none", permission_read=0))
    assert_ok(await list_(api, a, coll, user_id=c.uid, limit=100), {})
    own = assert_ok(await list_(api, c, coll, user_id=c.uid, limit=100))["objects"]
    assert [o["key"] for o in own] == ["private"]


async def test_system_owned_objects(api: Api, db: str, coll: str):
    await sql(db, "INSERT INTO storage (collection, key, user_id, value, version, read, write) VALUES "
                  "($1, 'pub', $2, '{\"s\": 1}', 'v-pub', 2, 0), ($1, 'own', $2, '{}', 'v-own', 1, 1), "
                  "($1, 'none', $2, '{}', 'v-none', 0, 0)", coll, SYSTEM)
    rows = {r["key"]: r for r in await sql(db, "SELECT key, create_time, update_time FROM storage "
                                               "WHERE collection = $1", coll)}
    t = rows["pub"]["create_time"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    pub = {"collection": coll, "key": "pub", "user_id": SYSTEM, "value": '{"s": 1}', "version": "v-pub",
           "permission_read": 2, "create_time": t, "update_time": t}
    u = await new_user(api)
    # Read without user_id looks up the system user: only the public object is visible.
    assert_ok(await read(api, u, rid(coll, "pub"), rid(coll, "own"), rid(coll, "none")), {"objects": [pub]})
    assert_ok(await read(api, u, rid(coll, "own")), {})
    # Listing the system user's collection (the nil UUID is a valid owner here) or everyone's.
    assert_ok(await list_(api, u, coll, path_user=SYSTEM, limit=10), {"objects": [pub]})
    assert_ok(await list_(api, u, coll, user_id=SYSTEM, limit=10), {"objects": [pub]})
    assert_ok(await list_(api, u, coll, limit=10), {"objects": [pub]})
    # A client cannot delete or overwrite them: its writes go to its own objects.
    assert_error(await delete(api, u, {"collection": coll, "key": "pub"}), 400, 3, REJECTED_DELETE)
    ack = (await write_ok(api, u, obj(coll, "pub", {"mine": True})))[0]
    assert ack["user_id"] == u.uid
    assert_ok(await read(api, u, rid(coll, "pub")), {"objects": [pub]})


# -- list ----------------------------------------------------------------------------------------


async def test_list_limit(api: Api, coll: str):
    u = await new_user(api)
    acks = await write_ok(api, u, obj(coll, "a"), obj(coll, "b"))
    # No limit means one object per page, with a cursor to the next.
    doc = assert_ok(await list_(api, u, coll, user_id=u.uid))
    assert set(doc) == {"objects", "cursor"} and doc["objects"] == [expected(coll, "a", u.uid, {"k": "a"}, acks[0])]
    doc = assert_ok(await list_(api, u, coll, user_id=u.uid, cursor=doc["cursor"]))
    assert doc == {"objects": [expected(coll, "b", u.uid, {"k": "b"}, acks[1])]}
    # Exactly `limit` objects left: no cursor.
    assert "cursor" not in assert_ok(await list_(api, u, coll, user_id=u.uid, limit=2))
    assert "cursor" in assert_ok(await list_(api, u, coll, user_id=u.uid, limit=1))
    for bad in (0, 101, -1, "abc"):
        assert_error(await list_(api, u, coll, user_id=u.uid, limit=bad), 400, 3, INVALID_LIMIT)
    assert len(assert_ok(await list_(api, u, coll, user_id=u.uid, limit=100))["objects"]) == 2
    # A bad user id.
    assert_error(await list_(api, u, coll, user_id="nope", limit=5), 400, 3, INVALID_USER)
    assert_error(await list_(api, u, coll, path_user="nope", limit=5), 400, 3, INVALID_USER)
    # Nothing there: `{}`.
    assert_ok(await list_(api, u, coll + "x", user_id=u.uid, limit=5), {})
    assert_ok(await list_(api, u, coll + "x", limit=5), {})


async def page_through(api: Api, user: User, collection: str, limit: int, **params: Any) -> list[list[str]]:
    pages, cursor = [], None
    for _ in range(50):
        extra = {"cursor": cursor} if cursor else {}
        doc = assert_ok(await list_(api, user, collection, limit=limit, **params, **extra))
        assert set(doc) <= {"objects", "cursor"}
        pages.append([(o["key"], o["user_id"]) for o in doc.get("objects", [])])
        cursor = doc.get("cursor")
        if not cursor:
            return pages
        assert isinstance(cursor, str) and cursor
    raise AssertionError("the cursor never ran out")


async def test_paging_through_25_objects(api: Api, coll: str):
    u = await new_user(api)
    # Mixed read permissions, so the owner's listing crosses from read=1 to read=2 mid-page.
    await write_ok(api, u, *(obj(coll, f"k{i:02d}", permission_read=1 if i % 3 else 2) for i in range(25)))
    pages = await page_through(api, u, coll, 10, user_id=u.uid)
    assert [len(p) for p in pages] == [10, 10, 5]
    keys = [k for p in pages for k, _ in p]
    want = sorted((f"k{i:02d}" for i in range(25)), key=lambda k: (0 if int(k[1:]) % 3 else 1, k))
    assert keys == want and len(set(keys)) == 25

    # Public listing across owners: the same keys written by two users, ties broken by owner.
    v = await new_user(api)
    coll2 = coll + "p"
    await write_ok(api, u, *(obj(coll2, f"k{i:02d}", permission_read=2) for i in range(13)))
    await write_ok(api, v, *(obj(coll2, f"k{i:02d}", permission_read=2) for i in range(12)))
    pages = await page_through(api, v, coll2, 10)
    assert [len(p) for p in pages] == [10, 10, 5]
    seen = [item for p in pages for item in p]
    assert seen == sorted(seen) and len(set(seen)) == 25
    # Another user's public objects, by path.
    pages = await page_through(api, v, coll2, 5, path_user=u.uid)
    assert [len(p) for p in pages] == [5, 5, 3]
    assert [k for p in pages for k, _ in p] == [f"k{i:02d}" for i in range(13)]


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def test_malformed_cursors(api: Api, coll: str):
    u = await new_user(api)
    await write_ok(api, u, obj(coll, "a"), obj(coll, "b"), obj(coll, "c"))
    good = assert_ok(await list_(api, u, coll, user_id=u.uid, limit=1))["cursor"]
    bad = [
        "garbage!!", "%%%", "A", good[:-3] + "@@@", good[:-2], good[1:], good + "=", good + "==",
        b64(b"not json"), b64(b'{"read": 1}'), b64(b"[1, 2, 3]"), b64(b'["1", "a", "x"]'),
        b64(json.dumps([1, "a", "not-a-uuid"]).encode()),
        b64(json.dumps([1, "a"]).encode()),
        b64(json.dumps([True, "a", u.uid]).encode()),
        b64(json.dumps([1.5, "a", u.uid]).encode()),
        b64(json.dumps([99999, "a", u.uid]).encode()),
        b64(json.dumps([-99999, "a", u.uid]).encode()),
        b64(json.dumps([1, "a\u0000", u.uid]).encode()),
        b64(json.dumps([1, None, u.uid]).encode()),
    ]
    for cursor in bad:
        r = await list_(api, u, coll, user_id=u.uid, limit=1, cursor=cursor)
        assert_error(r, 400, 3, MALFORMED_CURSOR)
        r = await list_(api, u, coll, limit=1, cursor=cursor)
        assert_error(r, 400, 3, MALFORMED_CURSOR)
    # The good cursor still works.
    doc = assert_ok(await list_(api, u, coll, user_id=u.uid, limit=1, cursor=good))
    assert [o["key"] for o in doc["objects"]] == ["b"]


# -- delete --------------------------------------------------------------------------------------


async def test_delete(api: Api, coll: str):
    u = await new_user(api)
    acks = await write_ok(api, u, obj(coll, "a"), obj(coll, "b"), obj(coll, "c"))
    assert_ok(await delete(api, u, {"collection": coll, "key": "a"}), {})
    assert_ok(await delete(api, u, {"collection": coll, "key": "b", "version": acks[1]["version"]}), {})
    assert [o["key"] for o in await read_objects(api, u, *(rid(coll, k, u.uid) for k in "abc"))] == ["c"]

    # Wrong version, "*" (compared literally), already deleted, never existed: one message.
    for oid in ({"collection": coll, "key": "c", "version": "0" * 32},
                {"collection": coll, "key": "c", "version": "*"},
                {"collection": coll, "key": "a"},
                {"collection": coll, "key": "a", "version": acks[0]["version"]},
                {"collection": coll + "x", "key": "nothing"}):
        assert_error(await delete(api, u, oid), 400, 3, REJECTED_DELETE)
    assert [o["key"] for o in await read_objects(api, u, rid(coll, "c", u.uid))] == ["c"]

    # Validation and empty requests.
    assert_error(await delete(api, u, {"collection": "", "key": "c"}), 400, 3, INVALID_NAMES)
    assert_error(await delete(api, u, {"collection": coll}), 400, 3, INVALID_NAMES)
    assert_ok(await api.put("/v2/storage/delete", u.token, {}), {})
    assert_ok(await delete(api, u), {})


async def test_delete_is_atomic_and_owner_only(api: Api, coll: str):
    a, b = await new_user(api), await new_user(api)
    acks = await write_ok(api, a, obj(coll, "x", permission_read=2), obj(coll, "y", permission_read=2),
                          obj(coll, "z", permission_read=2))
    # One bad entry (wrong version) in the middle of the batch: nothing is deleted.
    r = await delete(api, a, {"collection": coll, "key": "x"},
                     {"collection": coll, "key": "y", "version": "bad"}, {"collection": coll, "key": "z"})
    assert_error(r, 400, 3, REJECTED_DELETE)
    # One missing entry: nothing is deleted either.
    r = await delete(api, a, {"collection": coll, "key": "x"}, {"collection": coll, "key": "missing"})
    assert_error(r, 400, 3, REJECTED_DELETE)
    assert len(await read_objects(api, a, *(rid(coll, k, a.uid) for k in "xyz"))) == 3
    # B cannot delete A's objects: a delete names no owner, so B's attempt finds nothing of B's.
    r = await delete(api, b, {"collection": coll, "key": "x"}, {"collection": coll, "key": "x", "user_id": a.uid})
    assert_error(r, 400, 3, REJECTED_DELETE)
    assert len(await read_objects(api, b, *(rid(coll, k, a.uid) for k in "xyz"))) == 3
    # A good batch deletes them all.
    assert_ok(await delete(api, a, *({"collection": coll, "key": ack["key"], "version": ack["version"]}
                                     for ack in acks)), {})
    assert_ok(await read(api, a, *(rid(coll, k, a.uid) for k in "xyz")), {})


# -- auth ----------------------------------------------------------------------------------------


async def test_storage_needs_a_session(api: Api, coll: str):
    calls = [("PUT", "/v2/storage", {"objects": [obj(coll, "k")]}),
             ("POST", "/v2/storage", {"object_ids": []}),
             ("GET", f"/v2/storage/{coll}", None),
             ("GET", f"/v2/storage/{coll}/{SYSTEM}", None),
             ("PUT", "/v2/storage/delete", {"object_ids": []})]
    for method, path, body in calls:
        assert_error(await api.call(method, path, json_body=body), 401, 16, "Auth token required")
        assert_error(await api.call(method, path, json_body=body, auth=bearer("garbage")),
                     401, 16, "Auth token invalid")
        assert_error(await api.call(method, path, json_body=body, auth=basic()), 401, 16, "Auth token invalid")
    # Nothing was written.
    u = await new_user(api)
    assert_ok(await list_(api, u, coll, limit=10), {})
