"""The first hop: upgrading from a release without readiness and drain (issue 18, item 10).

What docs/upgrading.md ("The first hop") tells the operator, checked against the previous release
taken from this repository's history: its nodes have no /kizuna/ready, refuse the new
shutdown_drain_sec key, are seen by their connections only, stop the old way, and refuse to start
again once this release's expand migrations are applied.
"""

from __future__ import annotations

import asyncio
import re
import signal
import urllib.error
import urllib.request
from pathlib import Path

import asyncpg
import pytest

from kizuna.ops.nodes import live_nodes
from tests.conftest import free_port, pg_dsn
from tests.upgrade.support import CURRENT, Node, install_previous, kizuna_cli

UPGRADING = Path(__file__).resolve().parents[2] / "docs" / "upgrading.md"
REFUSAL = "the database schema is newer than this release"


@pytest.fixture(scope="module")
def previous(tmp_path_factory) -> list[str]:
    return install_previous(tmp_path_factory.mktemp("previous-release"))


def _first_hop_section() -> str:
    text = UPGRADING.read_text()
    assert "\n## The first hop" in text, "docs/upgrading.md should describe the first hop"
    return text.split("\n## The first hop", 1)[1].split("\n## ", 1)[0]


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_docs_describe_the_first_hop() -> None:
    section = _first_hop_section()
    unwrapped = re.sub(r"\s+", " ", section)
    for fact in ("/kizuna/ready", "0004_chat_notifications", "0005_cluster_node",
                 "take it out of the load balancer", "shutdown_drain_sec", "unknown configuration key",
                 "by their database connections", REFUSAL, "never restart an old node"):
        assert fact in unwrapped, f"the first-hop section should say {fact!r}"


def test_previous_release_through_the_first_hop(previous, db_address, db_name, tmp_path) -> None:
    addr = ["--database.address", db_address]
    r = kizuna_cli(previous, "migrate", "up", *addr)
    assert r.returncode == 0, r.stdout + r.stderr

    # The old release refuses the new key (add it with the new release only).
    r = kizuna_cli(previous, "server", "--shutdown_drain_sec", "5", *addr, timeout=60)
    assert r.returncode != 0 and "unknown configuration key" in r.stdout + r.stderr

    old = Node(previous, "oldnode", free_port(), tmp_path / "old.log").start(*addr)
    try:
        assert _status(old.url + "/healthcheck") == 200
        assert _status(old.url + "/kizuna/ready") == 404  # no readiness: route it on liveness

        # This release's expand migrations, under the old node: it keeps serving.
        r = kizuna_cli(CURRENT, "migrate", "up", *addr)
        assert r.returncode == 0, r.stdout + r.stderr
        assert _status(old.url + "/healthcheck") == 200

        async def seen() -> list:
            conn = await asyncpg.connect(pg_dsn(db_name))
            try:
                return await live_nodes(conn)
            finally:
                await conn.close()
        nodes = asyncio.run(seen())
        assert [(n.name, n.source) for n in nodes] == [("oldnode", "connections")]

        # Stopped the old way, it exits; started again on the old release, it refuses.
        old.signal(signal.SIGTERM)
        assert old.wait(60) == 0, old.log()
        with pytest.raises(RuntimeError) as refused:
            Node(previous, "oldnode", free_port(), tmp_path / "again.log").start(*addr)
        assert REFUSAL in str(refused.value)
        assert "0005_cluster_node" in str(refused.value)
    finally:
        old.kill()
