"""Console benchmark: the console's lists and pages on a game with 1,000,000 accounts.

    .venv/bin/python bench/console.py [--users 1000000] [--objects 1000000] [--samples 200]

Starts its own `kizuna server` on a fresh database of the local PostgreSQL (127.0.0.1:5432, or
$KZ_TEST_PG), loads N accounts (each with a device, an email and a custom id) and N storage
objects straight into the tables, then times each console call one at a time (an operator
clicks; this is latency, not throughput) and prints p50 / p99 / max per call in milliseconds.
Every list must stay index-backed: a call that scans the table shows here as hundreds of ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid

import aiohttp
import asyncpg
from common import PG, BenchServer

LOAD_USERS = """
INSERT INTO users (id, username, display_name, email, custom_id, create_time, update_time)
SELECT md5('u' || i)::uuid, 'player' || lpad(i::text, 7, '0'), 'Player ' || i,
       'player' || lpad(i::text, 7, '0') || '@example.com', 'custom-' || i,
       now() - (i || ' seconds')::interval, now()
FROM generate_series($1::int, $2::int) AS i
"""
LOAD_DEVICES = """
INSERT INTO user_device (id, user_id)
SELECT 'device-' || lpad(i::text, 7, '0'), md5('u' || i)::uuid
FROM generate_series($1::int, $2::int) AS i
"""
LOAD_STORAGE = """
INSERT INTO storage (collection, key, user_id, value, version, read, write, create_time, update_time)
SELECT 'saves', 'slot' || (i % 3), md5('u' || (i / 3 + 1))::uuid,
       jsonb_build_object('level', i % 50, 'coins', i), md5(i::text), 1, 1, now(), now()
FROM generate_series($1::int, $2::int) AS i
ON CONFLICT DO NOTHING
"""
CHUNK = 200_000


async def load(db: str, users: int, objects: int) -> None:
    conn = await asyncpg.connect(f"postgresql://{PG}/{db}")
    try:
        for sql, n, what in ((LOAD_USERS, users, "accounts"), (LOAD_DEVICES, users, "devices"),
                             (LOAD_STORAGE, objects, "storage objects")):
            started = time.monotonic()
            for lo in range(1, n + 1, CHUNK):
                await conn.execute(sql, lo, min(n, lo + CHUNK - 1))
            print(f"loaded {n:,} {what} in {time.monotonic() - started:.1f} s")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def measure(srv: BenchServer, users: int, samples: int) -> None:
    def uid(i: int) -> str:
        import hashlib
        return str(uuid.UUID(hashlib.md5(f"u{i}".encode()).hexdigest()))

    rnd = random.Random(7)
    async with aiohttp.ClientSession() as http:
        async with http.post(srv.console + "/v2/console/authenticate",
                             json={"username": "admin", "password": "password"}) as r:
            token = (await r.json())["token"]
        auth = {"Authorization": f"Bearer {token}"}
        async with http.get(srv.console + "/v2/console/account?limit=100", headers=auth) as r:
            cursor = (await r.json())["next_cursor"]
        pick = lambda: rnd.randint(1, users)  # noqa: E731

        calls = [
            ("account list, first page", lambda: "/v2/console/account?limit=100"),
            ("account list, next page", lambda: f"/v2/console/account?limit=100&cursor={cursor}"),
            ("search username prefix", lambda: f"/v2/console/account?filter=player{pick():07d}"[:-2]),
            ("search exact email", lambda: f"/v2/console/account?field=email&filter=player{pick():07d}@example.com"),
            ("search device id", lambda: f"/v2/console/account?field=device_id&filter=device-{pick():07d}"),
            ("search user id", lambda: f"/v2/console/account?filter={uid(pick())}"),
            ("account view", lambda: f"/v2/console/account/{uid(pick())}"),
            ("account page (HTML)", lambda: f"/accounts/{uid(pick())}"),
            ("storage collections", lambda: "/v2/console/storage/collections"),
            ("storage objects of a collection", lambda: "/v2/console/storage?collection=saves&limit=100"),
            ("storage objects of a user",
             lambda: f"/v2/console/storage?collection=saves&user_id={uid(pick() // 3 + 1)}"),
            ("status", lambda: "/v2/console/status"),
            ("upgrade health", lambda: "/v2/console/upgrade"),
        ]
        print(f"\n{'console call':40} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        for name, path in calls:
            times = []
            for _ in range(samples):
                started = time.perf_counter()
                headers = auth
                url = srv.console + path()
                cookies = {"kizuna_console": token} if not url.split(srv.console)[1].startswith("/v2/") else None
                async with http.get(url, headers=headers, cookies=cookies) as r:
                    await r.read()
                    assert r.status == 200, (url, r.status, await r.text())
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            print(f"{name:40} {statistics.median(times):8.1f} {p99:8.1f} {times[-1]:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--objects", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    with BenchServer(needs_wrk=False) as srv:
        asyncio.run(load(srv.db, args.users, args.objects))
        asyncio.run(measure(srv, args.users, args.samples))


if __name__ == "__main__":
    main()
