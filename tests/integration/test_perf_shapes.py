"""The shapes chosen for speed keep their results: storage reads (one statement per batch size,
each with a good generic plan) and the invoker's plain-function calls (a loop timer for the
deadline, no concurrent.futures in between).

Storage reads run against a real, migrated PostgreSQL database through kizuna.core.storage
directly, so that the prepared statements' plans can be read on the one pool connection.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import uuid

import asyncpg
import pytest

from kizuna.core import storage
from kizuna.core.storage import ObjectId, WriteOp, read_objects, write_objects
from kizuna.errors import Code, KizunaError
from kizuna.runtime.errors import Error
from kizuna.runtime.invoke import Invoker, WorkerPool
from kizuna.runtime.registry import Initializer, Registry
from tests.conftest import pg_dsn, run_kizuna

SYSTEM = storage.SYSTEM_USER_ID

# The read before the shapes were split (one join to a DISTINCT unnest): the reference.
REFERENCE = (f"SELECT {storage._COLUMNS} FROM storage s "
             "JOIN (SELECT DISTINCT * FROM unnest($1::text[], $2::text[], $3::uuid[])) "
             "AS q(c, k, u) ON s.collection = q.c AND s.key = q.k AND s.user_id = q.u "
             "WHERE $4::uuid IS NULL OR s.read = 2 OR (s.read = 1 AND s.user_id = $4::uuid) "
             "ORDER BY s.collection, s.key, s.user_id")


@pytest.fixture
def migrated(db_address: str, db_name: str) -> str:
    r = run_kizuna("migrate", "up", "--database.address", db_address)
    assert r.returncode == 0, r.stdout + r.stderr
    return pg_dsn(db_name)


async def _users(pool: asyncpg.Pool, n: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    await pool.executemany("INSERT INTO users (id, username) VALUES ($1, $2)",
                           [(u, f"u{u[:12]}") for u in ids])
    return ids


async def test_storage_read_shapes_match_the_reference_and_use_generic_plans(migrated: str):
    pool = await asyncpg.create_pool(migrated, min_size=1, max_size=1)
    try:
        alice, bob = await _users(pool, 2)
        ops = [WriteOp(c, k, f'{{"n": "{c}{k}{o}{r}"}}', o, permission_read=r)
               for (c, k, o), r in zip(itertools.product(("b", "a", "Z"), ("k2", "k1", "K3"),
                                                         (alice, bob, SYSTEM)),
                                       itertools.cycle((0, 1, 2, 1)), strict=False)]
        await write_objects(pool, ops, authoritative=True)
        everything = [ObjectId(o.collection, o.key, "" if o.user_id == SYSTEM else o.user_id)
                      for o in ops]
        missing = [ObjectId("a", "nope", alice), ObjectId("x" * 200, "k1", alice)]
        batches = [everything[:1], everything[4:5] * 3,  # one object, once or repeated
                   everything[:2], everything[3:9] + missing, everything[:16],
                   everything + missing + everything[:5],  # more than the fixed shapes
                   missing[:1]]

        async def reference(caller: str | None, ids: list[ObjectId]) -> list:
            owners = [i.user_id or SYSTEM for i in ids]
            rows = await pool.fetch(REFERENCE, [i.collection for i in ids],
                                    [i.key for i in ids], owners, caller)
            return [storage._record(r) for r in rows]

        for caller in (None, alice, bob):
            for ids in batches:
                assert await read_objects(pool, caller, ids) == await reference(caller, ids)
        # Enough runs of each shape for the plan cache to settle (five custom plans, then the
        # generic one if it is no dearer): the one-object and fixed-size reads keep generic plans.
        for _ in range(6):
            for ids in (everything[:1], everything[:3]):
                await read_objects(pool, alice, ids)
        plans = {r["statement"]: (r["generic_plans"], r["custom_plans"]) for r in await pool.fetch(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")}
        for shape in (storage._READ_ONE, storage._READ_VALUES[3]):
            generic, custom = plans[shape]
            assert generic >= 1 and custom <= 5, (shape, generic, custom)
    finally:
        await pool.close()


def _fn(fn):
    init = Initializer("m", reg := Registry())
    init.register_rpc("f", fn)
    return reg.rpcs["f"]


async def test_a_plain_function_queued_past_its_deadline_is_not_run_and_run_keeps_errors():
    pool = WorkerPool(1)
    inv = Invoker(pool, timeout=0.2)
    gate = threading.Event()
    ran: list[str] = []

    def blocker(ctx, logger, nk, p):
        gate.wait(10)
        ran.append("blocker")

    def queued(ctx, logger, nk, p):
        ran.append("queued")

    try:
        started = time.monotonic()
        results = await asyncio.gather(inv.call(_fn(blocker), None, None, None, ""),
                                       inv.call(_fn(queued), None, None, None, ""),
                                       return_exceptions=True)
        assert time.monotonic() - started < 5
        for r in results:
            assert isinstance(r, KizunaError) and r.code == Code.DEADLINE_EXCEEDED
            assert r.message == "Function call timed out after 200 ms."
        gate.set()
        assert await inv.call(_fn(lambda ctx, logger, nk, p: p), None, None, None, "x") == "x"
        assert ran == ["blocker"]  # the call whose caller gave up while it waited never ran

        def bug(ctx, logger, nk, p):
            raise KeyError("detail")

        def coded(ctx, logger, nk, p):
            raise Error("nope", 3)

        with pytest.raises(KeyError):  # `run`: as the function raised it
            await inv.run(_fn(bug), None, None, None, "")
        with pytest.raises(Error):
            await inv.run(_fn(coded), None, None, None, "")
        with pytest.raises(KizunaError) as info:  # `call`: a domain error
            await inv.call(_fn(coded), None, None, None, "")
        assert (info.value.code, info.value.message) == (Code.INVALID_ARGUMENT, "nope")

        # A cancelled caller (a client gone) cancels the wait; the worker is free again after.
        task = asyncio.ensure_future(inv.call(_fn(lambda *a: time.sleep(0.05)), None, None, None,
                                              ""))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.1)
        assert await inv.call(_fn(lambda ctx, logger, nk, p: p), None, None, None, "y") == "y"
    finally:
        gate.set()
        pool.close()
