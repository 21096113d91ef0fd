"""The node's PostgreSQL pool (kizuna/db/pool.py) on a real database: when every connection is
busy, requests get one in the order they asked, however many arrive while others wait; timeouts
and cancellations in the line give their place on; the pool serves on afterwards."""

from __future__ import annotations

import asyncio

import pytest

from kizuna import config as config_mod
from kizuna.db.address import parse_address
from kizuna.db.connect import create_pool
from kizuna.db.pool import FairPool


async def _pool(created_db: str, size: int) -> FairPool:
    cfg = config_mod.load(["--database.max_open_conns", str(size)], env={})
    pool = await create_pool(parse_address(created_db), cfg, min_size=size)
    assert isinstance(pool, FairPool)
    return pool


async def test_waiting_requests_get_connections_in_arrival_order(created_db: str) -> None:
    pool = await _pool(created_db, 2)
    try:
        held = [await pool.acquire(), await pool.acquire()]
        order: list[str] = []

        async def query(name: str, ticks: int = 0) -> None:
            for _ in range(ticks):  # ask that many loop iterations later
                await asyncio.sleep(0)
            async with pool.acquire() as conn:
                order.append(name)
                assert await conn.fetchval("SELECT $1::text", name) == name
                await asyncio.sleep(0.01)

        waiting = []
        for i in range(6):
            waiting.append(asyncio.create_task(query(f"w{i}")))
            await asyncio.sleep(0.005)  # each is in line before the next one asks
        # Connections come back just as newcomers ask: some newcomer asks in the moment between
        # a connection's return and the wake-up of the first in line (asyncpg's own queue gives
        # it the connection then). None goes first.
        late = []
        for i in range(2):
            late += [asyncio.create_task(query(f"late{i}.{k}", k)) for k in range(8)]
            await pool.release(held.pop())
        await asyncio.wait_for(asyncio.gather(*waiting, *late), 10)
        assert order[:6] == ["w0", "w1", "w2", "w3", "w4", "w5"], order
        assert len(order) == 22
        # Everything given back: the whole pool is free again.
        conns = [await asyncio.wait_for(pool.acquire(), 2) for _ in range(2)]
        for c in conns:
            await pool.release(c)
    finally:
        await pool.close()


async def test_a_timeout_or_cancel_in_line_loses_no_place(created_db: str) -> None:
    pool = await _pool(created_db, 1)
    try:
        held = await pool.acquire()
        with pytest.raises(TimeoutError):
            await pool.acquire(timeout=0.05)
        cancelled = asyncio.create_task(pool.fetchval("SELECT 1"))
        await asyncio.sleep(0.02)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        after = asyncio.create_task(pool.fetchval("SELECT 2"))
        await asyncio.sleep(0.02)
        await pool.release(held)
        assert await asyncio.wait_for(after, 2) == 2
        # Releasing twice does not make a second place.
        conn = await pool.acquire()
        await pool.release(conn)
        await pool.release(conn)
        first = await asyncio.wait_for(pool.acquire(), 2)
        with pytest.raises(TimeoutError):
            await pool.acquire(timeout=0.05)
        await pool.release(first)
        assert await asyncio.wait_for(pool.fetchval("SELECT 3"), 2) == 3
    finally:
        await pool.close()
