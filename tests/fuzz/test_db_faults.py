"""A database fault under load: every connection of the server is terminated
(pg_terminate_backend) while clients write storage objects. Afterwards the node serves again, and
no acknowledged write is lost: every write the server acknowledged, before or after the fault, is
read back with the version it was acknowledged with. (Revocation after the same fault is covered
in tests/integration/test_sessions_security.py.)
"""

from __future__ import annotations

import asyncio
import time
import uuid

import aiohttp
import asyncpg
import pytest

from tests.integration.nakama_http import Api

pytestmark = pytest.mark.timeout(180)


async def _terminate(db_address: str) -> int:
    database = db_address.rsplit("/", 1)[1]
    conn = await asyncpg.connect(f"postgresql://{db_address.rsplit('/', 1)[0]}/postgres")
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()", database)
        return len(rows)
    finally:
        await conn.close()


async def test_terminated_connections_lose_no_acknowledged_write(server, db_address):
    acked: dict[str, str] = {}  # key -> acknowledged version
    statuses: dict[int, int] = {}
    async with aiohttp.ClientSession() as http:
        api = Api(server.url, http)
        token = (await api.login("device", {"id": f"fault-{uuid.uuid4().hex}"}))["token"]

        async def writer(n: int, stop: asyncio.Event) -> None:
            i = 0
            while not stop.is_set():
                key = f"w{n}-{i}"
                i += 1
                r = await api.put("/v2/storage", token, {"objects": [
                    {"collection": "fault", "key": key, "value": f'{{"i":{i}}}'}]})
                statuses[r.status] = statuses.get(r.status, 0) + 1
                assert r.status < 500 or r.json["code"] in (13, 14), r
                if r.status == 200:
                    acked[key] = r.json["acks"][0]["version"]

        stop = asyncio.Event()
        tasks = [asyncio.create_task(writer(n, stop)) for n in range(8)]
        await asyncio.sleep(1.0)
        killed = 0
        for _ in range(3):  # several faults, a moment apart
            killed += await _terminate(db_address)
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.gather(*tasks)
        assert killed > 0

        # The node serves again (reconnects within a few requests).
        deadline = time.monotonic() + 60
        while True:
            r = await api.get("/v2/account", token)
            if r.status == 200 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert r.status == 200, r
        r = await api.put("/v2/storage", token, {"objects": [
            {"collection": "fault", "key": "after", "value": "{}"}]})
        assert r.status == 200, r
        acked["after"] = r.json["acks"][0]["version"]

        # No acknowledged write is lost.
        uid = (await api.get("/v2/account", token)).json["user"]["id"]
        keys = sorted(acked)
        for start in range(0, len(keys), 100):
            chunk = keys[start:start + 100]
            r = await api.post("/v2/storage", token, {"object_ids": [
                {"collection": "fault", "key": k, "user_id": uid} for k in chunk]})
            assert r.status == 200, r
            got = {o["key"]: o["version"] for o in r.json.get("objects", [])}
            for k in chunk:
                assert got.get(k) == acked[k], (k, got.get(k), acked[k])
    print(f"\nfault: {len(acked)} acknowledged writes all read back; {killed} connections "
          f"terminated; answers {statuses}")
    assert "Traceback" not in server.log(), server.log()[-4000:]
