"""The node registry (kizuna/ops/nodes.py): one row per node process, liveness from the
heartbeat, stale rows expiring.

Issue 18, item 9: a second node with the same name took over the first one's row and deleted it
when it stopped (the first, still serving, vanished from the registry); a killed node's row stayed
forever, and a later `migrate down` past 0005_cluster_node then needed --force to drop it.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from kizuna.ops import nodes
from kizuna.ops.nodes import ALIVE_SEC, EXPIRE_SEC, Registry, live_nodes
from tests.conftest import free_port, pg_dsn
from tests.upgrade.support import CURRENT, PREVIOUS_HEAD, Node, kizuna_cli


@pytest.fixture
def migrated(db_address: str, db_name: str) -> str:
    r = kizuna_cli(CURRENT, "migrate", "up", "--database.address", db_address)
    assert r.returncode == 0, r.stdout + r.stderr
    return pg_dsn(db_name)


async def _age(conn: asyncpg.Connection, seconds: float) -> None:
    """Every registry row's last heartbeat moved `seconds` into the past (time passing)."""
    await conn.execute("UPDATE kizuna_node SET heartbeat_at = now() - make_interval(secs => $1)",
                       seconds)


async def test_two_processes_with_one_name_keep_a_row_each(migrated: str) -> None:
    pool = await asyncpg.create_pool(migrated, min_size=1, max_size=4)
    try:
        first = Registry(pool, "twin", "0.1.0", "0001_users", "0009_wallet_ledger", "h1:7350")
        second = Registry(pool, "twin", "0.1.0", "0001_users", "0009_wallet_ledger", "h2:7350")
        await first.start()
        await second.start()
        assert first.instance != second.instance
        async with pool.acquire() as conn:
            live = await live_nodes(conn)
        assert sorted((n.name, n.address) for n in live) == [("twin", "h1:7350"), ("twin", "h2:7350")]
        assert {n.instance for n in live} == {first.instance, second.instance}
        assert all(n.schema_newest == "0009_wallet_ledger" for n in live)
        assert all(f"instance {n.instance}" in n.describe() for n in live)

        await second.stop()  # the second stops: the first, still serving, stays registered
        async with pool.acquire() as conn:
            live = await live_nodes(conn)
        assert [(n.name, n.instance, n.address) for n in live] == [
            ("twin", first.instance, "h1:7350")]
        await first.stop()
        async with pool.acquire() as conn:
            assert await live_nodes(conn) == []
            assert await conn.fetchval("SELECT count(*) FROM kizuna_node") == 0
    finally:
        await pool.close()


async def test_liveness_and_expiry_follow_the_heartbeat(migrated: str) -> None:
    assert ALIVE_SEC == nodes.LIVE_INTERVALS * nodes.HEARTBEAT_SEC == 15
    pool = await asyncpg.create_pool(migrated, min_size=1, max_size=4)
    try:
        dead = Registry(pool, "dead", "0.1.0", "0001_users", "0009_wallet_ledger")
        await dead.start()
        dead._task.cancel()  # the process is gone: no more heartbeats, no clean stop
        async with pool.acquire() as conn:
            assert [n.name for n in await live_nodes(conn, expire=False)] == ["dead"]
            # Younger than ALIVE_SEC: still live.
            await _age(conn, ALIVE_SEC - 3)
            assert [n.name for n in await live_nodes(conn, expire=False)] == ["dead"]
            # Older: not live any more, and the row is deleted by whoever looks next.
            await _age(conn, max(ALIVE_SEC, EXPIRE_SEC) + 1)
            assert await live_nodes(conn, expire=False) == []
            assert await conn.fetchval("SELECT count(*) FROM kizuna_node") == 1
            assert await live_nodes(conn) == []
            assert await conn.fetchval("SELECT count(*) FROM kizuna_node") == 0

        # A node's heartbeat deletes stale rows too (no command needs to run).
        await dead.start()
        dead._task.cancel()
        beating = Registry(pool, "beating", "0.1.0", "0001_users", "0009_wallet_ledger")
        await beating.start()
        async with pool.acquire() as conn:
            await conn.execute("UPDATE kizuna_node SET heartbeat_at = now() - interval '1 hour' "
                               "WHERE name = $1", dead.key)
        await beating.heartbeat()
        async with pool.acquire() as conn:
            assert [r["name"] for r in await conn.fetch("SELECT name FROM kizuna_node")] == [
                beating.key]
            # A live node whose row expired (heartbeats failing for a while) registers again.
            await _age(conn, EXPIRE_SEC + 1)
            await live_nodes(conn)
            assert await conn.fetchval("SELECT count(*) FROM kizuna_node") == 0
        await beating.heartbeat()
        async with pool.acquire() as conn:
            assert [(n.name, n.instance) for n in await live_nodes(conn)] == [
                ("beating", beating.instance)]
        await beating.stop()
    finally:
        await pool.close()


def test_a_killed_node_does_not_make_a_downgrade_need_force(migrated: str, db_address: str,
                                                              tmp_path) -> None:
    addr = ["--database.address", db_address]
    node = Node(CURRENT, "killed", free_port(), tmp_path / "node.log").start(*addr)
    node.kill()  # SIGKILL: no drain, no clean stop, the row stays behind

    async def after_the_kill() -> None:
        conn = await asyncpg.connect(migrated)
        try:
            assert await conn.fetchval("SELECT count(*) FROM kizuna_node") == 1
            deadline = time.monotonic() + 20  # its connections leave pg_stat_activity
            while await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE "
                    "'kizuna killed%'") and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            await _age(conn, max(ALIVE_SEC, EXPIRE_SEC) + 1)  # the time a row lives, passed
        finally:
            await conn.close()
    asyncio.run(after_the_kill())

    r = kizuna_cli(CURRENT, "migrate", "down", "--to", PREVIOUS_HEAD, "--no-backup", *addr)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0005_cluster_node" in r.stdout


def test_the_same_name_warning_comes_only_for_a_real_twin(server_factory, db_address: str) -> None:
    # A node's own pool connections carry its name: they are not a twin.
    flags = ["--database.address", db_address, "--logger.format", "text"]
    first = server_factory("--migrate", *flags)
    assert "Another live node uses this node's name" not in first.log()
    second = server_factory(*flags)
    assert "Another live node uses this node's name" in second.log()
    assert "Another live node uses this node's name" not in first.log()
