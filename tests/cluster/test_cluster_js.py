"""The official nakama-js client against a cluster of three `kizuna server` processes on NATS:
the cluster suite (players on different nodes, tests/e2e/js/cluster_nodes.mjs), and the ordinary
end-to-end suites with each socket opened on the next node in turn (KZ_E2E_PORTS), so whatever
two players do together crosses nodes."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.conftest import Cluster, running_cluster

E2E = Path(__file__).resolve().parent.parent / "e2e"
ROOT = E2E.parent.parent
pytestmark = pytest.mark.timeout(300)

# Every module the suites below need, loaded on every node.
MODULES = [ROOT / "docs" / "examples" / "modules" / "tictactoe.py",
           ROOT / "docs" / "examples" / "modules" / "matchmaking.py",
           E2E / "modules" / "streams.py"]
ACROSS = ["realtime", "friends", "groups", "streams", "matches", "matchmaker", "parties"]


def _node(suite: str, env: dict[str, str], cluster: Cluster) -> None:
    node = shutil.which("node")
    assert node, "Node.js is required for the end-to-end tests"
    proc = subprocess.run([node, "--test", "--test-reporter=spec", str(E2E / "js" / suite)],
                          cwd=E2E, capture_output=True, text=True, timeout=280,
                          env={**os.environ, **env})
    if proc.returncode != 0:
        pytest.fail(f"nakama-js suite {suite} failed across nodes:\n{proc.stdout}\n{proc.stderr}"
                    f"\n{cluster.logs()}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    """One cluster for every suite of this file (each suite makes its own players)."""
    tmp_path = tmp_path_factory.mktemp("cluster-js")
    modules = tmp_path / "modules"
    modules.mkdir()
    for f in MODULES:
        shutil.copy(f, modules / f.name)
    with running_cluster(tmp_path) as factory:
        yield factory(3, "--runtime.path", str(modules))


def test_players_on_three_nodes(cluster: Cluster) -> None:
    _node("cluster_nodes.mjs", {"KZ_E2E_PORT": str(cluster.ports[0]),
                               "KZ_CLUSTER_PORTS": ",".join(map(str, cluster.ports))}, cluster)


@pytest.mark.parametrize("suite", ACROSS)
def test_suite_across_nodes(cluster: Cluster, suite: str) -> None:
    _node(f"{suite}.test.mjs", {"KZ_E2E_PORT": str(cluster.ports[0]),
                                "KZ_E2E_PORTS": ",".join(map(str, cluster.ports))}, cluster)
